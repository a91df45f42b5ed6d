"""The mutants of the security-critical checks: each one a plausible slip that must not
go unnoticed.

One entry of ``MUTANTS`` is one mutant::

    Mutant(
        id="journal-head-last-record",      # unique, short, kebab-case
        file="fiscalsafe/verify/journal.py",  # relative to the repository root
        original="elif hashlib.sha256(last_sig).digest() != head.last_sig_sha256:",
        replacement="elif False:",
        tests=("tests/test_signed_history_checks.py::test_last_journal_record_must_be_the_one_its_head_names",),
        description="the last journal record is not compared with the signed head",
    )

- ``original`` is exact source text (whitespace included, several lines allowed) that
  must occur **exactly once** in ``file``: the runner refuses to start otherwise, so a
  mutant never rots silently when the code moves; widen the text until it is unique.
- ``replacement`` must keep the module importable (a mutant that breaks collection is
  reported as an error, not as killed).
- ``tests`` are pytest node ids or test files: small and fast, since they run once per
  mutant; at least one of them must fail under the mutant, asserting the finding code
  (or the message) of the check that was weakened.

Adding a mutant for a new check is one more entry here, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    original: str
    replacement: str
    tests: tuple[str, ...]
    description: str


HISTORY = "tests/test_signed_history_checks.py"
STREAM = "tests/test_backup_stream_checks.py"
FORMATS = "tests/test_formats.py"
MINISIGN = "tests/test_minisign.py"
ARCHIVES = "fiscalsafe/verify/archives.py"
ARCHIVE_CHAIN = "fiscalsafe/verify/archive_chain.py"
JOURNAL = "fiscalsafe/verify/journal.py"
COVERAGE = "fiscalsafe/verify/coverage.py"
CRYPTO = "fiscalsafe/crypto.py"
SIGNIFY = "fiscalsafe/minisign/verification.py"
VERIFY_FISCAL = "fiscalsafe/pipeline/verify_fiscal.py"
VERIFY_PARTS = "fiscalsafe/pipeline/verify_parts.py"
VERIFY_MEMBERS = "fiscalsafe/pipeline/verify_members.py"
VERIFY_MANIFEST = "fiscalsafe/pipeline/verify_manifest.py"
VERIFY_CONTAINER = "fiscalsafe/pipeline/verify_container.py"
PATHS = "fiscalsafe/formats/paths.py"
BINDINGS = "fiscalsafe/pipeline/bindings.py"


FRESH = "tests/test_freshness.py"
FRAMES = "fiscalsafe/pipeline/frames.py"
REMEMBERED_FRAMES = "tests/test_remembered_frames.py"
PROOFS = "fiscalsafe/pipeline/proofs.py"
REMEMBERED = "tests/test_remembered_proofs.py"


def remembered(*names: str) -> tuple[str, ...]:
    return tuple(f"{REMEMBERED}::{name}" for name in names)


def fresh(name: str) -> tuple[str, ...]:
    return (f"{FRESH}::{name}",)


def history(name: str) -> tuple[str, ...]:
    return (f"{HISTORY}::{name}",)


def stream(name: str) -> tuple[str, ...]:
    return (f"{STREAM}::{name}",)


MUTANTS: list[Mutant] = [
    # Chain links
    Mutant(
        id="archive-chain-link",
        file=ARCHIVE_CHAIN,
        original="    if r.prev != previous.signature:",
        replacement="    if False:",
        tests=history("test_archive_not_linked_to_the_previous_signature_breaks_the_chain"),
        description="an archive's link to the previous archive's signature is not checked",
    ),
    Mutant(
        id="ticket-chain-in-archive",
        file=ARCHIVES,
        original="        if prev != prev_sig:",
        replacement="        if False:",
        tests=history("test_ticket_not_linked_to_its_predecessor_breaks_the_chain"),
        description="a ticket's link to the previous ticket is not checked",
    ),
    Mutant(
        id="ticket-chain-across-archives",
        file=ARCHIVE_CHAIN,
        original="    if r.ticket_prev != previous.last_ticket_sig:",
        replacement="    if False:",
        tests=history("test_first_ticket_not_linked_to_the_previous_archive_breaks_the_chain"),
        description="an archive's first ticket is not linked to the previous archive's last",
    ),
    Mutant(
        id="journal-prev-link",
        file=JOURNAL,
        original="    if prev_seq and entry.prev != prev_sig:",
        replacement="    if False:",
        tests=history("test_journal_record_not_linked_to_the_previous_breaks_the_chain"),
        description="a journal record's link to the previous record's signature is not checked",
    ),
    Mutant(
        id="journal-genesis",
        file=JOURNAL,
        original=(
            '        if entry.seq != 1 or entry.prev != b"" or entry.code != fj.GENESIS_CODE:'
        ),
        replacement='        if entry.seq != 1 or entry.prev != b"":',
        tests=history("test_a_journal_that_does_not_start_with_its_genesis_record_is_refused"),
        description="a journal whose first record is not a genesis record is accepted",
    ),
    Mutant(
        id="journal-sequence",
        file=JOURNAL,
        original="    elif entry.seq != prev_seq + 1:",
        replacement="    elif entry.seq <= prev_seq:",
        tests=history("test_journal_sequence_that_skips_a_number_is_broken"),
        description="a journal sequence may skip numbers",
    ),
    Mutant(
        id="ticket-sequence",
        file=ARCHIVES,
        original="        elif seq != prev_seq + 1:",
        replacement="        elif seq <= prev_seq:",
        tests=history("test_a_ticket_sequence_that_skips_a_number_is_a_gap"),
        description="a ticket sequence may skip numbers inside an archive",
    ),
    Mutant(
        id="archive-number-gap",
        file=ARCHIVE_CHAIN,
        original="    if r.number != previous.number + 1:",
        replacement="    if r.number <= previous.number:",
        tests=history("test_archive_numbers_that_skip_one_are_a_gap"),
        description="archive numbers may skip one",
    ),
    Mutant(
        id="archive-period-gap-one-day",
        file=ARCHIVE_CHAIN,
        original="        if r.period_start > expected_start:",
        replacement="        if r.period_start > expected_start + dt.timedelta(days=1):",
        tests=history("test_archive_periods_one_day_apart_leave_a_gap"),
        description="a one-day gap between two archives' periods is not reported",
    ),
    # Signatures
    Mutant(
        id="ticket-signature",
        file=ARCHIVES,
        original=(
            "        if not ok:\n"
            "            add(\n"
            "                finding(\n"
            '                    "TICKET_SIGNATURE_INVALID",'
        ),
        replacement=(
            "        if False:\n"
            "            add(\n"
            "                finding(\n"
            '                    "TICKET_SIGNATURE_INVALID",'
        ),
        tests=history("test_altered_ticket_signature_is_invalid"),
        description="a ticket whose signature does not verify is not reported",
    ),
    Mutant(
        id="ticket-signature-batch",
        file=CRYPTO,
        original="            except InvalidSignature:\n                pass",
        replacement=(
            "            except InvalidSignature:\n                return [True] * len(ders)"
        ),
        tests=history("test_altered_ticket_signature_is_invalid"),
        description="a failed ECDSA batch is taken as all valid instead of checked one by one",
    ),
    Mutant(
        id="archive-signature",
        file=ARCHIVES,
        original="    result.trusted = key.verify(env.signature, env.body)",
        replacement="    result.trusted = True",
        tests=history("test_altered_archive_signature_is_invalid"),
        description="the archive envelope's signature is not verified",
    ),
    Mutant(
        id="journal-record-signature",
        file=JOURNAL,
        original=(
            "    if key.algorithm != entry.alg or not key.verify(entry.signature, entry.body):"
        ),
        replacement="    if key.algorithm != entry.alg:",
        tests=history("test_altered_journal_record_signature_is_invalid"),
        description="a journal record's signature is not verified",
    ),
    Mutant(
        id="journal-head-signature",
        file=JOURNAL,
        original=(
            "    if key is None or key.algorithm != head.alg or "
            "not key.verify(head.signature, head.body):"
        ),
        replacement="    if key is None or key.algorithm != head.alg:",
        tests=history("test_altered_journal_head_signature_is_invalid"),
        description="the journal head's signature is not verified",
    ),
    Mutant(
        id="minisign-data-signature",
        file=SIGNIFY,
        original="    if not _ed25519_verify(public, bytes(signed), sig.signature):",
        replacement="    if False:",
        tests=(f"{MINISIGN}::test_one_byte_change_to_data_is_rejected",),
        description="a minisign signature is not checked against the signed bytes",
    ),
    Mutant(
        id="minisign-global-signature",
        file=SIGNIFY,
        original=(
            "    if not _ed25519_verify(\n"
            "        public, sig.signature + sig.trusted_comment.encode(), sig.global_signature\n"
            "    ):\n"
            "        raise VerificationError(\n"
            "            _(\n"
            '                "bad global signature: the trusted comment was altered (key'
        ),
        replacement=(
            "    if False:\n"
            "        raise VerificationError(\n"
            "            _(\n"
            '                "bad global signature: the trusted comment was altered (key'
        ),
        tests=(f"{MINISIGN}::test_trusted_comment_change_is_rejected",),
        description="a minisign trusted comment is not bound by its global signature",
    ),
    Mutant(
        id="manifest-signature",
        file=VERIFY_MANIFEST,
        original="        minisign.verify_bytes(key, sig_bytes, data)",
        replacement="        minisign.parse_signature(sig_bytes)",
        tests=stream("test_a_manifest_signature_over_other_bytes_is_invalid")
        + stream("test_a_manifest_signed_by_another_key_is_untrusted"),
        description="the signed manifest's signature is parsed but not verified",
    ),
    Mutant(
        id="sidecar-signature",
        file=VERIFY_PARTS,
        original="            minisign.verify_digest(key, sig, info.blake2b)",
        replacement="            minisign.verify_trusted_comment(key, sig)",
        tests=stream("test_a_sidecar_signed_over_other_bytes_is_invalid"),
        description="the sidecar is checked for its comment only, not over the backup's bytes",
    ),
    # Key ids
    Mutant(
        id="editor-key-id-one-byte",
        file="fiscalsafe/verify/trust.py",
        original="            if key.key_id == key_id:",
        replacement="            if key.key_id[:1] == key_id[:1]:",
        tests=history("test_archive_key_ids_are_compared_whole")
        + history("test_journal_key_ids_are_compared_whole"),
        description="an editor key is looked up by the first byte of its id only",
    ),
    Mutant(
        id="minisign-key-id-one-byte",
        file=SIGNIFY,
        original=(
            "    if not hmac.compare_digest(sig.key_id, public.key_id):\n"
            "        raise _key_mismatch(sig, public)\n"
            "    if sig.algorithm == SIG_ALG_PREHASHED:"
        ),
        replacement=(
            "    if sig.key_id[:1] != public.key_id[:1]:\n"
            "        raise _key_mismatch(sig, public)\n"
            "    if sig.algorithm == SIG_ALG_PREHASHED:"
        ),
        tests=stream("test_minisign_key_ids_are_compared_whole"),
        description="a minisign signature's key id is compared on its first byte only",
    ),
    Mutant(
        id="minisign-comment-key-id-one-byte",
        file=SIGNIFY,
        original=(
            "    if not hmac.compare_digest(sig.key_id, public.key_id):\n"
            "        raise _key_mismatch(sig, public)\n"
            "    if not _ed25519_verify("
        ),
        replacement=(
            "    if sig.key_id[:1] != public.key_id[:1]:\n"
            "        raise _key_mismatch(sig, public)\n"
            "    if not _ed25519_verify("
        ),
        tests=stream("test_minisign_key_ids_are_compared_whole"),
        description="a trusted comment's key id is compared on its first byte only",
    ),
    # Coverage gaps
    Mutant(
        id="coverage-gap-one-day-hidden",
        file=COVERAGE,
        original="        if start > cursor:",
        replacement="        if start > cursor + one:",
        tests=history("test_a_single_missing_day_is_a_one_day_gap"),
        description="a gap of a single day between covered periods is not reported",
    ),
    Mutant(
        id="coverage-gap-end-one-day-off",
        file=COVERAGE,
        original="            cov.gaps.append((cursor, min(start - one, required_end)))",
        replacement="            cov.gaps.append((cursor, min(start, required_end)))",
        tests=history("test_a_gap_is_reported_from_its_first_to_its_last_missing_day"),
        description="a gap is reported one day longer than it is",
    ),
    Mutant(
        id="coverage-cursor-one-day-off",
        file=COVERAGE,
        original="        cursor = max(cursor, stop + one)",
        replacement="        cursor = max(cursor, stop + one + one)",
        tests=history("test_a_gap_is_reported_from_its_first_to_its_last_missing_day"),
        description="the day after a covered period is taken as covered",
    ),
    Mutant(
        id="since-genesis-start-day",
        file=COVERAGE,
        original="        and first.period_start == cov.genesis\n",
        replacement="",
        tests=history("test_since_genesis_needs_the_first_archive_to_start_on_the_genesis_day"),
        description="'complete since genesis' without the first archive starting at genesis",
    ),
    Mutant(
        id="since-genesis-first-mark",
        file=COVERAGE,
        original="        and first.first\n",
        replacement="",
        tests=history("test_since_genesis_needs_the_first_archive_marked_first"),
        description="'complete since genesis' without an archive marked first",
    ),
    # Truncation
    Mutant(
        id="journal-head-last-record",
        file=JOURNAL,
        original="    elif hashlib.sha256(last_sig).digest() != head.last_sig_sha256:",
        replacement="    elif False:",
        tests=history("test_last_journal_record_must_be_the_one_its_head_names"),
        description="the last journal record is not compared with the one the signed head names",
    ),
    Mutant(
        id="journal-head-sequence",
        file=JOURNAL,
        original="    if head.seq > last_seq:",
        replacement="    if head.seq > last_seq + 1:",
        tests=history("test_journal_cut_before_the_record_its_head_names_is_truncated"),
        description="a journal cut by one record before its signed head is not truncated",
    ),
    Mutant(
        id="tar-end-marker",
        file=VERIFY_CONTAINER,
        original="    if not tar.end_marker:",
        replacement="    if False:",
        tests=stream("test_a_tar_without_its_end_marker_is_truncated"),
        description="a tar stream without its end-of-archive marker is accepted",
    ),
    Mutant(
        id="zstd-frame-cut",
        file="fiscalsafe/formats/zstdframes.py",
        original=(
            '        if self._state != "magic" or self._buf or self._skip or self.frames == 0:'
        ),
        replacement="        if self.frames == 0:",
        tests=stream("test_the_frame_walker_refuses_a_stream_cut_inside_a_frame"),
        description="the zstd frame walker accepts a stream cut inside a frame",
    ),
    # Path policy
    Mutant(
        id="path-absolute",
        file=PATHS,
        original='    if path.startswith("/"):\n        return _("the path is absolute")',
        replacement='    if False:\n        return _("the path is absolute")',
        tests=stream("test_unsafe_member_paths_are_refused_by_the_path_policy"),
        description="an absolute member path is not refused by the path policy",
    ),
    Mutant(
        id="path-dotdot",
        file=PATHS,
        original='    if name == "..":\n        return _("the path contains a \'..\' component")',
        replacement="    if False:\n        return _(\"the path contains a '..' component\")",
        tests=stream("test_unsafe_member_paths_are_refused_by_the_path_policy"),
        description="a member path with '..' segments is not refused",
    ),
    Mutant(
        id="member-duplicate",
        file=VERIFY_MEMBERS,
        original='        if m.name.rstrip("/") in self.names:',
        replacement="        if False:",
        tests=stream("test_a_member_name_seen_twice_is_a_duplicate"),
        description="a member name seen twice is not reported as a duplicate",
    ),
    Mutant(
        id="member-case-clash",
        file=VERIFY_MEMBERS,
        original="        if folded in self.folded:",
        replacement="        if False:",
        tests=stream("test_names_differing_only_by_case_clash"),
        description="names that differ only by case or Unicode form are not reported",
    ),
    # Completeness against the signed manifest
    Mutant(
        id="completeness-missing",
        file=VERIFY_MANIFEST,
        original="        got = state.payload.get(path)",
        replacement="        got = state.payload.get(path, (entry.size, entry.sha256))",
        tests=stream("test_a_signed_file_absent_from_the_backup_is_missing"),
        description="a file the manifest signs but the backup lacks is taken as present",
    ),
    Mutant(
        id="completeness-unexpected",
        file=VERIFY_MANIFEST,
        original="        if path not in listed:",
        replacement="        if False:",
        tests=stream("test_a_file_the_manifest_does_not_sign_is_unexpected"),
        description="a payload file the manifest does not sign is accepted",
    ),
    Mutant(
        id="completeness-size",
        file=VERIFY_MANIFEST,
        original="        if size != entry.size:",
        replacement="        if False:",
        tests=stream("test_a_file_of_another_size_than_signed_is_a_size_mismatch"),
        description="a file's size is not compared with the signed manifest",
    ),
    Mutant(
        id="completeness-digest",
        file=VERIFY_MANIFEST,
        original="        if digest != entry.sha256:",
        replacement="        if False:",
        tests=stream("test_a_file_of_other_content_than_signed_is_a_digest_mismatch"),
        description="a file's digest is not compared with the signed manifest",
    ),
    # Algorithm refusal
    Mutant(
        id="refuse-sha1-md5-names",
        file=CRYPTO,
        original='    if name in REFUSED_ALGORITHMS or "sha1" in lowered or "md5" in lowered:',
        replacement="    if name in REFUSED_ALGORITHMS:",
        tests=(f"{FORMATS}::test_sha1_and_md5_names_are_refused",),
        description="SHA-1/MD5 algorithm names outside the fixed list are not refused as weak",
    ),
    Mutant(
        id="refuse-weak-rsa",
        file=CRYPTO,
        original="        if key.key_size < MIN_RSA_BITS:",
        replacement="        if key.key_size < 1024:",
        tests=(f"{FORMATS}::test_rsa_1024_is_refused",),
        description="RSA keys of 1024 bits are accepted",
    ),
    Mutant(
        id="archive-algorithm-policy",
        file=ARCHIVES,
        original="        check_algorithm(env.alg)",
        replacement="        pass",
        tests=history("test_archive_with_a_weak_algorithm_is_refused_before_its_key"),
        description="an archive's algorithm is not checked against the policy",
    ),
    Mutant(
        id="journal-algorithm-policy",
        file=JOURNAL,
        original="        check_algorithm(entry.alg)",
        replacement="        pass",
        tests=history("test_journal_record_with_a_weak_algorithm_is_refused"),
        description="a journal record's algorithm is not checked against the policy",
    ),
    Mutant(
        id="idle-tolerance-off-by-one",
        file=COVERAGE,
        original="    elif idle_days <= cov.max_idle_days:",
        replacement="    elif idle_days <= cov.max_idle_days + 1:",
        tests=fresh("test_idle_days_within_the_tolerance_are_said_not_hidden"),
        description="one idle day more than the tolerance is excused",
    ),
    Mutant(
        id="coverage-never-stale",
        file=COVERAGE,
        original="    elif idle_days <= cov.max_idle_days:",
        replacement="    elif True:",
        tests=fresh("test_a_stale_dossier_is_not_current"),
        description="any number of days after the last operation is excused",
    ),
    Mutant(
        id="end-of-activity-any-day",
        file=COVERAGE,
        original="if e.code == fj.END_OF_ACTIVITY_CODE and local_date(e.ts, zone) == last",
        replacement="if e.code == fj.END_OF_ACTIVITY_CODE",
        tests=fresh("test_an_old_end_of_activity_does_not_excuse_a_reopened_shop"),
        description="an old end-of-activity record excuses a shop that reopened",
    ),
    Mutant(
        id="coverage-beyond-backup-dropped",
        file=COVERAGE,
        original="        if known < end:",
        replacement="        if False:",
        tests=fresh("test_verify_as_of_after_the_backup_cannot_cover_unknown_days"),
        description="days after the backup's creation are taken as idle",
    ),
    Mutant(
        id="verified-prefix-by-sequence",
        file="fiscalsafe/verify/verified.py",
        original="    entries = tuple(result.entries[: result.verified_count])",
        replacement=(
            "    entries = tuple(e for e in result.entries if e.seq <= result.verified_until)"
        ),
        tests=fresh("test_records_after_a_break_never_count_whatever_their_sequence"),
        description="records after a break count when their sequence number is low enough",
    ),
    Mutant(
        id="history-divergence-ignored",
        file="fiscalsafe/verify/verified.py",
        original=(
            'return "extends" if self.digests[known.seq - 1] == known.sig_sha256 else "diverges"'
        ),
        replacement='return "extends"',
        tests=fresh("test_a_diverging_history_is_a_rollback"),
        description="a history with another record at a known place is taken as extending it",
    ),
    Mutant(
        id="older-history-accepted",
        file="fiscalsafe/verify/freshness.py",
        original='        if relation == "older":',
        replacement='        if relation == "never":',
        tests=fresh("test_check_remembers_and_catches_a_rolled_back_journal"),
        description="a journal that ends before the record already proven is accepted",
    ),
    Mutant(
        id="archive-rollback-by-number-only",
        file="fiscalsafe/verify/freshness.py",
        original="        if not any(a.sha256 == known.archive.sha256 for a in same_number):",
        replacement="        if not same_number:",
        tests=fresh("test_an_archive_already_proven_must_keep_its_bytes"),
        description="an archive already proven may come back with other bytes",
    ),
    Mutant(
        id="rollback-refusal-overridable",
        file="fiscalsafe/pipeline/backup_gate.py",
        original="        if rollback:",
        replacement="        if rollback and not self._allow_findings:",
        tests=fresh("test_backup_refuses_to_replace_a_newer_history_on_the_medium"),
        description="--allow-findings lets a backup replace a newer history on the medium",
    ),
    Mutant(
        id="medium-heads-ignored",
        file="fiscalsafe/pipeline/backup_medium.py",
        original="        if entry.dossier == dossier_id and head is not None:",
        replacement="        if False:",
        tests=fresh("test_backup_refuses_to_replace_a_newer_history_on_the_medium"),
        description="the backups already on the medium are not an anchor",
    ),
    Mutant(
        id="key-binding-ignored",
        file=VERIFY_MANIFEST,
        original="    if bound is not None and dossier not in bound:",
        replacement="    if False:",
        tests=fresh("test_trust_folder_binds_a_shop_key_to_its_dossiers"),
        description="a shop key bound to other dossiers vouches for any dossier",
    ),
    Mutant(
        id="self-asserted-proves",
        file="fiscalsafe/verify/report.py",
        original='    if trust is not None and trust.get("self_asserted"):',
        replacement="    if False:",
        tests=fresh("test_backup_without_an_outside_editor_key_is_refused")
        + ("tests/test_check.py::test_self_asserted_trust_is_consistent_not_proven",),
        description="a key found inside the dossier proves its origin",
    ),
    Mutant(
        id="self-asserted-advances-state",
        file="fiscalsafe/pipeline/state.py",
        original='if report.trust.get("self_asserted") or history is None',
        replacement="if history is None",
        tests=fresh("test_a_self_asserted_check_never_becomes_the_reference"),
        description="a history checked against a planted key becomes the reference",
    ),
    Mutant(
        id="photos-kind-skips-fiscal",
        file=VERIFY_FISCAL,
        original='(manifest.kind != "photos" or state.has_fiscal())',
        replacement='manifest.kind != "photos"',
        tests=fresh("test_a_photos_backup_carrying_fiscal_files_is_checked"),
        description="a backup that says it holds photos skips the fiscal checks",
    ),
    Mutant(
        id="medium-lineage-dropped",
        file="fiscalsafe/pipeline/lineage.py",
        original="            _add(later, point, journal_file)",
        replacement="            pass",
        tests=fresh("test_verify_of_a_medium_catches_a_newer_backup_of_an_older_history"),
        description="backups of one dossier on a medium need not extend each other",
    ),
    Mutant(
        id="path-reserved-name",
        file=PATHS,
        original="    if reserved_name(name):",
        replacement="    if False:",
        tests=("tests/test_paths.py::test_refused_names_and_why",),
        description="Windows reserved device names (CON, aux.txt...) pass the path policy",
    ),
    Mutant(
        id="path-trailing-dot",
        file=PATHS,
        original='    if name[-1] in ". ":',
        replacement='    if name[-1] in "":',
        tests=("tests/test_paths.py::test_refused_names_and_why",),
        description="names ending with a dot or a space, which Windows drops, pass",
    ),
    Mutant(
        id="path-colon",
        file=PATHS,
        original='    if ":" in name:',
        replacement='    if "::" in name:',
        tests=("tests/test_paths.py::test_refused_names_and_why",),
        description="a ':' (a Windows drive or stream separator) passes the path policy",
    ),
    Mutant(
        id="path-clash-casefold",
        file=PATHS,
        original=(
            '    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).casefold())'
        ),
        replacement='    return unicodedata.normalize("NFC", path)',
        tests=("tests/test_paths.py::test_clashes_by_case_unicode_form_and_file_versus_folder",),
        description="names that differ only by case are not seen to clash",
    ),
    Mutant(
        id="claim-file-name",
        file=BINDINGS,
        original="    if base != manifest.bag:",
        replacement="    if False:",
        tests=("tests/test_claims.py::test_an_older_backup_renamed_to_todays_name_is_refused",),
        description="a backup renamed (with its sidecar) to another name is accepted",
    ),
    Mutant(
        id="claim-sidecar-fields",
        file=BINDINGS,
        original="            if found != expected:",
        replacement="            if False:",
        tests=(
            "tests/test_claims.py::test_a_sidecar_claim_that_disagrees_with_the_manifest_is_refused",
        ),
        description="a sidecar's claims need not agree with the signed manifest",
    ),
    Mutant(
        id="created-in-the-future",
        file=BINDINGS,
        original="    if created > now + CLOCK_SKEW:",
        replacement="    if created > now + CLOCK_SKEW * 1000:",
        tests=("tests/test_claims.py::test_a_backup_from_the_verifiers_future_is_refused",),
        description="a creation time in the verifier's future is accepted",
    ),
    Mutant(
        id="member-mode-unsigned",
        file=BINDINGS,
        original="    if got.mode != mode:",
        replacement="    if False:",
        tests=("tests/test_claims.py::test_a_payload_mode_other_than_the_signed_one_is_refused",),
        description="a member's mode need not be the signed one",
    ),
    Mutant(
        id="container-skippable-frame",
        file=BINDINGS,
        original="    if shape.skippable_frames:",
        replacement="    if False:",
        tests=(
            "tests/test_claims.py::test_a_skippable_zstd_frame_is_refused",
            "tests/test_claims.py::test_a_tar_cut_into_several_zstd_frames_is_judged_by_its_bytes",
        ),
        description="a skippable zstd frame, which carries any bytes, is accepted",
    ),
    Mutant(
        id="container-hollow-zstd",
        file=BINDINGS,
        original="    if shape.hollow_zstd:",
        replacement="    if False:",
        tests=("tests/test_claims.py::test_blocks_and_frames_that_decode_to_nothing_are_refused",),
        description="zstd blocks or frames that decode to nothing, and carry bytes, are accepted",
    ),
    Mutant(
        id="zstd-empty-block-uncounted",
        file="fiscalsafe/formats/zstdframes.py",
        original="            elif block_type != 0 or not self._last:",
        replacement="            elif False:",
        tests=("tests/test_claims.py::test_blocks_and_frames_that_decode_to_nothing_are_refused",),
        description="a zstd block of size 0 that carries a byte goes unnoticed",
    ),
    # Remembered frames
    Mutant(
        id="frames-index-not-authenticated",
        file=FRAMES,
        original="    if len(index) != length or not hmac.compare_digest(_mac(key, index), mac):",
        replacement="    if len(index) != length:",
        tests=(
            f"{REMEMBERED_FRAMES}::test_a_forged_index_is_refused",
            f"{REMEMBERED_FRAMES}::test_frames_of_another_shop_key_are_refused",
        ),
        description="a remembered frame is taken without checking the index's authentication",
    ),
    Mutant(
        id="frames-frame-bytes-unchecked",
        file=FRAMES,
        original="        if len(data) != size or hashlib.sha256(data).digest() != sha256:",
        replacement="        if len(data) != size:",
        tests=(f"{REMEMBERED_FRAMES}::test_a_damaged_frame_is_compressed_again",),
        description="a remembered frame is taken without checking its bytes",
    ),
    Mutant(
        id="frames-prefix-unchecked",
        file=FRAMES,
        original="        same = entry is not None and entry[0] == prefix_sha256",
        replacement="        same = entry is not None",
        tests=(
            f"{REMEMBERED_FRAMES}::test_same_size_and_time_do_not_make_a_segment_the_same",
            f"{REMEMBERED_FRAMES}::test_a_file_changed_in_place_is_compressed_from_the_change_on",
        ),
        description="a remembered frame is taken for bytes other than the ones it was made from",
    ),
    Mutant(
        id="frames-taken-undecoded",
        file=FRAMES,
        original="        if not checked and not decodes_to(data, segment):",
        replacement="        if False:",
        tests=(
            f"{REMEMBERED_FRAMES}::test_a_frame_that_does_not_decode_to_its_segment_is_not_taken",
        ),
        description="a kept frame is taken the first time without decoding it",
    ),
    # Remembered proofs
    Mutant(
        id="proof-record-not-authenticated",
        file=PROOFS,
        original="            if not hmac.compare_digest(self._mac(record), str(mac)):",
        replacement="            if False:",
        tests=remembered(
            "test_a_forged_record_is_refused", "test_a_forged_journal_record_is_refused"
        ),
        description="a remembered proof is used without checking its authentication code",
    ),
    Mutant(
        id="proof-context-ignored",
        file=PROOFS,
        original="            if all(record[k] == v for k, v in self.context.fields().items()):",
        replacement="            if True:",
        tests=remembered(
            "test_a_trust_change_forces_a_full_proof",
            "test_a_record_copied_from_another_dossier_is_refused",
            "test_another_checker_version_forces_a_full_proof",
        ),
        description="a remembered proof made under another trust, dossier or version is used",
    ),
    Mutant(
        id="proof-digest-ignored",
        file=PROOFS,
        original="        doc = self._load().get((file, sha256))",
        replacement=(
            "        doc = next((d for (f, _), d in self._load().items() if f == file), None)"
        ),
        tests=remembered("test_a_byte_changed_after_a_remembered_proof_is_caught"),
        description="a remembered proof is used for other bytes of the same file",
    ),
    Mutant(
        id="proof-key-not-the-shops",
        file=PROOFS,
        original="        return cls(path, hkdf_sha256(seed, HKDF_INFO), context)",
        replacement='        return cls(path, hkdf_sha256(b"", HKDF_INFO), context)',
        tests=remembered("test_a_record_from_another_shop_key_is_refused"),
        description="the records' key does not depend on the shop's secret key",
    ),
    Mutant(
        id="proof-self-asserted-trust",
        file=PROOFS,
        original="        if keys.self_asserted or not keys.keys:",
        replacement="        if not keys.keys:",
        tests=remembered("test_without_state_or_with_a_self_asserted_key_nothing_is_remembered"),
        description="a proof against the dossier's own key is remembered and reused",
    ),
    Mutant(
        id="proof-packaged-bytes-unbound",
        file="fiscalsafe/pipeline/backup_payload.py",
        original="        if packaged.get(file, sha256) != sha256:",
        replacement="        if False:",
        tests=remembered(
            "test_an_archive_restored_between_the_packaging_and_its_full_proof_is_refused"
        ),
        description="a backup packages archive bytes other than those proven",
    ),
    Mutant(
        id="journal-read-bytes-unbound",
        file="fiscalsafe/pipeline/backup_payload.py",
        original="    proven.update(report.read_digests)",
        replacement="    pass",
        tests=(
            "tests/test_backup.py::"
            "test_a_journal_rewritten_after_the_check_read_it_fails_the_backup[journal.jet]",
            "tests/test_backup.py::"
            "test_a_journal_rewritten_after_the_check_read_it_fails_the_backup[journal.head]",
        ),
        description="a backup packages a journal other than the one the check proved",
    ),
    Mutant(
        id="proof-not-confirmed-by-packaging",
        file="fiscalsafe/pipeline/check.py",
        original="            same = digest == remembered and self._proofs is not None",
        replacement="            same, digest = self._proofs is not None, remembered",
        tests=remembered(
            "test_a_byte_changed_after_a_remembered_proof_is_caught",
            "test_an_archive_rewritten_after_the_lookup_is_proven_as_packaged",
        ),
        description="a backup takes a remembered proof without the packaged bytes' digest",
    ),
    Mutant(
        id="journal-prefix-bytes-unchecked",
        file="fiscalsafe/pipeline/fiscal.py",
        original="    if prefix is not None and reader is not None and reader.prefix_matches:",
        replacement="    if prefix is not None:",
        tests=remembered("test_a_journal_changed_after_a_remembered_proof_is_verified_in_full"),
        description="a remembered journal proof is used for a journal not starting with its bytes",
    ),
    Mutant(
        id="journal-record-stands-for-archive",
        file=PROOFS,
        original='            return JournalPrefix.from_json(record["prefix"])',
        replacement='            return JournalPrefix(1 << 40, "", 1 << 40)',
        tests=remembered("test_a_day_later_only_the_new_journal_records_are_verified"),
        description="the journal's remembered prefix is not the one recorded",
    ),
    Mutant(
        id="medium-reuse-ignores-digest",
        file="fiscalsafe/pipeline/fiscal.py",
        original="            earlier = self._run_results.get((digest, self._key_state, self.tz))",
        replacement=(
            "            earlier = next((r for r in self._run_results.values()"
            " if r.file == name), None)"
        ),
        tests=remembered("test_a_medium_proves_identical_archive_bytes_once"),
        description="verify of a medium reuses a result for other bytes of the same file",
    ),
]
