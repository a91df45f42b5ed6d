#!/usr/bin/env python3
"""Make the sample verification report shown in the README, and its screenshot.

    .venv/bin/python docs/make_sample_report.py

A seven-year sample of two shops, backed up to a pretend USB stick; MAG001's middle
fiscal archive is then removed (and backed up anyway, with --allow-findings), so the
report shows one proven dossier and one with a month not covered. Fixed seed and clock:
the same code makes the same files. Writes docs/rapport-exemple.{html,pdf,png}.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
NOW = "2026-11-27T20:00:00+00:00"


def fiscalsafe(cwd: Path, *args: str, ok: tuple[int, ...] = (0,)) -> None:
    env = {**os.environ, "FISCALSAFE_NOW": NOW, "FISCALSAFE_PASSPHRASE": ""}
    env["FISCALSAFE_STATE_DIR"] = str(cwd / "state")
    env["FISCALSAFE_TRUST_DIR"] = str(cwd / "no-trust-folder")
    code = subprocess.run([sys.executable, "-m", "fiscalsafe", *args], cwd=cwd, env=env).returncode
    if code not in ok:
        sys.exit(f"fiscalsafe {' '.join(args)}: exit {code}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        common = ["--seed", "7", "--until", "2026-11-27", "--years", "7", "--size", "256KB"]
        fiscalsafe(work, "sample", "sample", *common, "--tickets-per-day", "1")
        fiscalsafe(work, "sample", "damaged", *common, "--tickets-per-day", "1",
                   "--tamper", "archive-removed")  # fmt: skip
        shutil.rmtree(work / "sample" / "dossiers" / "MAG001")
        shutil.copytree(work / "damaged" / "dossiers" / "MAG001", work / "sample/dossiers/MAG001")
        (work / "usb").mkdir()
        keys = ["--key", "sample/keys/shop.key", "--trust", "sample/keys/editor.pub"]
        fiscalsafe(work, "backup", "sample/dossiers/MAG002", "--to", "usb", *keys)
        fiscalsafe(work, "backup", "sample/dossiers/MAG001", "--to", "usb", *keys,
                   "--allow-findings")  # fmt: skip
        fiscalsafe(work, "keys", "generate", "--out", "auditor", "--name", "auditor",
                   "--no-passphrase")  # fmt: skip
        for kind in ("html", "pdf"):
            fiscalsafe(
                work, "verify", "usb", "--key", "sample/keys/shop.pub", "--trust",
                "sample/keys/editor.pub", "--evidence", "rapport-exemple.json",
                "--report", f"rapport-exemple.{kind}", "--lang", "fr",
                "--auditor", "Marie Dupont-Lefèvre", "--auditor-key", "auditor/auditor.key",
                ok=(1,),
            )  # fmt: skip
            shutil.copy(work / f"rapport-exemple.{kind}", DOCS / f"rapport-exemple.{kind}")
        browser = shutil.which("chromium") or sys.exit("chromium is not installed")
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={work / 'profile'}", "--hide-scrollbars",
             f"--screenshot={DOCS / 'rapport-exemple.png'}", "--window-size=900,1900",
             (work / "rapport-exemple.html").as_uri()],
            check=True, capture_output=True,
        )  # fmt: skip


if __name__ == "__main__":
    main()
