"""The specification's "what version 1.0 does not check" lists against the checks that exist.

An outside verifier relies on these lists to know where it may be stricter; a list that
names as unchecked something fiscalsafe does check (or a code that does not exist) sends it
astray. Each check that such a list once wrongly named is probed here on the golden
dossier, altered and signed again with the golden editor key, and must raise its code; the
lists must not name it as unchecked; and every code a list cites must exist.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from fiscalsafe.crypto import derive_signing_key
from fiscalsafe.formats import journal as fj
from fiscalsafe.formats.packing import pack, unpack
from fiscalsafe.pipeline.check import check_dossier
from fiscalsafe.verify.codes import CODES

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
GOLDEN = ROOT / "fixtures" / "golden"
AS_OF = dt.datetime(2025, 4, 2, tzinfo=dt.UTC)
PAGES = ["fiscal-archive.md", "journal.md"]


def unchecked_list(page: str) -> str:
    text = (SCHEMAS / page).read_text()
    (section,) = re.findall(
        r"^### What version 1\.0 does not check.*?(?=^## |^### )", text, re.M | re.S
    )
    return section


def editor():
    return derive_signing_key(b"golden-editor")


def golden_copy(tmp_path: Path) -> Path:
    dossier = tmp_path / "GOLD01"
    shutil.copytree(GOLDEN / "dossier", dossier)
    return dossier


def check_codes(dossier: Path) -> set[str]:
    report = check_dossier(
        dossier, as_of=AS_OF, years=1, trust=[GOLDEN / "keys" / "editor.pub"], workers=1
    )
    return {f.code for f in report.findings}


def resign_head(folder: Path, **changes) -> None:
    path = folder / "jet" / "journal.head"
    head = fj.parse_head(path.read_bytes())
    fields = {
        "dossier": head.dossier,
        "seq": head.seq,
        "ts": head.ts,
        "last_sig_sha256": head.last_sig_sha256,
        "alg": head.alg,
        "key_id": head.key_id,
    } | changes
    body = fj.encode_head_body(**fields)
    path.write_bytes(pack([body, editor().sign(body)]))


def rewrite_journal_header(dossier: Path, dossier_id: str) -> None:
    path = dossier / "jet" / "journal.jet"
    data = path.read_bytes()
    old = fj.encode_header("GOLD01")
    assert data.startswith(old)
    path.write_bytes(fj.encode_header(dossier_id) + data[len(old) :])


def resign_closure_tickets(dossier: Path, kind: str, tickets: int) -> None:
    path = dossier / "archives" / "A000001.fsa"
    envelope = unpack(path.read_bytes(), "archive")
    body = unpack(envelope["body"], "archive body")
    (closure,) = [c for c in body["closures"] if c["kind"] == kind]
    closure["tickets"] = tickets
    envelope["body"] = pack(body)
    envelope["sig"] = editor().sign(envelope["body"])
    path.write_bytes(pack(envelope))


#: (page, the phrase a does-not-check list must not hold, the code, the probe).
CHECKED = [
    (
        "fiscal-archive.md",
        "closures' `tickets` counts;",
        "CLOSURE_TOTAL_MISMATCH",
        lambda d: resign_closure_tickets(d, "day", 3),
    ),
    (
        "fiscal-archive.md",
        "closures' `tickets` counts;",
        "CLOSURE_TOTAL_MISMATCH",
        lambda d: resign_closure_tickets(d, "month", 3),
    ),
    (
        "journal.md",
        "`dossier` is not compared",
        "JOURNAL_DOSSIER_MISMATCH",
        lambda d: rewrite_journal_header(d, "OTHER1"),
    ),
    (
        "journal.md",
        "head's `dossier`",
        "JOURNAL_DOSSIER_MISMATCH",
        lambda d: resign_head(d, dossier="OTHER1"),
    ),
    (
        "journal.md",
        "`ts` are not compared",
        "JOURNAL_HEAD_INVALID",
        lambda d: resign_head(
            d, ts=fj.parse_head((d / "jet" / "journal.head").read_bytes()).ts + 1
        ),
    ),
]


def test_the_golden_dossier_is_clean_before_any_probe(tmp_path):
    codes = check_codes(golden_copy(tmp_path))
    assert not codes & {
        "CLOSURE_TOTAL_MISMATCH",
        "JOURNAL_DOSSIER_MISMATCH",
        "JOURNAL_HEAD_INVALID",
    }


@pytest.mark.parametrize(
    ("page", "phrase", "code", "probe"),
    CHECKED,
    ids=[f"{c[0]}:{c[2]}:{i}" for i, c in enumerate(CHECKED)],
)
def test_a_check_that_exists_is_not_listed_as_unchecked(tmp_path, page, phrase, code, probe):
    assert code in CODES
    dossier = golden_copy(tmp_path)
    probe(dossier)
    assert code in check_codes(dossier)
    assert phrase not in unchecked_list(page), f"{page} lists as unchecked what {code} checks"


@pytest.mark.parametrize("page", PAGES)
def test_every_code_a_does_not_check_list_cites_exists(page):
    cited = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", unchecked_list(page)))
    assert cited <= set(CODES), sorted(cited - set(CODES))
