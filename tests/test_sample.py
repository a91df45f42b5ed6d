"""Sample dossiers: deterministic bytes, plausible data, unambiguous time, realistic bulk.

The generator's speed is deliberately not a timed test here (machines differ); the bench
folder measures it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import zstandard
from conftest import UNTIL

from fiscalsafe.formats import archive as fa
from fiscalsafe.formats import journal as fj
from fiscalsafe.formats.dossier import parse_identity
from fiscalsafe.samples.sample import SampleResult, write_sample
from fiscalsafe.verify.archives import local_date

SMALL = {"until": UNTIL, "years": 2, "size": 256 * 1024, "tickets_per_day": 2}
PARIS = ZoneInfo("Europe/Paris")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def tree(root: Path) -> dict[str, tuple]:
    """Every file: content digest, mtime and mode."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            st = path.stat()
            out[path.relative_to(root).as_posix()] = (
                hashlib.sha256(path.read_bytes()).hexdigest(),
                st.st_mtime_ns,
                st.st_mode & 0o7777,
            )
    return out


def archives(dossier: Path) -> list[fa.ArchiveBody]:
    return [
        fa.parse_body(fa.parse_envelope(p.read_bytes()).body)
        for p in sorted((dossier / "archives").glob("*.fsa"))
    ]


def tickets(body: fa.ArchiveBody) -> list[fa.Ticket]:
    return [fa.decode_ticket(b, s, i) for i, (b, s) in enumerate(body.raw_tickets)]


def journal_entries(dossier: Path) -> list[fj.JournalEntry]:
    data = (dossier / "jet" / "journal.jet").read_bytes()
    items = list(fj.iter_records(io.BytesIO(data)))
    assert all(isinstance(e, fj.JournalEntry) for e in items[1:])
    return items[1:]


def last_sunday(year: int, month: int) -> dt.date:
    day = dt.date(year, month, 31)
    return day - dt.timedelta(days=(day.weekday() + 1) % 7)


# --- determinism -------------------------------------------------------------------------


def test_same_seed_same_bytes_and_times(tmp_path: Path) -> None:
    a = write_sample(tmp_path / "a", seed=3, **SMALL)
    b = write_sample(tmp_path / "b", seed=3, **SMALL)
    c = write_sample(tmp_path / "c", seed=4, **SMALL)
    tree_a, tree_b, tree_c = tree(a.root), tree(b.root), tree(c.root)
    assert tree_a == tree_b
    assert a.tickets == b.tickets
    assert tree_a.keys() == tree_c.keys()
    differing = {k for k in tree_a if tree_a[k][0] != tree_c[k][0]}
    # Everything signed or random differs with the seed; only fixed texts may not.
    assert "keys/editor.pub" in differing and "dossiers/MAG001/jet/journal.jet" in differing
    assert len(differing) > len(tree_a) * 0.9


def test_files_have_the_fixed_mtime(sample_root: SampleResult) -> None:
    expected = dt.datetime(UNTIL.year, UNTIL.month, UNTIL.day, tzinfo=dt.UTC).timestamp()
    for path in sample_root.files:
        assert os.stat(path).st_mtime == expected, path


# --- plausible fiscal data ---------------------------------------------------------------


def test_vat_rates_are_french(sample_root: SampleResult) -> None:
    seen = set()
    for dossier in sample_root.dossiers:
        for body in archives(dossier):
            for ticket in tickets(body):
                seen.update(v.rate_bp for v in ticket.vat)
                for v in ticket.vat:
                    assert v.ht + v.tva == v.ttc and v.ttc > 0
            for closure in body.closures:
                seen.update(v.rate_bp for v in closure.vat)
    assert seen == set(fa.VAT_RATES_BP) == {2000, 1000, 550, 210}


# --- time: local dates across DST, unambiguous instants ----------------------------------


