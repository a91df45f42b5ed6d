"""``bench/run``: its result document follows its schema, end to end on a tiny sample.

The figures themselves are not asserted (machines differ; the benchmark is not a timed
test): what is tested is that one run measures every line the README's table reports,
and that the committed results stay readable by the same schema.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "schemas" / "bench-result.schema.json").read_text())
COMMITTED = sorted((ROOT / "bench" / "results").glob("*.json"))


def validate(doc: dict) -> None:
    errors = list(Draft202012Validator(SCHEMA).iter_errors(doc))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_results_are_committed() -> None:
    assert COMMITTED, "bench/results/ holds the results the README cites"


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_committed_results_follow_the_schema(path: Path) -> None:
    validate(json.loads(path.read_text()))


@pytest.mark.linux_only  # the benchmark reads /proc and forks its raw loop from a forkserver
def test_one_tiny_run_measures_every_line(tmp_path: Path) -> None:
    missing = [t for t in ("tar", "zstd", "openssl") if shutil.which(t) is None]
    assert not missing, f"the benchmark's baselines need {missing} (.ci/run installs them)"
    out = subprocess.run(
        [
            sys.executable, str(ROOT / "bench" / "bench.py"), "--size", "2MB",
            "--tickets-per-day", "3", "--years", "1", "--rounds", "2", "--levels", "1,3",
            "--work", str(tmp_path),
        ],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    (result,) = tmp_path.glob("result-*.json")
    doc = json.loads(result.read_text())
    validate(doc)
    (size,) = doc["sizes"]
    assert len(size["rounds"]) == 2
    median = size["median"]
    for cmd in ("backup", "verify", "check"):
        # Every process of the run was seen: the tree holds at least the largest one.
        assert 0 < median[f"{cmd}_rss_mb"] <= median[f"{cmd}_tree_rss_mb"]
        assert 0 < median[f"{cmd}_tree_pss_mb"] <= median[f"{cmd}_tree_rss_mb"]
    assert median["signatures"] > 0 and median["check_rate"] > 0
    assert median["backup_ratio"] == pytest.approx(
        median["backup_s"] / (median["tar_zstd_s"] + median["raw_all_cores_s"])
    )
    assert [row["level"] for row in doc["levels"]] == [1, 3]
    assert set(doc["targets_met"]) == {"backup", "verify", "check", "memory", "nightly", "medium"}
    # The nightly row: the second backup proves no sealed archive again; the one after one
    # more day of tickets neither (the day changes the journal and the database only).
    nightly = size["nightly"]
    archives = nightly["first_proofs"]["verified"]
    assert archives > 0 and nightly["first_proofs"]["remembered"] == 0
    assert nightly["same_proofs"]["verified"] == nightly["day_proofs"]["verified"] == 0
    assert nightly["same_proofs"]["remembered"] == nightly["day_proofs"]["remembered"] == archives
    # The journal of the night before is remembered whole; the day's two records are not.
    journal = nightly["same_proofs"]["journal_signatures_remembered"]
    assert journal > 0 and nightly["day_proofs"]["journal_signatures_remembered"] == journal
    # Nothing changed: every segment is taken from the first backup's frames; after one
    # more day, only the segments the day's bytes reach are compressed.
    same, day = nightly["same_segments"], nightly["day_segments"]
    assert same["compressed"] == 0 and same["reused"] > 0
    assert 0 < day["compressed"] < day["reused"]
    assert nightly["medium_ratio"] == pytest.approx(
        nightly["verify_seven_s"] / nightly["verify_one_s"]
    )
    assert "nightly: backup of the same dossier" in out.stdout
    # The table names each target's verdict.
    assert "targets: backup " in out.stdout and "tree PSS" in out.stdout
