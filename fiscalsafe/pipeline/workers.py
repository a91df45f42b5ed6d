"""The worker processes that verify fiscal signatures on every core.

Where the system has a forkserver (Linux, macOS), workers are forked from it after it has
imported the verification code (``WORKER_MODULE``), so each one is ready in milliseconds
instead of importing it again. ``prestart`` boots that server as the first thing a
checking command does, so its imports run on the second core while the main process
imports the CLI. Elsewhere (Windows), or with ``$FISCALSAFE_START_METHOD=spawn``, each
worker is a fresh interpreter that imports the verification code itself. This module
stays light (the standard library and ``oscompat`` only) so that the entry point can call
it before anything else is imported.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import multiprocessing
import multiprocessing.context
import os
import signal
import threading
from collections.abc import Iterator
from multiprocessing import resource_tracker

from fiscalsafe import i18n, oscompat

#: What every worker runs; the forkserver imports it once, workers inherit it.
WORKER_MODULE = "fiscalsafe.pipeline.fiscal"
#: The server's own set-up (imported by it alone): see its docstring.
SERVER_MODULE = "fiscalsafe.pipeline.worker_server"


def default_workers() -> int:
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


def worker_context() -> multiprocessing.context.BaseContext:
    """The workers' context: forkserver, its server preloading the verification code,
    where the system has it; spawn elsewhere (see ``oscompat.start_method``).

    Forkserver rather than fork: a backup forks workers while its own threads hash and
    write, and forking a threaded process can copy a held lock into the child."""
    context = multiprocessing.get_context(oscompat.start_method())
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload([SERVER_MODULE, WORKER_MODULE])
    return context


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM (and Ctrl-Break) back while worker processes (or their
    server) start.

    Interrupted half-way, a start leaves a worker the pool does not know about (or kills
    the forkserver while it imports), which then prints a traceback after our clean
    "interrupted" message. Where signals can be masked, children inherit the mask, so the
    workers and the forkserver never act on these signals: the parent handles them, and
    the workers leave with it. Elsewhere they are ignored while a worker starts (see
    ``oscompat.signals_blocked``).
    """
    with oscompat.signals_blocked():
        yield


def start_server() -> multiprocessing.context.BaseContext:
    """Start the forkserver (and multiprocessing's resource tracker) if the context has
    them and they are not yet running; the context to create worker processes with.

    The server (or a spawned worker) must start with Ctrl-C and SIGTERM blocked (see
    ``signals_held``). The resource tracker's own start unblocks both when it is done
    (CPython's fix for its own start-up race), which would undo our mask half-way: it is
    started first, on its own.
    Any failure to start is an ``OSError`` naming what could not start.
    """
    try:
        context = worker_context()
        start_resource_tracker()
        if context.get_start_method() != "forkserver":
            return context  # spawn: each worker starts at its first task, within signals_held
        import multiprocessing.forkserver

        with signals_held():
            multiprocessing.forkserver.ensure_running()
    except (OSError, ValueError, AttributeError) as exc:
        raise OSError(
            i18n._("cannot start the signature-verification workers: {error}", error=exc)
        ) from None
    return context


def start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker process where the system has one.

    It restores the signal mask itself once started: outside ours. Where signals cannot
    be masked it starts with them ignored, as workers do, so that a Ctrl-C to the whole
    process group cannot kill it half-way through its imports."""
    if not oscompat.has_resource_tracker():
        return
    if oscompat.can_mask_signals():
        resource_tracker.ensure_running()
    else:
        with signals_held():
            resource_tracker.ensure_running()


def prestart() -> None:
    """Boot the forkserver now, in the background, for a command that will need workers.

    Only a head start: if it cannot start here, the pool starts it later and reports
    the error where it can be handled."""
    if default_workers() > 1 and oscompat.start_method_or_none() == "forkserver":
        with contextlib.suppress(OSError, RuntimeError):
            start_server()


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for one task.

    Decoding an archive allocates a container or two per ticket, each of which counts
    towards the next collection: the collector then ran dozens of times per archive,
    walking every ticket already decoded (1-2 % of a check's time, measured). Nothing a
    task builds needs it (reference counting frees it all); a cycle left over is
    collected once the task is done."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def init_worker(lang: str | None = None) -> None:
    """Worker initializer: speak the parent's language (finding messages are written
    here), Ctrl-C is the parent's to handle, and leave with the parent.

    A terminal sends Ctrl-C to every process of the job: the parent stops the pool and
    cleans up; workers printing their own KeyboardInterrupt tracebacks would only bury
    its message. Pool workers also wait for tasks forever: if fiscalsafe is killed
    (SIGKILL, the OOM killer) they would live on, holding its stdout and stderr open, and
    whatever waits for that output (cron, a CI log, a pipe) would wait forever too.
    """
    if lang is not None:
        i18n.set_language(lang)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A spawned worker starts empty: it imports what a forkserver preloads (already there
    # in a forked worker) now, while the parent is still queuing, not on its first task.
    for module in (SERVER_MODULE, WORKER_MODULE):
        importlib.import_module(module)
    # What the forkserver imported is never garbage: out of the collector's sight, its
    # pages stay shared with the server instead of being copied when a collection
    # walks them.
    gc.freeze()
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="fiscalsafe-parent-watch", daemon=True).start()
