"""One more trading day on a copy of a benchmark dossier, for the nightly-backup row.

What a day changes in a real dossier before its month is closed: the signed event journal
grows (the day's opening and log-in events, signed with the editor key; the signed head
moves) and the application's database files grow by the day's records. The sealed fiscal
archives do not change: that is what the next backup may remember.

    python3 bench/one_more_day.py DOSSIER KEYS_FOLDER [--bytes N]
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from fiscalsafe.crypto import load_signing_key_pem
from fiscalsafe.samples.continuation import add_journal_day


def add_day(dossier: Path, keys: Path, bulk_bytes: int) -> str:
    signer = load_signing_key_pem((keys / "editor.key").read_bytes())
    day = add_journal_day(dossier, signer)
    # The database grows by the day's records: the tail of its largest file, once more.
    largest = max((p for p in dossier.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    with largest.open("rb+") as fh:
        size = fh.seek(0, io.SEEK_END)
        fh.seek(max(0, size - bulk_bytes))
        tail = fh.read(bulk_bytes)
        fh.seek(0, io.SEEK_END)
        fh.write(tail)
    return f"{day}: 2 journal records, {len(tail)} bytes added to {largest.name}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dossier", type=Path)
    ap.add_argument("keys", type=Path)
    ap.add_argument("--bytes", type=int, default=512 * 1024)
    args = ap.parse_args()
    print(add_day(args.dossier, args.keys, args.bytes))


if __name__ == "__main__":
    main()
