"""Progress where people wait: verify and restore show bytes and signatures, backup its
stages from the start; nothing animated when the output is not a terminal."""

from __future__ import annotations

import io

import backup_support as bs
import pytest
from rich.console import Console

from fiscalsafe.cli import render

pytestmark = pytest.mark.usefixtures("one_worker")


class Terminal(Console):
    """An interactive terminal, whatever ``TERM`` the in-process runs set."""

    is_dumb_terminal = False


@pytest.fixture
def terminal(monkeypatch):
    """Standard error as a terminal; returns what was drawn on it."""
    screen = io.StringIO()
    console = Terminal(
        file=screen, force_terminal=True, force_interactive=True, width=200, highlight=False
    )
    monkeypatch.setattr(render, "err_console", console)
    return screen


@pytest.fixture
def not_a_terminal(monkeypatch):
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=False, width=200, highlight=False)
    monkeypatch.setattr(render, "err_console", console)
    return screen


def test_the_signature_totals_count_what_a_check_verified(w):
    from fiscalsafe.formats.dossier import DEFAULT_PROFILE
    from fiscalsafe.pipeline import signature_progress
    from fiscalsafe.pipeline.check import check_dossier

    start = signature_progress.totals()
    report = check_dossier(
        w.dossier, as_of=bs.NOW, years=1, trust=[w.editor], profile=DEFAULT_PROFILE
    )
    done = signature_progress.totals().since(start)
    assert done.signatures == report.stats["signatures_verified"] > 0
    assert done.checked == done.queued == report.stats["archives"] + 1  # and the journal


def test_verify_shows_bytes_and_signatures_on_a_terminal(w, terminal):
    r = bs.invoke("verify", w.archive, "--key", w.shop_pub, "--trust", w.editor, "--years", "1")
    assert r.code == 0, r
    drawn = terminal.getvalue()
    assert f"verifying {w.archive.name}" in drawn
    assert " signatures (" in drawn and " files)" in drawn
    assert " kB" in drawn or " MB" in drawn


def test_restore_shows_its_progress_on_a_terminal(w, terminal, tmp_path):
    r = bs.restore_cli(w, w.archive, tmp_path / "restored")
    assert r.code == 0, r
    drawn = terminal.getvalue()
    assert f"verifying and restoring {w.archive.name}" in drawn and " signatures (" in drawn


def test_backup_shows_its_stages_from_the_start(w, terminal, tmp_path):
    r = bs.invoke(
        "backup", w.dossier, "--to", tmp_path / "usb", "--key", w.shop_key,
        "--trust", w.editor, "--years", "1",
    )  # fmt: skip
    assert r.code == 0, r
    drawn = terminal.getvalue()
    stages = [
        "reading MAG001, estimating its size",
        "packaging MAG001",
        "reading MAG001 back",
    ]
    positions = [drawn.find(stage) for stage in stages]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), positions
    assert " signatures (" in drawn


def test_nothing_is_animated_when_output_is_not_a_terminal(w, not_a_terminal, tmp_path):
    r = bs.invoke("verify", w.archive, "--key", w.shop_pub, "--trust", w.editor, "--years", "1")
    assert r.code == 0, r
    assert not_a_terminal.getvalue() == ""
