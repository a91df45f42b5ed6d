"""Run this interpreter as if on a system without Linux's own facilities (Windows, mostly).

Put on ``PYTHONPATH`` (``.ci/run`` does, for the suite's second run, and every process the
tests start inherits it): Python imports this module at start-up. It hides what fiscalsafe
must never need: ``/proc``, ``os.statvfs``, ``os.posix_fadvise``,
``signal.pthread_sigmask``, the fork and forkserver start methods. ``shutil.disk_usage``
stays, as on Windows, where it has its own implementation. Run with
``PYTHONIOENCODING=cp850`` for a French Windows console.
"""

from __future__ import annotations

import builtins
import io
import multiprocessing
import multiprocessing.context
import os
import shutil
import signal

FOREIGN_OS_ENV = "FISCALSAFE_FOREIGN_OS"


def _hide_proc() -> None:
    real_open = builtins.open

    def open_without_proc(file, *args, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)):
            name = os.fsdecode(os.fspath(file))
            if name == "/proc" or name.startswith("/proc/"):
                raise FileNotFoundError(2, "No such file or directory (no /proc here)", name)
        return real_open(file, *args, **kwargs)

    builtins.open = open_without_proc
    io.open = open_without_proc


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
    os.environ[FOREIGN_OS_ENV] = "1"


simulate()