def test_local_date_across_dst_changes() -> None:
    def us(*args: int) -> int:
        return (dt.datetime(*args, tzinfo=dt.UTC) - EPOCH) // dt.timedelta(microseconds=1)

    # 00:30 local on each side of both 2026 changes (29 March, 25 October).
    assert local_date(us(2026, 3, 28, 23, 30), PARIS) == dt.date(2026, 3, 29)  # UTC+1
    assert local_date(us(2026, 3, 29, 22, 30), PARIS) == dt.date(2026, 3, 30)  # UTC+2
    assert local_date(us(2026, 10, 24, 22, 30), PARIS) == dt.date(2026, 10, 25)  # UTC+2
    assert local_date(us(2026, 10, 25, 23, 30), PARIS) == dt.date(2026, 10, 26)  # UTC+1
    # 23:30 local on the change days themselves.
    assert local_date(us(2026, 3, 29, 21, 30), PARIS) == dt.date(2026, 3, 29)
    assert local_date(us(2026, 10, 25, 22, 30), PARIS) == dt.date(2026, 10, 25)


def test_tickets_around_dst_changes_fall_on_their_local_day(sample_root: SampleResult) -> None:
    # Shops are closed on Sundays, the day clocks change: the days either side carry the
    # tickets, in different UTC offsets. A ticket signed in opening hours (09:00-19:00
    # local) must fall on its closure's day and inside opening hours once converted back.
    dossier = sample_root.dossiers[0]
    changes = {last_sunday(year, month) for year in range(2020, 2027) for month in (3, 10)}
    around = {d + dt.timedelta(days=k) for d in changes for k in (-1, 1)}
    checked = {}
    for body in archives(dossier):
        per_day: dict[dt.date, int] = {}
        for ticket in tickets(body):
            day = local_date(ticket.ts, PARIS)
            per_day[day] = per_day.get(day, 0) + 1
            local = (EPOCH + dt.timedelta(microseconds=ticket.ts)).astimezone(PARIS)
            assert 9 <= local.hour < 19, (ticket.seq, local)
            if day in around:
                checked[day] = local.utcoffset()
        for closure in body.closures:
            if closure.kind == "day":
                assert per_day.get(closure.start, 0) == closure.tickets, closure.start
    summer, winter = dt.timedelta(hours=2), dt.timedelta(hours=1)
    for change in changes:
        before, after = change - dt.timedelta(days=1), change + dt.timedelta(days=1)
        spring = change.month == 3
        assert checked.get(before) == (winter if spring else summer), before
        assert checked.get(after) == (summer if spring else winter), after


@pytest.mark.parametrize("index", [0, 1])
def test_journal_offsets_match_the_zone(sample_root: SampleResult, index: int) -> None:
    dossier = sample_root.dossiers[index]
    identity = parse_identity((dossier / "dossier.json").read_bytes())
    zone = ZoneInfo(identity.tz)
    offsets = set()
    sundays = 0
    changes = {last_sunday(y, m) for y in range(2019, 2027) for m in (3, 10)}
    for entry in journal_entries(dossier):
        assert entry.tz == identity.tz
        moment = (EPOCH + dt.timedelta(microseconds=entry.ts)).astimezone(zone)
        assert entry.utc_offset_min == moment.utcoffset() // dt.timedelta(minutes=1), entry.seq
        offsets.add(entry.utc_offset_min)
        sundays += moment.date() in changes
    assert offsets == {60, 120}
    # Month-end events sometimes fall on a change day (e.g. 31 Oct 2021, 31 Mar 2024).
    assert sundays > 0


# --- bulk data ---------------------------------------------------------------------------


def test_bulk_database_compresses_like_real_data(sample_root: SampleResult) -> None:
    compressor = zstandard.ZstdCompressor(level=3)
    files = sorted(sample_root.dossiers[0].glob("odeis/*.fic"))
    assert files
    for path in files:
        data = path.read_bytes()
        ratio = len(data) / len(compressor.compress(data))
        assert 2 <= ratio <= 20, f"{path.name}: zstd -3 ratio {ratio:.1f}"
