#!/usr/bin/env python3
"""Run the fuzz harnesses on demand, for as long as you like.

    .venv/bin/python fuzz/run.py --list
    .venv/bin/python fuzz/run.py --target journal --seconds 3600
    .venv/bin/python fuzz/run.py --target all --seconds 600      # shared between targets

With ``atheris`` importable (``pip install atheris``), a single target runs under
libFuzzer with coverage guidance, its corpus seeded from valid inputs; otherwise (and
with ``--engine hypothesis``) Hypothesis drives the same harness with seed mutations,
batch after batch until the time is up, remembering failures in ``fuzz/.hypothesis``.

A failure prints the traceback and writes the (shrunk) input to ``fuzz/crashes/``; turn
it into a named regression test in ``tests/test_fuzz.py`` (name the test after the
defect). The short bounded run that CI does is ``tests/test_fuzz.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from fuzz.corpus import Seeds, build_seeds  # noqa: E402
from fuzz.targets import ALLOWED, TARGETS, Target, run_one  # noqa: E402


def save_crash(target: Target, data: bytes) -> Path:
    folder = HERE / "crashes"
    folder.mkdir(exist_ok=True)
    path = folder / f"{target.name}-{hashlib.sha256(data).hexdigest()[:12]}.bin"
    path.write_bytes(data)
    return path


def run_hypothesis(target: Target, seeds: Seeds, seconds: float, batch: int) -> bool:
    import warnings

    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.database import DirectoryBasedExampleDatabase
    from hypothesis.errors import HypothesisWarning

    warnings.filterwarnings("ignore", category=HypothesisWarning)  # "overly large repr"

    from fuzz.strategies import fuzz_inputs

    failing: list[bytes] = []
    strategy = fuzz_inputs(seeds.inputs[target.seeds])

    @settings(
        max_examples=batch,
        deadline=None,
        database=DirectoryBasedExampleDatabase(str(HERE / ".hypothesis")),
        suppress_health_check=list(HealthCheck),
        phases=[Phase.reuse, Phase.generate, Phase.shrink],
    )
    @given(strategy)
    def harness(data: bytes) -> None:
        try:
            run_one(target, data, seeds)
        except BaseException:
            failing.append(data)
            raise

    deadline = time.monotonic() + seconds
    examples = 0
    while time.monotonic() < deadline:
        try:
            harness()
        except Exception as exc:  # noqa: BLE001 - the harness found something
            # Hypothesis notes the failing input's repr: keep the report readable.
            notes = getattr(exc, "__notes__", [])
            exc.__notes__ = [n if len(n) < 400 else n[:400] + " ..." for n in notes]
            traceback.print_exc()
            path = save_crash(target, failing[-1])
            print(f"[{target.name}] FAILURE, input saved to {path}", flush=True)
            return False
        examples += batch
        print(f"[{target.name}] {examples} inputs, no failure", flush=True)
    return True


def run_atheris(target: Target, seeds: Seeds, seconds: float) -> None:
    import atheris

    atheris.instrument_all()  # coverage of every module loaded so far, fiscalsafe included
    corpus = Path(tempfile.mkdtemp(prefix=f"fiscalsafe-corpus-{target.name}-"))
    for index, data in enumerate(seeds.inputs[target.seeds]):
        (corpus / f"seed-{index}").write_bytes(data)
    longest = max(len(data) for data in seeds.inputs[target.seeds])
    (HERE / "crashes").mkdir(exist_ok=True)

    def one_input(data: bytes) -> None:
        try:
            run_one(target, data, seeds)
        except BaseException:
            print(f"input saved to {save_crash(target, data)}", flush=True)
            raise

    atheris.Setup(
        [
            sys.argv[0],
            f"-max_total_time={int(seconds)}",
            f"-max_len={2 * longest + 1024}",
            f"-artifact_prefix={HERE / 'crashes'}/{target.name}-",
            str(corpus),
        ],
        one_input,
    )
    atheris.Fuzz()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="all", help="a target name, or 'all'")
    parser.add_argument("--seconds", type=float, default=60.0, help="total time budget")
    parser.add_argument("--engine", choices=("auto", "atheris", "hypothesis"), default="auto")
    parser.add_argument("--batch", type=int, default=500, help="Hypothesis examples per batch")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    args = parser.parse_args()
    if args.list:
        for t in TARGETS.values():
            print(f"{t.name:15} {t.doc}")
        return 0
    names = list(TARGETS) if args.target == "all" else [args.target]
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown target {unknown[0]!r}; see --list")
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
        except ImportError:
            engine = "hypothesis"
        else:
            engine = "atheris" if len(names) == 1 else "hypothesis"
    print(f"engine {engine}; targets may raise only {', '.join(e.__name__ for e in ALLOWED)}")
    with tempfile.TemporaryDirectory(prefix="fiscalsafe-fuzz-seeds-") as tmp:
        seeds = build_seeds(Path(tmp))
        if engine == "atheris":
            run_atheris(TARGETS[names[0]], seeds, args.seconds)
            return 0
        share = args.seconds / len(names)
        ok = all([run_hypothesis(TARGETS[n], seeds, share, args.batch) for n in names])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
