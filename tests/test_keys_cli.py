"""`fiscalsafe keys generate`: minisign formats the stock tool uses, passphrase handling."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import stock_tool

from fiscalsafe import minisign


def _cli(*args, env=None, stdin=None):
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "fiscalsafe", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        input=stdin,
        timeout=120,
    )


def _need_minisign():
    stock_tool("minisign")


def test_unencrypted_key_pair_works_with_stock_minisign(tmp_path):
    _need_minisign()
    out = _cli("keys", "generate", "--out", tmp_path, "--no-passphrase", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["encrypted"] is False
    assert oct((tmp_path / "shop.key").stat().st_mode & 0o777) == "0o600"
    message = tmp_path / "m.txt"
    message.write_bytes(b"nightly backup\n")
    signed = subprocess.run(
        ["minisign", "-S", "-s", tmp_path / "shop.key", "-m", message],
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    assert signed.returncode == 0, signed.stderr
    checked = subprocess.run(
        ["minisign", "-Vm", message, "-p", tmp_path / "shop.pub"], capture_output=True
    )
    assert checked.returncode == 0
    public = minisign.load_public_key(tmp_path / "shop.pub")
    assert public.fingerprint == doc["fingerprint"]
    minisign.verify_bytes(public, (tmp_path / "m.txt.minisig").read_bytes(), message.read_bytes())


@pytest.mark.slow
def test_passphrase_from_the_environment_encrypts_the_key(tmp_path):
    _need_minisign()
    out = _cli(
        "keys",
        "generate",
        "--out",
        tmp_path,
        "--json",
        env={"FISCALSAFE_PASSPHRASE": "correct horse"},
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["encrypted"] is True
    with pytest.raises(minisign.PassphraseRequiredError):
        minisign.load_secret_key(tmp_path / "shop.key", None)
    with pytest.raises(minisign.WrongPassphraseError):
        minisign.load_secret_key(tmp_path / "shop.key", "wrong")
    message = tmp_path / "m.txt"
    message.write_bytes(b"x")
    signed = subprocess.run(
        ["minisign", "-S", "-s", tmp_path / "shop.key", "-m", message],
        input=b"correct horse\n",
        capture_output=True,
    )
    assert signed.returncode == 0, signed.stderr


def test_no_passphrase_source_is_a_usage_error(tmp_path):
    out = _cli("keys", "generate", "--out", tmp_path, env={"FISCALSAFE_PASSPHRASE": ""})
    assert out.returncode == 2
    assert "passphrase" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "shop.key").exists()


def test_existing_keys_are_not_overwritten(tmp_path):
    assert _cli("keys", "generate", "--out", tmp_path, "--no-passphrase").returncode == 0
    before = (tmp_path / "shop.key").read_bytes()
    again = _cli("keys", "generate", "--out", tmp_path, "--no-passphrase")
    assert again.returncode == 2 and "--force" in again.stderr
    assert (tmp_path / "shop.key").read_bytes() == before
