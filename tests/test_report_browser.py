"""The HTML report in a real browser (Debian's chromium, headless; ``.ci/run`` installs it).

Two browser runs only (each start costs seconds): the DOM as chromium builds it from the
damaged medium's report, and a screenshot. Nothing in the page may reach the network:
the page's own Content-Security-Policy forbids it, and the browser runs with its
background networking off.
"""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

import pytest
import report_support as rs
from conftest import stock_tool

pytestmark = pytest.mark.usefixtures("one_worker")
BROWSER_TIMEOUT = 120


def chromium(profile: Path, *args: str | Path) -> subprocess.CompletedProcess:
    """Headless chromium with everything that would talk to the network switched off."""
    return subprocess.run(
        [
            stock_tool("chromium"),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *map(str, args),
        ],
        capture_output=True,
        timeout=BROWSER_TIMEOUT,
        check=False,
    )


def test_browser_dom_shows_verdicts_timeline_and_fingerprints(w, tmp_path_factory, tmp_path):
    made = rs.damaged(w, tmp_path_factory)
    proc = chromium(tmp_path / "profile", "--dump-dom", made.report.as_uri())
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    dom = proc.stdout.decode("utf-8")
    # verdicts: the dossier's conclusion, its heading and the backup's row
    assert rs.elements(dom, "li", class_="conclusion findings", **{"data-dossier": "MAG001"})
    assert rs.elements(dom, "section", class_="dossier", **{"data-verdict": "findings"})
    (row,) = rs.elements(dom, "td", class_="verdict findings")
    assert "NON VÉRIFIÉ" in dom
    # the timeline: one cell per month of the three years asked for, one not covered
    months = rs.elements(dom, "rect")
    assert len(months) == 37
    assert [m["data-month"] for m in months if m["class"] == "gap"] == ["2025-11"]
    assert sum(m["class"] == "before-genesis" for m in months) == 12
    # fingerprints of the shop key and the editor key, in full
    shop = rs.elements(dom, "code", class_="fingerprint", **{"data-role": "shop"})
    editor = rs.elements(dom, "code", class_="fingerprint", **{"data-role": "editor"})
    assert len(shop) == 1 and len(editor) == 1
    assert re.search(r'data-role="shop">SHA256:[0-9a-f]{64}<', dom)
    assert re.search(r'data-role="editor">SHA256:[0-9a-f]{64}<', dom)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_browser_renders_a_screenshot_of_the_report(w, tmp_path_factory, tmp_path):
    made = rs.good(w, tmp_path_factory)
    shot = tmp_path / "report.png"
    proc = chromium(
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=900,1400",
        "--hide-scrollbars",
        made.report.as_uri(),
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    assert png_size(shot.read_bytes()) == (900, 1400)
    assert shot.stat().st_size > 20_000  # a drawn page, not a blank one


def test_the_readme_shows_the_sample_screenshot():
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    (image,) = re.findall(r"!\[[^\]]*\]\((docs/[^)]+\.png)\)", readme)
    width, height = png_size((root / image).read_bytes())
    assert width >= 800 and height >= 800


def test_the_sample_reports_are_what_this_version_draws():
    """docs/make_sample_report.py made them: a change to the report's text makes them stale."""
    from fiscalsafe.report.check import check_report

    docs = Path(__file__).resolve().parents[1] / "docs"
    for name in ("rapport-exemple.html", "rapport-exemple.pdf"):
        result = check_report(docs / name, None, None)
        assert [f.code for f in result.findings] == ["REPORT_SIGNATURE_UNCHECKED"], name
        assert result.verdict == "findings" and result.auditor == "Marie Dupont-Lefèvre"
