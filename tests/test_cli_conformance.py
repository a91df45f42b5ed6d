"""`fiscalsafe verify BAG` on the whole Library of Congress conformance suite, through the
command line: valid -> exit 0 and no finding; invalid -> exit 1 naming the problem;
warning -> exit 0 with the warning printed."""

from __future__ import annotations

import json

import pytest
from test_bagit_conformance import EXPECTED, SUITE
from typer.testing import CliRunner

from fiscalsafe.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_verify_command_gets_every_verdict_right(name):
    category, code = EXPECTED[name]
    result = runner.invoke(app, ["verify", str(SUITE / name), "--json"])
    doc = json.loads(result.stdout)
    findings = doc["reports"][0]["findings"]
    errors = [f["code"] for f in findings if f["severity"] == "error"]
    warnings = [f["code"] for f in findings if f["severity"] == "warning"]
    if category == "valid":
        assert result.exit_code == 0 and not findings, findings
    elif category == "invalid":
        assert result.exit_code == 1
        assert code in errors
    else:
        assert result.exit_code == 0 and not errors
        assert code in warnings
        text = runner.invoke(app, ["verify", str(SUITE / name)])
        assert text.exit_code == 0 and code in text.stdout and "warning" in text.stdout


def test_every_bag_of_the_suite_is_in_the_table():
    bags = {
        f"{version.name}/{category.name}/{bag.name}"
        for version in SUITE.iterdir()
        if version.is_dir()
        for category in version.iterdir()
        if category.is_dir()
        for bag in category.iterdir()
        if bag.is_dir()
    }
    assert bags == set(EXPECTED)


@pytest.mark.parametrize("compress", [False, True], ids=["tar", "tar.zst"])
@pytest.mark.parametrize(
    "name, exit_code",
    [("v1.0/valid/basicBag", 0), ("v0.97/invalid/corrupt-data-file", 1)],
)
def test_a_bag_packed_as_a_tar_gets_the_same_verdict_without_a_key(
    tmp_path, name, exit_code, compress
):
    import tarfile

    import zstandard

    archive = tmp_path / ("bag.tar.zst" if compress else "bag.tar")
    raw = tmp_path / "bag.tar"
    with tarfile.open(raw, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(SUITE / name, arcname="bag")
    if compress:
        archive.write_bytes(zstandard.ZstdCompressor().compress(raw.read_bytes()))
    result = runner.invoke(app, ["verify", str(archive), "--json"])
    if compress:
        # A .tar.zst looks like a fiscalsafe backup: without --key it is refused, never
        # silently checked as a plain bag.
        assert result.exit_code == 2
        return
    assert result.exit_code == exit_code, result.stdout
    findings = json.loads(result.stdout)["reports"][0]["findings"]
    assert all(f["code"] != "SIDECAR_MISSING" for f in findings)
