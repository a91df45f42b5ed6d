"""The worker processes that verify fiscal signatures on every core.

Workers are forked from a multiprocessing forkserver that has already imported the
verification code (``WORKER_MODULE``), so each one is ready in milliseconds instead of
importing it again. ``prestart`` boots that server as the first thing a checking command
does, so its imports run on the second core while the main process imports the CLI. This
module stays light (standard library only) so that the entry point can call it before
anything else is imported.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import os
import signal
import threading
from collections.abc import Iterator
from multiprocessing import resource_tracker

#: What every worker runs; the forkserver imports it once, workers inherit it.
WORKER_MODULE = "fiscalsafe.pipeline.fiscal"
#: The server's own set-up (imported by it alone): see its docstring.
SERVER_MODULE = "fiscalsafe.pipeline.worker_server"


def default_workers() -> int:
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


def worker_context() -> multiprocessing.context.BaseContext:
    """The forkserver context, its server preloading the verification code.

    Forkserver rather than fork: a backup forks workers while its own threads hash and
    write, and forking a threaded process can copy a held lock into the child."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([SERVER_MODULE, WORKER_MODULE])
    return context


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back while worker processes (or their server) start.

    Interrupted half-way, a start leaves a worker the pool does not know about (or kills
    the forkserver while it imports), which then prints a traceback after our clean
    "interrupted" message. Children inherit the mask, so the workers and the forkserver
    never act on these signals: the parent handles them, and the workers leave with it.
    """
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def start_server() -> multiprocessing.context.BaseContext:
    """Start the forkserver (and multiprocessing's resource tracker) if not yet running;
    the context to create worker processes with.

    The server must start with Ctrl-C and SIGTERM blocked (see ``signals_held``). The
    resource tracker's own start unblocks both when it is done (CPython's fix for its own
    start-up race), which would undo our mask half-way: it is started first, on its own.
    """
    resource_tracker.ensure_running()
    with signals_held():
        context = worker_context()
        multiprocessing.forkserver.ensure_running()
    return context


def prestart() -> None:
    """Boot the forkserver now, in the background, for a command that will need workers.

    Only a head start: if it cannot start here, the pool starts it later and reports
    the error where it can be handled."""
    if default_workers() > 1:
        with contextlib.suppress(OSError):
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


def init_worker() -> None:
    """Worker initializer: Ctrl-C is the parent's to handle, and leave with the parent.

    A terminal sends Ctrl-C to every process of the job: the parent stops the pool and
    cleans up; workers printing their own KeyboardInterrupt tracebacks would only bury
    its message. Pool workers also wait for tasks forever: if fiscalsafe is killed
    (SIGKILL, the OOM killer) they would live on, holding its stdout and stderr open, and
    whatever waits for that output (cron, a CI log, a pipe) would wait forever too.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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
