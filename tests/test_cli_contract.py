"""The command line's contract for scripts: with ``--json`` every failure prints one
``schemas/error.schema.json`` document on stdout, usage errors included; every output
document names its ``format`` and ``version``; an unexpected exception is exit 3 with one
line and no traceback (unless ``FISCALSAFE_DEBUG`` asks for it); typer's boxed errors are
one ``error: ...`` line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from fiscalsafe.cli.main import run as fiscalsafe_main

DEBUG_ENV = "FISCALSAFE_DEBUG"

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
DOCS = {p.name: json.loads(p.read_text()) for p in SCHEMAS.glob("*.schema.json")}
REGISTRY = Registry().with_resources(
    (doc["$id"], Resource.from_contents(doc)) for doc in DOCS.values()
)


def assert_valid(schema: str, doc: dict) -> None:
    validator = Draft202012Validator(DOCS[f"{schema}.schema.json"], registry=REGISTRY)
    errors = [e.message for e in validator.iter_errors(doc)]
    assert not errors, errors


def run(capsys, *args: str | Path) -> tuple[int, str, str]:
    """The console entry point, in process, with ``args`` as its command line."""
    with pytest.MonkeyPatch.context() as mp, pytest.raises(SystemExit) as exited:
        mp.setattr("sys.argv", ["fiscalsafe", *map(str, args)])
        fiscalsafe_main()
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def test_a_missing_argument_is_one_line_and_a_json_document(capsys):
    code, out, err = run(capsys, "backup", "--json")
    assert code == 2
    doc = json.loads(out)
    assert_valid("error", doc)
    assert doc["format"] == "fiscalsafe-error" and doc["error"] == "usage"
    assert doc["exit_code"] == 2 and "Missing argument" in doc["message"]
    assert err.startswith("error: Missing argument") and len(err.strip().splitlines()) == 1
    assert "╭" not in err and "Traceback" not in err


def test_an_unknown_option_is_a_usage_error_without_a_box(capsys):
    code, out, err = run(capsys, "verify", "--bogus", "x")
    assert code == 2 and out == ""
    assert err.strip() == "error: No such option: --bogus (see 'fiscalsafe verify --help')"


def test_an_error_of_a_command_prints_the_json_document_too(capsys, tmp_path):
    code, out, err = run(capsys, "check", tmp_path / "nowhere", "--json")
    assert code == 2
    doc = json.loads(out)
    assert_valid("error", doc)
    assert doc["error"] == "usage" and "nowhere is not a folder" in doc["message"]
    assert err.strip() == f"error: {doc['message']}"


def boom(*args, **kwargs):
    raise RuntimeError("boom\nsecond line")


def test_an_unexpected_exception_is_exit_3_in_one_line(capsys, tmp_path, monkeypatch):
    from fiscalsafe.pipeline import listing

    monkeypatch.delenv(DEBUG_ENV, raising=False)
    monkeypatch.setattr(listing, "list_backups", boom)
    code, out, err = run(capsys, "list", tmp_path, "--json")
    assert code == 3
    doc = json.loads(out)
    assert_valid("error", doc)
    assert doc["error"] == "internal" and "RuntimeError: boom" in doc["message"]
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith("error: unexpected internal error (RuntimeError: boom)")


def test_the_debug_variable_shows_the_traceback(capsys, tmp_path, monkeypatch):
    from fiscalsafe.pipeline import listing

    monkeypatch.setenv(DEBUG_ENV, "1")
    monkeypatch.setattr(listing, "list_backups", boom)
    code, _, err = run(capsys, "list", tmp_path)
    assert code == 3 and "Traceback" in err and "RuntimeError: boom" in err


def test_a_full_medium_is_said_in_words(capsys, tmp_path, monkeypatch):
    import errno

    from fiscalsafe.pipeline import listing

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / ".x.partial"))

    monkeypatch.setattr(listing, "list_backups", full)
    code, out, err = run(capsys, "list", tmp_path, "--json")
    doc = json.loads(out)
    assert code == 3 and doc["error"] == "no-space"
    assert "No space left on device" not in err
    assert f"the medium {tmp_path} is full" in err


def test_every_output_document_names_its_format_and_version(capsys, tmp_path):
    code, out, _ = run(capsys, "list", tmp_path, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["format"] == "fiscalsafe-list" and doc["version"] == [1, 0]
    assert_valid("list", doc)
    code, out, _ = run(
        capsys, "keys", "generate", "--out", tmp_path / "k", "--no-passphrase", "--json"
    )
    doc = json.loads(out)
    assert code == 0 and doc["format"] == "fiscalsafe-keys-generate"
    assert_valid("keys-generate", doc)
