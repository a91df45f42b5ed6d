"""The signature workers' server: started early, preloaded, deaf to Ctrl-C while it starts.

Each test runs in a fresh interpreter: a forkserver belongs to the process that started
it, and these tests look at (and must not disturb) that process's children.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from fiscalsafe.pipeline.workers import WORKER_MODULE

SHOW_SERVER = """
import os, signal, sys, time
from pathlib import Path
from fiscalsafe.pipeline import workers
workers.default_workers = lambda: 2  # as on any multi-core machine
workers.prestart()
own = signal.pthread_sigmask(signal.SIG_BLOCK, set())
assert signal.SIGINT not in own and signal.SIGTERM not in own, own  # ours is unchanged
deadline = time.monotonic() + 30
while time.monotonic() < deadline:  # a child shows its own command line once exec'd
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(bytes(1), b" ")
            if b"multiprocessing.forkserver import main" in cmdline:
                status = Path(f"/proc/{child}/status").read_text().splitlines()
                mask = int(next(l for l in status if l.startswith("SigBlk:")).split()[1], 16)
                print(cmdline.decode())
                held = [bool(mask >> (s - 1) & 1) for s in (signal.SIGINT, signal.SIGTERM)]
                print("blocked", *held)
                sys.exit(0)
    time.sleep(0.01)
"""


@pytest.mark.linux_only  # the forkserver and its signal mask
def test_prestart_boots_the_server_preloaded_and_deaf_to_ctrl_c() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SHOW_SERVER], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2, out.stdout
    # The server imports the verification code once; workers fork from it ready to go.
    assert WORKER_MODULE in lines[0]
    # multiprocessing's resource tracker unblocks SIGINT and SIGTERM after its own start;
    # started inside our mask, it would let Ctrl-C reach the server mid-import (a
    # "Fatal Python error" traceback after our clean "interrupted").
    assert lines[1] == "blocked True True"


INTERRUPT_WHILE_LOADING = """
import sys
class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == "fiscalsafe.cli.main":
            raise KeyboardInterrupt
sys.meta_path.insert(0, Interrupt())
sys.argv = ["fiscalsafe", "check", "/nonexistent"]
from fiscalsafe.cli.entry import run
run()
"""


def test_ctrl_c_while_the_cli_loads_is_a_clean_interrupt() -> None:
    out = subprocess.run(
        [sys.executable, "-c", INTERRUPT_WHILE_LOADING], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 3
    assert "interrupted" in out.stderr
    assert "Traceback" not in out.stderr, out.stderr


def test_cyclic_gc_is_paused_for_a_task_and_restored_after() -> None:
    import gc

    from fiscalsafe.pipeline.workers import cyclic_gc_paused

    assert gc.isenabled()
    with cyclic_gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    try:
        with cyclic_gc_paused():
            raise ValueError("a task that fails")
    except ValueError:
        pass
    assert gc.isenabled()
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()  # a caller's own choice is left alone
    finally:
        gc.enable()


SHOW_WORKER_GC = """
from concurrent.futures import ProcessPoolExecutor
from fiscalsafe.pipeline import fiscal, workers
def state():
    import gc
    return gc.get_freeze_count() > 0, gc.isenabled()
if __name__ == "__main__":
    with ProcessPoolExecutor(1, mp_context=workers.start_server(),
                             initializer=workers.init_worker) as pool:
        print(*pool.submit(state).result())
"""


def test_workers_freeze_what_the_server_imported(tmp_path) -> None:
    script = tmp_path / "show.py"
    script.write_text(SHOW_WORKER_GC)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # Frozen: collections in the worker never walk (and so never copy) the server's pages;
    # the collector itself stays on between tasks.
    assert out.stdout.split() == ["True", "True"]


ORPHANED_SPAWN = """
import os
from multiprocessing import forkserver
from fiscalsafe.pipeline import workers
workers.start_server()
# Ask the server for a worker, then never send it its start-up data: what a worker being
# spawned sees when the command that asked for it is killed (kill -9, the OOM killer).
status_r, data_w = forkserver._forkserver.connect_to_new_process([])
os.close(data_w)
pid = forkserver.read_signed(status_r)
code = forkserver.read_signed(status_r)
print("exited", code != 0)
"""


@pytest.mark.linux_only  # a forkserver's worker
def test_a_worker_whose_command_died_while_it_started_leaves_quietly() -> None:
    # A half-spawned worker that finds its start-up pipe empty (its command was killed)
    # must not print multiprocessing's EOFError traceback into the command's output.
    out = subprocess.run(
        [sys.executable, "-c", ORPHANED_SPAWN], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["exited", "True"]
    assert "Traceback" not in out.stderr and "EOFError" not in out.stderr, out.stderr


SERVER_HOOK = """
import fiscalsafe.pipeline.worker_server
raise {error}("the error")
"""


def test_the_server_hook_silences_only_an_orphaned_pipe() -> None:
    quiet = subprocess.run(
        [sys.executable, "-c", SERVER_HOOK.format(error="EOFError")], capture_output=True, text=True
    )
    assert quiet.returncode == 1 and quiet.stderr == ""
    loud = subprocess.run(
        [sys.executable, "-c", SERVER_HOOK.format(error="ValueError")],
        capture_output=True,
        text=True,
    )
    assert loud.returncode == 1 and "ValueError: the error" in loud.stderr
