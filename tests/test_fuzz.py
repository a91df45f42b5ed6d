"""The fuzz harnesses, bounded for CI, and the regressions they (or their authors) found.

Every harness in ``fuzz/targets.py`` runs a fixed number of Hypothesis examples
(:data:`EXAMPLES`, derandomized so CI is reproducible); a parser of untrusted bytes may
only reject them with ``MalformedError`` (``UnsupportedVersionError``) or
``VerificationError``. Long runs: ``python fuzz/run.py --target NAME --seconds 3600``.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fiscalsafe.errors import MalformedError  # noqa: E402
from fiscalsafe.formats import journal as fj  # noqa: E402
from fiscalsafe.formats.dossier import (  # noqa: E402
    DossierIdentity,
    parse_identity,
    parse_profile,
)
from fiscalsafe.formats.manifest import parse_manifest  # noqa: E402
from fiscalsafe.formats.tarstream import TarReader  # noqa: E402
from fuzz.corpus import Seeds, build_seeds  # noqa: E402
from fuzz.strategies import fuzz_inputs  # noqa: E402
from fuzz.targets import TARGETS, run_one  # noqa: E402

EXAMPLES = 200


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Seeds:
    return build_seeds(tmp_path_factory.mktemp("fuzz-seeds"))


def test_every_target_accepts_its_own_seeds(seeds: Seeds) -> None:
    """The seeds are valid input: a harness that rejects them would fuzz nothing deep."""
    for target in TARGETS.values():
        for data in seeds.inputs[target.seeds]:
            if target.name in ("bag_fetch", "minisig", "stream", "restore", "stream_tar"):
                run_one(target, data, seeds)  # may reject cleanly: not their own format
            else:
                target.run(data, seeds)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_target(name: str, seeds: Seeds) -> None:
    target = TARGETS[name]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(fuzz_inputs(seeds.inputs[target.seeds]))
    def harness(data: bytes) -> None:
        run_one(target, data, seeds)

    harness()


# Inputs the fuzzers found, each test named after the defect it guards against.


def test_json_nested_too_deeply_is_malformed_not_recursion_error() -> None:
    """dossier.json and profiles: ``json.loads`` raised RecursionError (a traceback)."""
    deep = b"[" * 100_000
    for parse in (parse_identity, parse_profile, parse_manifest):
        with pytest.raises(MalformedError):
            parse(deep)


def test_json_integer_beyond_digit_limit_is_malformed_not_value_error() -> None:
    """Python refuses to convert integers of more than 4300 digits with a plain
    ValueError, which escaped the JSON parsers (a signed manifest, dossier.json inside a
    backup, a profile)."""
    huge = b'{"format": ' + b"9" * 5000 + b"}"
    for parse in (parse_identity, parse_profile, parse_manifest):
        with pytest.raises(MalformedError):
            parse(huge)


@pytest.mark.parametrize("tz", ["Europe", "A" * 300, "", "../../etc/localtime", "UTC\x00"])
def test_identity_time_zone_naming_a_folder_is_malformed_not_os_error(tz: str) -> None:
    """Found by the ``identity`` harness (atheris): ``"tz": "Europe"`` made ``ZoneInfo``
    raise IsADirectoryError, so ``check`` said "Is a directory" and ``verify`` of a
    backup stopped with an I/O error instead of a DOSSIER_MALFORMED finding."""
    identity = DossierIdentity("MAG001", "Boutique", "55210055400013", "Europe/Paris", (1, 1))
    doc = {**identity.to_json(), "tz": tz}
    with pytest.raises(MalformedError, match="time zone"):
        parse_identity(json.dumps(doc).encode())


@pytest.mark.parametrize(
    "mtime",
    ["77777777777638170374", "-99999999999999999999", "253402300800.5"],
    ids=["pax-far-future", "pax-far-past", "pax-year-10000"],
)
def test_tar_mtime_beyond_year_9999_is_malformed_not_overflow_error(mtime: str) -> None:
    """Found by the ``restore`` harness: a pax mtime of 7.7e19 seconds parsed fine, then
    ``os.utime`` raised OverflowError while restoring (a traceback)."""
    info = tarfile.TarInfo("BAG/data/f")
    info.size = 1
    info.pax_headers = {"mtime": mtime}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(MalformedError, match="mtime"):
        list(TarReader(io.BytesIO(out.getvalue())).members())


@pytest.mark.parametrize(
    "payload",
    [
        b"\x91" * 100_000 + b"\xc0",  # nesting beyond msgpack's stack
        b"\xdd\xff\xff\xff\xf0",  # an array declaring 4 G elements
        b"\xc6\xff\xff\xff\xf0xx",  # a bin declaring 4 GB
        b"\xdb\xff\xff\xff\xf0ab",  # a str declaring 4 GB
        b"\xd4\x01\x00",  # an ext type, never used by fiscalsafe
        b"\x81\x91\x01\x01",  # a map whose key is an array (unhashable)
    ],
    ids=["deep", "huge-array", "huge-bin", "huge-str", "ext", "unhashable-key"],
)
def test_hostile_msgpack_record_in_journal_is_malformed(payload: bytes) -> None:
    data = fj.encode_header("MAG001") + payload
    with pytest.raises(MalformedError):
        list(fj.iter_records(io.BytesIO(data)))


@given(st.binary(max_size=64))
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)
def test_journal_header_followed_by_any_bytes(tail: bytes) -> None:
    data = fj.encode_header("MAG001") + tail
    try:
        for item in fj.iter_records(io.BytesIO(data)):
            assert isinstance(item, str | fj.JournalEntry | fj.RecordError)
    except MalformedError:
        pass


@pytest.mark.parametrize("size", ["-1", "-512", "+3", str(2**80)])
def test_tar_harness_bounds_every_read_of_a_hostile_size(size: str) -> None:
    """The tar target fails on a read of a negative or unbounded count, not only on an
    unexpected exception: a ``-1`` pax size once made the reader read "the rest"."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("bag/data/x")
        info.size = 3
        info.pax_headers = {"size": size}
        tf.addfile(info, io.BytesIO(b"abc"))
    with pytest.raises(MalformedError, match="size"):
        TARGETS["tar"].run(out.getvalue(), None)
    run_one(TARGETS["tar"], out.getvalue(), None)
