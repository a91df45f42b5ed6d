"""The event journal (JET): sequence, chain, signatures, time order, head.

Steps: (1) header and genesis, (2) per record: policy, key, signature, sequence, link,
time order, known event code, (3) the signed head: the journal must end where it says.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from fiscalsafe.crypto import check_algorithm
from fiscalsafe.errors import MalformedError, UnsupportedVersionError, WeakAlgorithmError
from fiscalsafe.formats import journal as fj
from fiscalsafe.i18n import _
from fiscalsafe.verify.findings import Finding, finding
from fiscalsafe.verify.trust import TrustedKeys


@dataclass
class JournalResult:
    findings: list[Finding] = field(default_factory=list)
    entries: list[fj.JournalEntry] = field(default_factory=list)  # every decoded entry
    verified_until: int = 0  # sequence up to which the chain is unbroken and signed
    #: How many records, from the first by position, form the unbroken, signed prefix.
    #: A record after a break never counts, whatever its sequence number says.
    verified_count: int = 0
    genesis_ts: int | None = None
    last_ts: int | None = None
    head_seq: int | None = None
    head_ts: int | None = None
    #: SHA-256 of the last record's signature, as the verified signed head states it.
    head_sig_sha256: bytes | None = None
    #: The signed head verified and names exactly the last record of the verified prefix.
    head_matches: bool = False
    signatures_checked: int = 0
    #: Leading records whose signatures were not checked again: a proven prefix, byte for
    #: byte (the caller established it); every other check ran over them.
    signatures_remembered: int = 0
    #: Length and SHA-256 of the journal's bytes, where the caller hashed them.
    source_bytes: int = 0
    source_sha256: str = ""
    #: Where the caller asked for them: the digest of the journal's first bytes at the end
    #: of each of its last records (offset -> (SHA-256, records)), for a shorter or longer
    #: journal of the same run to recognise its proven records.
    prefix_points: dict[int, tuple[bytes, int]] = field(default_factory=dict, repr=False)

    @property
    def intact(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)


def verify_journal(
    file: str,
    items: list,
    head_file: str,
    head_bytes: bytes | None,
    keys: TrustedKeys,
    framing_error: str | None = None,
    dossier_id: str | None = None,
    proven_records: int = 0,
) -> JournalResult:
    """``items`` is what ``formats.journal.iter_records`` yielded (header id first).

    The signatures of the first ``proven_records`` records are taken as verified: the
    caller found them byte for byte in a journal proven under the same keys."""
    result = JournalResult()
    add = result.findings.append
    if framing_error:
        add(finding("JOURNAL_MALFORMED", framing_error, file=file))
    _check_header_dossier(file, items, dossier_id, add)
    records = [i for i in items[1:] if not isinstance(i, str)]
    prev_sig = b""
    prev_seq = 0
    prev_ts: int | None = None
    broken = False
    for item in records:
        if isinstance(item, fj.RecordError):
            add(finding("JOURNAL_MALFORMED", item.message, file=file, offset=item.offset))
            broken = True
            continue
        entry: fj.JournalEntry = item
        result.entries.append(entry)
        where = {"file": file, "record": entry.seq, "offset": entry.offset}
        linked = _check_link(result, entry, prev_seq, prev_sig, where)
        if len(result.entries) <= proven_records:
            signed = True
            result.signatures_remembered += 1
        else:
            signed = _verify_signature(entry, keys, add, where)
            result.signatures_checked += 1
        in_order = _check_time_and_event(entry, prev_ts, add, where)
        if not (linked and signed and in_order):
            broken = True
        if not broken:
            result.verified_until = entry.seq
            result.verified_count = len(result.entries)
        prev_seq, prev_sig, prev_ts = entry.seq, entry.signature, entry.ts
        result.last_ts = entry.ts
    head = _read_head(result, head_file, head_bytes, keys)
    if head is not None:
        _match_head(result, head, head_file, prev_seq, prev_sig, dossier_id)
    return result


def _check_header_dossier(file: str, items: list, dossier_id: str | None, add) -> None:
    # The header is not signed: its dossier id must at least be the dossier's own.
    if dossier_id is not None and items and items[0] not in ("?", dossier_id):
        add(
            finding(
                "JOURNAL_DOSSIER_MISMATCH",
                _("the journal header names another dossier"),
                file=file,
                expected=dossier_id,
                found=str(items[0]),
            )
        )


def _check_link(
    result: JournalResult, entry: fj.JournalEntry, prev_seq: int, prev_sig: bytes, where: dict
) -> bool:
    """(1) The genesis, then (2) the sequence and the link to the previous record's
    signature; False when the chain breaks here."""
    add = result.findings.append
    ok = True
    if prev_seq == 0:
        # (1) Genesis: the first record has no predecessor and is an initialisation.
        if entry.seq != 1 or entry.prev != b"" or entry.code != fj.GENESIS_CODE:
            add(
                finding(
                    "JOURNAL_GENESIS_MISSING",
                    _("first journal record is not a genesis (seq 1, code 260, no link)"),
                    expected="seq 1, code 260",
                    found=f"seq {entry.seq}, code {entry.code}",
                    **where,
                )
            )
            ok = False
        else:
            result.genesis_ts = entry.ts
    elif entry.seq != prev_seq + 1:
        add(
            finding(
                "JOURNAL_SEQUENCE_BROKEN",
                _("journal sequence is not consecutive"),
                expected=prev_seq + 1,
                found=entry.seq,
                **where,
            )
        )
        ok = False
    if prev_seq and entry.prev != prev_sig:
        add(
            finding(
                "JOURNAL_CHAIN_BROKEN",
                _("record does not link to the previous signature"),
                expected=prev_sig[:8].hex(),
                found=entry.prev[:8].hex(),
                **where,
            )
        )
        ok = False
    return ok


def _check_time_and_event(entry: fj.JournalEntry, prev_ts: int | None, add, where: dict) -> bool:
    """(2) Time order (False when it goes back) and a known event code."""
    in_order = True
    if prev_ts is not None and entry.ts < prev_ts:
        add(
            finding(
                "JOURNAL_TIME_DECREASING",
                _("timestamp earlier than the previous record's"),
                expected=f">= {prev_ts}",
                found=entry.ts,
                **where,
            )
        )
        in_order = False
    if entry.code not in fj.JET_CODES:
        add(
            finding(
                "JOURNAL_UNKNOWN_EVENT",
                _("event code {code} is not in the JET list", code=entry.code),
                found=entry.code,
                **where,
            )
        )
    elif entry.code == fj.INTEGRITY_FAILURE_CODE:
        message = _("the journal records: {text}", text=entry.text)
        add(finding("JOURNAL_INTEGRITY_EVENT", message, **where))
    return in_order


def _verify_signature(entry: fj.JournalEntry, keys: TrustedKeys, add, where: dict) -> bool:
    try:
        check_algorithm(entry.alg)
    except WeakAlgorithmError as exc:
        add(finding("WEAK_ALGORITHM", str(exc), found=entry.alg, **where))
        return False
    key = keys.lookup(entry.key_id)
    if key is None:
        add(
            finding(
                "JOURNAL_UNTRUSTED_KEY",
                _("record signed by a key that is not trusted"),
                found=entry.key_id.hex(),
                **where,
            )
        )
        return False
    if key.algorithm != entry.alg or not key.verify(entry.signature, entry.body):
        add(finding("JOURNAL_SIGNATURE_INVALID", _("record signature does not verify"), **where))
        return False
    return True


def _read_head(
    result: JournalResult, head_file: str, head_bytes: bytes | None, keys: TrustedKeys
) -> fj.JournalHead | None:
    """(3) The signed head, parsed and verified; ``None`` (with a finding) otherwise."""
    add = result.findings.append
    if head_bytes is None:
        add(
            finding(
                "JOURNAL_HEAD_MISSING",
                _("no signed journal head: a cut tail is undetectable"),
                file=head_file,
            )
        )
        return None
    try:
        head = fj.parse_head(head_bytes)
    except UnsupportedVersionError as exc:
        add(finding("JOURNAL_VERSION_UNSUPPORTED", str(exc), file=head_file))
        return None
    except MalformedError as exc:
        add(finding("JOURNAL_HEAD_INVALID", str(exc), file=head_file))
        return None
    try:
        check_algorithm(head.alg)
    except WeakAlgorithmError as exc:
        add(finding("WEAK_ALGORITHM", str(exc), file=head_file, found=head.alg))
        return None
    key = keys.lookup(head.key_id)
    result.signatures_checked += 1
    if key is None or key.algorithm != head.alg or not key.verify(head.signature, head.body):
        add(
            finding(
                "JOURNAL_HEAD_INVALID",
                _("journal head signature does not verify with a trusted key"),
                file=head_file,
            )
        )
        return None
    return head


def _match_head(
    result: JournalResult,
    head: fj.JournalHead,
    head_file: str,
    last_seq: int,
    last_sig: bytes,
    dossier_id: str | None,
) -> None:
    # (3) The signed head names the last record: fewer records means a cut tail.
    add = result.findings.append
    result.head_seq, result.head_ts = head.seq, head.ts
    result.head_sig_sha256 = head.last_sig_sha256
    same_dossier = dossier_id is None or head.dossier == dossier_id
    if not same_dossier:
        add(
            finding(
                "JOURNAL_DOSSIER_MISMATCH",
                _("the signed head names another dossier"),
                file=head_file,
                expected=dossier_id,
                found=head.dossier,
            )
        )
    if head.seq > last_seq:
        add(
            finding(
                "JOURNAL_TRUNCATED",
                _("journal ends before the record its signed head names"),
                file=head_file,
                expected=head.seq,
                found=last_seq,
            )
        )
    elif head.seq < last_seq:
        add(
            finding(
                "JOURNAL_HEAD_INVALID",
                _("journal has records after its signed head"),
                file=head_file,
                expected=head.seq,
                found=last_seq,
            )
        )
    elif hashlib.sha256(last_sig).digest() != head.last_sig_sha256:
        add(
            finding(
                "JOURNAL_TRUNCATED",
                _("last record is not the one the signed head names"),
                file=head_file,
                record=last_seq,
            )
        )
    elif result.last_ts is not None and head.ts != result.last_ts:
        add(
            finding(
                "JOURNAL_HEAD_INVALID",
                _("the signed head's time differs from the last record's"),
                file=head_file,
                record=last_seq,
                expected=result.last_ts,
                found=head.ts,
            )
        )
    else:
        # The head vouches for the tail only when every record up to the one it names
        # verified: a head over a broken chain proves nothing about what follows the break.
        result.head_matches = (
            same_dossier
            and result.verified_count == len(result.entries)
            and result.verified_until == last_seq
        )
