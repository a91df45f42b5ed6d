"""The one path policy, and every user of it agreeing on generated names: backup's
pre-flight, the tar member check, the BagIt validator, the signed manifest and restore."""

from __future__ import annotations

import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fiscalsafe.errors import FiscalsafeError, MalformedError
from fiscalsafe.formats import bagit, paths
from fiscalsafe.formats.manifest import safe_relpath
from fiscalsafe.formats.tarstream import REGULAR
from fiscalsafe.pipeline.backup import refuse_unportable_names
from fiscalsafe.pipeline.check import DossierFile
from fiscalsafe.pipeline.restore import StagingExtractor
from fiscalsafe.pipeline.verify_members import member_problem
from fiscalsafe.verify.bag import BagValidator

# Fragments that are harmless alone and hostile in some combinations.
FRAGMENTS = [
    "a", "B", "é", "e\u0301", "ß", "SS", "ok.txt", "~", ".", "..", " ", ":", "\\", "\n",
    "\x7f", "\x85", "CON", "aux", ".txt", "com1", "Lpt9", "nul", "COM¹", "conin$", "C:",
]  # fmt: skip
COMPONENT = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=3).map("".join)
# Canonical paths only: "." and empty components are a matter of form, refused elsewhere.
PATH = (
    st.lists(COMPONENT, min_size=1, max_size=3)
    .filter(lambda parts: all(p != "." for p in parts))
    .map("/".join)
)


def backup_accepts(path: str) -> bool:
    try:
        refuse_unportable_names([DossierFile(path, Path(path), "other", 1, 0, 0o644)])
    except FiscalsafeError:
        return False
    return True


def manifest_accepts(path: str) -> bool:
    try:
        safe_relpath(path, "manifest")
    except MalformedError:
        return False
    return True


def bag_accepts(path: str) -> bool:
    validator = BagValidator()
    return validator._accept_name(f"data/{path}") is not None


def restore_accepts(path: str) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        extractor = StagingExtractor(Path(tmp).resolve())
        try:
            extractor.open(path, 0o644).close()
        except FiscalsafeError:
            return False
        return True


USERS = {
    "backup pre-flight": backup_accepts,
    "tar member check": lambda p: member_problem(f"bag/data/{p}", REGULAR, True) is None,
    "BagIt manifest line": lambda p: bagit.unsafe_path_reason(f"data/{p}") is None,
    "BagIt validator": bag_accepts,
    "signed manifest": manifest_accepts,
    "restore": restore_accepts,
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(PATH)
def test_every_user_of_the_policy_agrees(path: str) -> None:
    expected = paths.unsafe_reason(path) is None
    verdicts = {name: accepts(path) for name, accepts in USERS.items()}
    assert verdicts == dict.fromkeys(USERS, expected), (path, paths.unsafe_reason(path))


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("CON", "reserved device name"),
        ("a/con.txt", "reserved device name"),
        ("a/Aux.tar.gz", "reserved device name"),
        ("a/LPT1 ", "reserved device name"),
        ("a/COM9", "reserved device name"),
        ("a/x.", "ends with a dot or a space"),
        ("a/x ", "ends with a dot or a space"),
        ("a/name:stream", "':'"),
        ("C:/x", "drive letter"),
        ("~/x", "'~'"),
        ("a/../b", "'..'"),
        ("/etc/passwd", "absolute"),
        ("a\\b", "backslash"),
        ("a/b\x01", "control character"),
        ("a/b\x9b", "control character"),
        ("a/\udcff", "not valid UTF-8"),
        ("", "empty"),
    ],
)
def test_refused_names_and_why(path: str, reason: str) -> None:
    assert reason in (paths.unsafe_reason(path) or "")


@pytest.mark.parametrize(
    "path", ["a", "CONSOLE", "a/com10", "a/.hidden", "a/x.y", "a/~x", "Núñez/ticket 42.txt"]
)
def test_portable_names_pass(path: str) -> None:
    assert paths.unsafe_reason(path) is None


def test_clashes_by_case_unicode_form_and_file_versus_folder() -> None:
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    assert paths.clashes(["A", "a"]) == [("A", "a")]
    assert paths.clashes([nfc, nfd]) == [(nfc, nfd)]
    assert paths.clashes(["Year", "year/x"]) == [("Year", "year/x")]
    assert paths.clashes(["year/x", "YEAR"]) == [("year/x", "YEAR")]
    assert paths.clashes(["Straße", "STRASSE"]) == [("Straße", "STRASSE")]
    assert paths.clashes(["a/x", "A/y", "b"]) == []
