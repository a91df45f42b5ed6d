"""What people read: one coverage sentence in check, backup, verify and list; messages
that say what happened, why, and what is safe."""

from __future__ import annotations

import backup_support as bs
import pytest

pytestmark = pytest.mark.usefixtures("one_worker")


def coverage_line(out: str) -> str:
    return next(line.strip() for line in out.splitlines() if line.strip().startswith("coverage:"))


# --- one coverage sentence -------------------------------------------------------------


def test_check_says_which_window_is_required(w):
    r = bs.invoke("check", w.dossier, "--trust", w.editor, "--years", "1", "--as-of", "2026-11-27")
    assert r.code == 0, r
    assert coverage_line(r.out).startswith(
        "coverage: 1 year required, 2025-11-27 to 2026-11-27, up to the --as-of date; "
        "verified records cover "
    )
    assert "last recorded operation 2026-11-26" in coverage_line(r.out)


def test_verify_words_coverage_the_same_way_from_the_backups_creation(w):
    r = bs.invoke("verify", w.archive, "--key", w.shop_pub, "--trust", w.editor, "--years", "1")
    assert r.code == 0, r
    line = coverage_line(r.out)
    assert line.startswith(
        "coverage: 1 year required, 2025-11-27 to 2026-11-27, up to the day the backup was "
        "made; verified records cover "
    )
    assert "last recorded operation 2026-11-26" in line


def test_list_words_the_sidecars_claim_in_the_same_sentence(w):
    r = bs.invoke("list", w.backup_dir)
    assert r.code == 0, r
    line = coverage_line(r.out)
    assert line.startswith(
        "coverage: 6 years required, 2020-11-27 to 2026-11-27, up to the day the backup was made"
    )
    assert "the signed sidecar claims records covering" in line
    assert line.endswith("last recorded operation 2026-11-26")
