"""Tampers of the fiscal archives: bytes flipped, files removed, swapped or copied without
the key, and single rules broken by the shop software, which re-signs what it changed."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fiscalsafe import localformat
from fiscalsafe.formats import archive as fa
from fiscalsafe.formats.packing import pack
from fiscalsafe.i18n import N_, _, n_
from fiscalsafe.localformat import local
from fiscalsafe.samples.signed_files import (
    EditableJournal,
    archive_paths,
    middle,
    read_archive,
    resign_archive_and_journal,
    rewrite,
    write_archive,
)
from fiscalsafe.samples.tamper_registry import attacker, editor, register

#: How many of the oldest monthly archives ``coverage-short`` deletes (a year and a half).
PURGED_ARCHIVES = 18


def _resign_middle(
    dossier: Path,
    keys: dict[str, Path],
    mutate: Callable[[dict], None],
    journal_edit: Callable[[EditableJournal], int] | None = None,
) -> str:
    """The shop software changes the middle archive and re-signs everything after it."""
    target = middle(archive_paths(dossier))
    resign_archive_and_journal(dossier, editor(keys), target, mutate, journal_edit)
    return target.name


def _middle_ticket_offset(data: bytes, body: dict[str, Any]) -> tuple[int, fa.Ticket]:
    tickets = body["tickets"]
    index = len(tickets) // 2
    ticket = fa.decode_ticket(tickets[index][0], tickets[index][1], index)
    return data.index(ticket.body), ticket


@register(
    "flipped-byte-archive",
    N_("Without the key: flip one bit inside a ticket of the middle archive (not re-signed)."),
)
def flipped_byte_archive(dossier: Path, keys: dict[str, Path]) -> str:
    path = middle(archive_paths(dossier))
    data = bytearray(path.read_bytes())
    _unused, body = read_archive(path)
    start, ticket = _middle_ticket_offset(bytes(data), body)
    # The last letter of the operator name: the ticket still decodes, so the check can say
    # which ticket changed, not only that the archive did.
    position = start + ticket.body.rindex(ticket.operator.encode()) + len(ticket.operator) - 1
    before = ticket.operator
    data[position] ^= 0x01
    after = before[:-1] + chr(data[position])
    rewrite(path, bytes(data))
    return _(
        "{file}: bit flipped at byte {position} (ticket {seq}: {before} -> {after})",
        file=path.name,
        position=localformat.count(position),
        seq=ticket.seq,
        before=before,
        after=after,
    )


@register(
    "untrusted-key-archive",
    N_("Without the key: re-sign the middle archive, unchanged, with another P-256 key."),
)
def untrusted_key_archive(dossier: Path, keys: dict[str, Path]) -> str:
    path = middle(archive_paths(dossier))
    env, _unused = read_archive(path)
    forger = attacker()
    key_id = forger.public_key().key_id
    write_archive(path, env.body, forger.algorithm, key_id, forger.sign(env.body))
    return _("{file}: re-signed with untrusted key {key}", file=path.name, key=key_id.hex())


@register(
    "archive-removed",
    N_("Without the key: delete the middle archive file."),
)
def archive_removed(dossier: Path, keys: dict[str, Path]) -> str:
    path = middle(archive_paths(dossier))
    path.unlink()
    return _("{file}: deleted", file=path.name)


@register(
    "archives-swapped",
    N_("Without the key: swap the contents of the middle archive file and the next one."),
)
def archives_swapped(dossier: Path, keys: dict[str, Path]) -> str:
    paths = archive_paths(dossier)
    index = len(paths) // 2
    a, b = paths[index], paths[index + 1]
    data_a, data_b = a.read_bytes(), b.read_bytes()
    rewrite(a, data_b)
    rewrite(b, data_a)
    return _("{first} and {second}: contents swapped", first=a.name, second=b.name)


@register(
    "archive-duplicated",
    N_("Without the key: copy the middle archive to a second file name."),
)
def archive_duplicated(dossier: Path, keys: dict[str, Path]) -> str:
    path = middle(archive_paths(dossier))
    copy = path.with_name(f"{path.stem}_copie{path.suffix}")
    shutil.copy2(path, copy)
    return _("{file}: copied to {copy}", file=path.name, copy=copy.name)


@register(
    "archive-truncated",
    N_("Without the key: cut the last 100 bytes of the middle archive (an interrupted copy)."),
)
def archive_truncated(dossier: Path, keys: dict[str, Path]) -> str:
    path = middle(archive_paths(dossier))
    data = path.read_bytes()
    rewrite(path, data[:-100])
    return n_(
        "{file}: cut from {before} to {after} byte",
        "{file}: cut from {before} to {after} bytes",
        len(data) - 100,
        file=path.name,
        before=localformat.count(len(data)),
        after=localformat.count(len(data) - 100),
    )


@register(
    "weak-algorithm",
    N_("Without the key: declare the middle archive's algorithm as ecdsa-p256-sha1."),
)
def weak_algorithm(dossier: Path, keys: dict[str, Path]) -> str:
    path = middle(archive_paths(dossier))
    env, _unused = read_archive(path)
    write_archive(path, env.body, "ecdsa-p256-sha1", env.key_id, env.signature)
    return _("{file}: algorithm {old} -> ecdsa-p256-sha1", file=path.name, old=env.alg)


@register(
    "ticket-removed",
    N_("Without the key: remove the middle ticket from the middle archive (not re-signed)."),
)
def ticket_removed(dossier: Path, keys: dict[str, Path]) -> str:
    path = middle(archive_paths(dossier))
    env, body = read_archive(path)
    index = len(body["tickets"]) // 2
    ticket = fa.decode_ticket(*body["tickets"].pop(index), index)
    write_archive(path, pack(body), env.alg, env.key_id, env.signature)
    return n_(
        "{file}: ticket {seq} removed ({cents} cent)",
        "{file}: ticket {seq} removed ({cents} cents)",
        ticket.ttc,
        file=path.name,
        seq=ticket.seq,
        cents=localformat.count(ticket.ttc),
    )


@register(
    "coverage-short",
    N_("Without the key: delete the oldest archives (a year and a half), as a purge would."),
)
def coverage_short(dossier: Path, keys: dict[str, Path]) -> str:
    paths = archive_paths(dossier)
    removed = paths[: min(PURGED_ARCHIVES, len(paths) - 1)]
    for path in removed:
        path.unlink()
    return n_(
        "{n} oldest archive deleted ({first}..{last})",
        "{n} oldest archives deleted ({first}..{last})",
        len(removed),
        first=removed[0].name,
        last=removed[-1].name,
    )


@register(
    "grand-total-mismatch",
    N_("Shop software: raise a day closure's grand total by 1 EUR, re-sign archive and journal."),
)
def grand_total_mismatch(dossier: Path, keys: dict[str, Path]) -> str:
    changed: dict[str, Any] = {}

    def mutate(body: dict) -> None:
        day = middle([c for c in body["closures"] if c["kind"] == "day"])
        changed.update(start=day["start"], gt=day["gt"])
        day["gt"] += 100

    def journal_edit(journal: EditableJournal) -> int:
        # The logged closure must match the archive's, or CLOSURE_EVENT_MISSING fires too.
        for i, b in enumerate(journal.bodies):
            d = b["data"]
            if b["code"] == 50 and d.get("kind") == "day" and d.get("start") == changed["start"]:
                d["gt"] += 100
                return i
        raise LookupError(f"no closing event for {changed['start']}")

    name = _resign_middle(dossier, keys, mutate, journal_edit)
    return _(
        "{file}: day {day} grand total {old} -> {new}, "
        "archive, journal and head re-signed with the editor key",
        file=name,
        day=local().day(changed["start"]),
        old=changed["gt"],
        new=changed["gt"] + 100,
    )


@register(
    "vat-sum-mismatch",
    N_("Shop software: declare 1 EUR less VAT (more net) in a day closure, re-sign archive."),
)
def vat_sum_mismatch(dossier: Path, keys: dict[str, Path]) -> str:
    changed: dict[str, Any] = {}

    def mutate(body: dict) -> None:
        day = middle([c for c in body["closures"] if c["kind"] == "day"])
        line = max(day["vat"], key=lambda v: v[2])  # the rate with the largest VAT amount
        moved = min(100, line[2])
        line[1] += moved
        line[2] -= moved
        changed.update(start=day["start"], rate=line[0], moved=moved)

    name = _resign_middle(dossier, keys, mutate)
    return n_(
        "{file}: day {day}, rate {rate}%: {cents} cent moved from VAT to net; "
        "archive, journal and head re-signed",
        "{file}: day {day}, rate {rate}%: {cents} cents moved from VAT to net; "
        "archive, journal and head re-signed",
        changed["moved"],
        file=name,
        day=local().day(changed["start"]),
        rate=localformat.count(changed["rate"] / 100),
        cents=changed["moved"],
    )


@register(
    "archive-other-dossier",
    N_("Shop software: relabel the middle archive as another dossier's, re-sign everything."),
)
def archive_other_dossier(dossier: Path, keys: dict[str, Path]) -> str:

    def mutate(body: dict) -> None:
        body["dossier"] = "MAG999"

    name = _resign_middle(dossier, keys, mutate)
    return _("{file}: dossier id set to MAG999, archive, journal and head re-signed", file=name)
