"""fiscalsafe's nightly backup beside restic's and borg's, on the same benchmark dossier.

For each tool: a first backup into an empty repository (or onto an empty medium), a
second backup of the unchanged dossier (each tool's normal incremental run: restic and
borg skip files whose size and time did not change; fiscalsafe re-reads and re-packages
everything and reuses its remembered proofs), and a second backup that re-reads every
file (restic --force, borg --files-cache=disabled). Every command starts after a sync.

    nice -n 19 python3 bench/compare_backup_tools.py [--size 1GB] [--work bench/out]

Prints a table and writes bench/out/compare-*.json. The sample is bench/run's (generated
on first use, cached in --work).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import UNTIL, make_sample  # noqa: E402
from fiscalsafe.cli.options import parse_size  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def run(cmd: list[str], env: dict | None = None) -> float:
    os.sync()
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def version(cmd: list[str]) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[0]


def restic(dossier: Path, work: Path) -> dict:
    repo = work / "restic-repo"
    env = {**os.environ, "RESTIC_PASSWORD": "bench", "RESTIC_REPOSITORY": str(repo),
           "RESTIC_CACHE_DIR": str(work / "restic-cache")}  # fmt: skip
    subprocess.run(["restic", "init"], check=True, env=env, capture_output=True)
    base = ["restic", "backup", "--quiet", str(dossier)]
    return {
        "version": version(["restic", "version"]),
        "first_s": run(base, env),
        "second_s": run(base, env),
        "second_full_read_s": run([*base, "--force"], env),
    }


def borg(dossier: Path, work: Path) -> dict:
    repo = work / "borg-repo"
    env = {**os.environ, "BORG_REPO": str(repo), "BORG_PASSPHRASE": "bench",
           "BORG_BASE_DIR": str(work / "borg-base")}  # fmt: skip
    subprocess.run(
        ["borg", "init", "--encryption=repokey-blake2"], check=True, env=env, capture_output=True
    )
    return {
        "version": version(["borg", "--version"]),
        "first_s": run(["borg", "create", "::first", str(dossier)], env),
        "second_s": run(["borg", "create", "::second", str(dossier)], env),
        "second_full_read_s": run(
            ["borg", "create", "--files-cache=disabled", "::third", str(dossier)], env
        ),
    }


def fiscalsafe(dossier: Path, keys: Path, work: Path) -> dict:
    env = {**os.environ, "FISCALSAFE_STATE_DIR": str(work / "fiscalsafe-state"),
           "FISCALSAFE_NOW": f"{UNTIL.isoformat()}T20:00:00+00:00"}  # fmt: skip
    medium = work / "fiscalsafe-usb"
    medium.mkdir()
    base = [sys.executable, "-m", "fiscalsafe", "backup", str(dossier), "--to", str(medium),
            "--key", str(keys / "shop.key"), "--trust", str(keys / "editor.pub")]  # fmt: skip
    from fiscalsafe import __version__

    return {
        "version": f"fiscalsafe {__version__}",
        "first_s": run([*base, "--name", "first"], env),
        # fiscalsafe always re-reads every file: its second backup is a full re-read.
        "second_s": run([*base, "--name", "second"], env),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1GB")
    ap.add_argument("--work", default=str(ROOT / "bench" / "out"))
    args = ap.parse_args()
    work = Path(args.work)
    root = make_sample(work, parse_size(args.size), 200, 7)
    dossier, keys = root / "dossiers" / "MAG001", root / "keys"
    scratch = work / "compare"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    results = {
        "fiscalsafe": fiscalsafe(dossier, keys, scratch),
        "restic": restic(dossier, scratch),
        "borg": borg(dossier, scratch),
    }
    shutil.rmtree(scratch, ignore_errors=True)
    doc = {"when": dt.datetime.now(dt.UTC).isoformat(), "size": args.size, "tools": results}
    out = work / f"compare-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(doc, indent=2))
    print(f"{'tool':40s} first s  second s  second, full re-read s")
    for r in results.values():
        full = r.get("second_full_read_s", r["second_s"])
        print(f"{r['version'][:40]:40s} {r['first_s']:7.2f}  {r['second_s']:8.2f}  {full:8.2f}")
    print(f"\nJSON result: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
