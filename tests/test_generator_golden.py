"""The sample generator's golden output: the same seed and dates give the same bytes, on
any machine and any day. The committed list holds every file's SHA-256, size, mtime and
mode; regenerate it only when a format changes on purpose (and bump its version)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from fiscalsafe.samples.sample import write_sample

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "sample-seed1-2y.sha256"


def test_generator_reproduces_the_committed_sample(tmp_path):
    root = tmp_path / "s"
    write_sample(
        root, seed=1, years=2, until=dt.date(2026, 11, 27), size=256 * 1024, tickets_per_day=2
    )
    got = []
    for p in sorted(root.rglob("*")):
        if p.is_file():
            st = p.stat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
            rel = p.relative_to(root).as_posix()
            got.append(
                f"{digest}  {st.st_size:>9}  {st.st_mtime_ns}  {oct(st.st_mode & 0o777)}  {rel}"
            )
    expected = [line for line in GOLDEN.read_text().splitlines() if not line.startswith("#")]
    assert got == expected
