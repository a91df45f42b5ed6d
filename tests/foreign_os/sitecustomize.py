"""Run this interpreter as if on a system without Linux's own facilities (Windows, mostly).

Put on ``PYTHONPATH`` (``.ci/run`` does, for the suite's second run, and every process the
tests start inherits it): Python imports this module at start-up. It hides what fiscalsafe
must never need: ``/proc``, ``os.statvfs``, ``os.posix_fadvise``,
``signal.pthread_sigmask``, the fork and forkserver start methods. ``shutil.disk_usage``
stays, as on Windows, where it has its own implementation. Run with
``PYTHONIOENCODING=cp850`` for a French Windows console. Tests of a Linux facility itself
(marked ``linux_only``) are left out of that run: what they test does not exist there.
"""

from __future__ import annotations

import builtins
import io
import multiprocessing
import multiprocessing.context
import os
import shutil
import signal
import subprocess
import sys

FOREIGN_OS_ENV = "FISCALSAFE_FOREIGN_OS"


def _called_from_fiscalsafe() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith("fiscalsafe"):
            return True
        frame = frame.f_back
    return False


def _hide_proc() -> None:
    """fiscalsafe finds no ``/proc``; the tests' own probes (which process is a worker, how
    much memory it took) still read it, as they would a Windows API of their own."""
    real_open = builtins.open

    def open_without_proc(file, *args, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)):
            name = os.fsdecode(os.fspath(file))
            if (name == "/proc" or name.startswith("/proc/")) and _called_from_fiscalsafe():
                raise FileNotFoundError(2, "No such file or directory (no /proc here)", name)
        return real_open(file, *args, **kwargs)

    builtins.open = open_without_proc
    io.open = open_without_proc


def _read_children_in_the_console_code_page() -> None:
    """Text read from a child process is decoded as the console's code page
    (``PYTHONIOENCODING``), which is what a child writes there."""
    encoding = os.environ.get("PYTHONIOENCODING", "").partition(":")[0]
    if not encoding:
        return
    real_init = subprocess.Popen.__init__

    def init(self, *args, **kwargs):
        text = kwargs.get("text") or kwargs.get("universal_newlines")
        if text and kwargs.get("encoding") is None:
            kwargs["encoding"] = encoding
        real_init(self, *args, **kwargs)

    subprocess.Popen.__init__ = init


def _keep_disk_usage() -> None:
    statvfs = os.statvfs

    def disk_usage(path):
        st = statvfs(path)
        free = st.f_bavail * st.f_frsize
        total = st.f_blocks * st.f_frsize
        used = (st.f_blocks - st.f_bfree) * st.f_frsize
        return shutil._ntuple_diskusage(total, used, free)

    shutil.disk_usage = disk_usage


def _spawn_only() -> None:
    for method in ("fork", "forkserver"):
        multiprocessing.context._concrete_contexts.pop(method, None)
    spawn = multiprocessing.context.SpawnContext()
    multiprocessing.context._default_context._default_context = spawn
    multiprocessing.context.DefaultContext.get_all_start_methods = lambda self: ["spawn"]
    multiprocessing.get_all_start_methods = lambda: ["spawn"]  # bound at import


def simulate() -> None:
    _keep_disk_usage()
    for name in ("statvfs", "fstatvfs", "posix_fadvise"):
        if hasattr(os, name):
            delattr(os, name)
    if hasattr(signal, "pthread_sigmask"):
        delattr(signal, "pthread_sigmask")
    _spawn_only()
    _hide_proc()
    _read_children_in_the_console_code_page()
    os.environ[FOREIGN_OS_ENV] = "1"


simulate()
