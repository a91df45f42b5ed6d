"""Verification step (3), members, and what it feeds to steps (4) and (7).

Each tar member is judged as it streams past: names, kinds and duplicates (3); payload
files are hashed for the bag and completeness checks (4, 6); tag files are held, and
fiscal files handed to the fiscal checker (7), within one memory budget.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import posixpath
from pathlib import Path
from typing import Any, BinaryIO

from fiscalsafe.errors import (
    FiscalsafeError,
)
from fiscalsafe.formats import paths
from fiscalsafe.formats.bagit import SUPPORTED_ALGORITHMS
from fiscalsafe.formats.dossier import Profile, parse_identity
from fiscalsafe.formats.layout import MANIFEST_PATH
from fiscalsafe.formats.manifest import MAX_MANIFEST_BYTES
from fiscalsafe.formats.tarstream import DIRECTORY, REGULAR, TarReader
from fiscalsafe.i18n import _
from fiscalsafe.pipeline import bindings
from fiscalsafe.pipeline.check import load_trust, trust_json
from fiscalsafe.pipeline.fiscal import FiscalChecker
from fiscalsafe.pipeline.hash_thread import BackgroundHashes
from fiscalsafe.verify.bag import BagValidator
from fiscalsafe.verify.coverage import MAX_IDLE_DAYS
from fiscalsafe.verify.findings import Finding, finding
from fiscalsafe.verify.report import CheckReport

CHUNK = 1024 * 1024


MAX_TAG_BYTES = 64 * 1024 * 1024


MAX_FISCAL_FILE = 256 * 1024 * 1024


#: One budget for everything held in memory at once: tag files (the manifests among
#: them) and fiscal files waiting for the fiscal check. A fiscalsafe backup puts the
#: identity and the editor key first, so archives go to the checker as they arrive; a
#: hostile stream may instead declare many large tag or fiscal files that compress to
#: nothing, and must then fail with a finding, not exhaust memory.
MAX_HELD_FISCAL = 512 * 1024 * 1024


class Extractor:
    """Where ``restore`` writes payload files while they are verified (a staging folder)."""

    def open(self, relpath: str, mode: int) -> BinaryIO:  # pragma: no cover - interface
        raise NotImplementedError

    def close(
        self, relpath: str, fh: BinaryIO, mode: int, mtime_ns: int
    ) -> None:  # pragma: no cover
        raise NotImplementedError


def member_problem(rel: str, kind: str, name_ok: bool) -> str | None:
    if not name_ok:
        return _("name is not valid UTF-8")
    if kind not in (REGULAR, DIRECTORY):
        return _("{kind} members are refused", kind=kind)
    name = rel.rstrip("/") if kind == DIRECTORY else rel
    inner = name.partition("/")[2]  # the path inside the bag's folder
    reason = paths.unsafe_reason(name) or (paths.bag_path_reason(inner) if inner else None)
    if reason is not None:
        return reason
    if posixpath.normpath(rel) != rel.rstrip("/"):
        return _("path is not canonical")
    return None


class StreamState:
    """Everything the one pass over the members collects."""

    def __init__(
        self,
        profile: Profile,
        extractor: Extractor | None,
        trust: list[Path] | None = None,
        workers: int | None = None,
        bag_only: bool = False,
    ):
        self.profile = profile
        self.extractor = extractor
        self.trust = list(trust or [])
        self.workers = workers
        self.held = 0  # bytes of fiscal files kept in memory, not yet given to the checker
        self.tag_bytes = 0  # bytes of tag files kept in memory
        self.peak_held = 0  # the most ever held at once (fiscal + tag files)
        self.identity = None
        self._early_start_tried = False
        # A fiscalsafe backup lists SHA-256 only; any other bag may use any algorithm.
        self.algorithms = tuple(sorted(SUPPORTED_ALGORITHMS)) if bag_only else ("sha256",)
        self.bag = BagValidator(algorithms=self.algorithms)
        self.bag_name: str | None = None
        self.names: set[str] = set()
        self.folded: dict[str, str] = {}
        self.folded_files: set[str] = set()
        self.folded_folders: set[str] = set()
        self.payload: dict[str, tuple[int, str]] = {}
        self.payload_bytes = 0
        self.tags: dict[str, bytes] = {}
        # Each file member's mode, time and pax records, and the directory members: judged
        # against the signed manifest once it is verified.
        self.meta: dict[str, bindings.MemberMeta] = {}
        self.directories: list[str] = []
        self.fiscal_files: dict[str, bytes] = {}
        self.archives_pending: list[tuple[str, bytes]] = []
        self.checker: FiscalChecker | None = None
        self.journal_submitted = False
        # Payload digests, beside the decompression (see ``hash_thread``).
        self._hashes: BackgroundHashes | None = None

    def member(self, m, tar: TarReader, add) -> None:
        top, __, rel = m.name.partition("/")
        if self.bag_name is None:
            self.bag_name = top
        where = {"file": m.name, "offset": m.offset}
        problem = member_problem(m.name, m.type, m.name_ok)
        if problem is None and top != self.bag_name:
            problem = _("outside the bag's folder")
        if problem:
            add(
                finding(
                    "MEMBER_UNSAFE",
                    _("{problem}; not read", problem=problem),
                    found=m.type,
                    **where,
                )
            )
            self.bag.reject_member(rel or m.name, problem)
            return
        if m.name.rstrip("/") in self.names:
            add(finding("MEMBER_DUPLICATE", _("the same name appears twice"), **where))
            return
        self.names.add(m.name.rstrip("/"))
        folded = paths.name_key(m.name.rstrip("/"))
        if folded in self.folded:
            add(
                finding(
                    "MEMBER_DUPLICATE",
                    _(
                        "name clashes with another on case-insensitive or "
                        "Unicode-normalising file systems (Windows, macOS)"
                    ),
                    expected=self.folded[folded],
                    **where,
                )
            )
            return
        self.folded[folded] = m.name.rstrip("/")
        # A file below a file, or a file where a folder was implied, cannot be extracted.
        ancestors = [folded.rsplit("/", n)[0] for n in range(1, folded.count("/") + 1)]
        if any(a in self.folded_files for a in ancestors) or (
            m.type != DIRECTORY and folded in self.folded_folders
        ):
            shared = _("a file and a folder share this name")
            add(finding("MEMBER_UNSAFE", _("{problem}; not read", problem=shared), **where))
            self.bag.reject_member(rel, shared)
            return
        self.folded_folders.update(ancestors)
        (self.folded_folders if m.type == DIRECTORY else self.folded_files).add(folded)
        if m.type == DIRECTORY or not rel:
            self.directories.append(m.name.rstrip("/"))
            if rel:
                self.bag.add_directory(rel)
            return
        self.meta[rel] = bindings.MemberMeta(m.mode, m.mtime_ns, frozenset(m.pax))
        if rel.startswith("data/"):
            self._payload(rel[5:], m, tar, add)
        else:
            self._tag(rel, m, tar, add)

    def _payload(self, path: str, m, tar: TarReader, add) -> None:
        if self._hashes is None:
            self._hashes = BackgroundHashes(CHUNK, self.algorithms)
        fiscal = self._is_fiscal(path)
        keep = fiscal and m.size <= MAX_FISCAL_FILE and self._fits(m.size)
        if fiscal and not keep:
            add(
                finding(
                    "MEMBER_UNSAFE",
                    _(
                        "fiscal file of {size} bytes not checked: more than fiscalsafe holds "
                        "in memory",
                        size=m.size,
                    ),
                    file=m.name,
                    offset=m.offset,
                )
            )
        kept = bytearray() if keep else None
        out = self.extractor.open(path, m.mode) if self.extractor else None
        size = 0
        while chunk := tar.read(CHUNK):
            self._hashes.feed(chunk)
            size += len(chunk)
            if kept is not None:
                kept += chunk
            if out is not None:
                out.write(chunk)
        if out is not None:
            self.extractor.close(path, out, m.mode, m.mtime_ns)
        # The thread is at most a few chunks behind: this waits for little.
        digests = {
            alg: h.hexdigest()
            for alg, h in zip(self.algorithms, self._hashes.segment().result(), strict=True)
        }
        self.payload[path] = (size, digests["sha256"])
        self.payload_bytes += size
        self.bag.add_file(f"data/{path}", size, digests)
        if kept is not None:
            self.held += len(kept)
            self._note_peak()
            self._fiscal(path, bytes(kept))

    def end_pass(self) -> None:
        """After the pass over the members, whatever it ended with: no thread outlives it."""
        if self._hashes is not None:
            self._hashes.close()
            self._hashes = None

    def _fits(self, size: int) -> bool:
        return self.held + self.tag_bytes + size <= MAX_HELD_FISCAL

    def _note_peak(self) -> None:
        self.peak_held = max(self.peak_held, self.held + self.tag_bytes)

    def _tag(self, rel: str, m, tar: TarReader, add) -> None:
        limit = MAX_MANIFEST_BYTES if rel == MANIFEST_PATH else MAX_TAG_BYTES
        if m.size > limit:
            add(
                finding(
                    "MEMBER_UNSAFE",
                    _("tag file of {size} bytes exceeds the limit", size=m.size),
                    file=m.name,
                    offset=m.offset,
                )
            )
            self.bag.reject_member(rel, _("tag file too large"))
            return
        if not self._fits(m.size):
            add(
                finding(
                    "MEMBER_UNSAFE",
                    _(
                        "tag file of {size} bytes not read: tag and fiscal files exceed the "
                        "{budget}-byte memory budget",
                        size=m.size,
                        budget=MAX_HELD_FISCAL,
                    ),
                    file=m.name,
                    offset=m.offset,
                )
            )
            self.bag.reject_member(rel, _("tag files too large in total"))
            return
        data = bytearray()
        while chunk := tar.read(CHUNK):
            data += chunk
        content = bytes(data)
        self.tags[rel] = content
        self.tag_bytes += len(content)
        self._note_peak()
        digests = {alg: hashlib.new(alg, content).hexdigest() for alg in self.algorithms}
        self.bag.add_file(rel, len(content), digests, content=content)

    def _is_fiscal(self, path: str) -> bool:
        p = self.profile
        return path in (p.identity, p.editor_key, p.journal, p.journal_head) or fnmatch.fnmatchcase(
            path, p.archives
        )

    def _fiscal(self, path: str, data: bytes) -> None:
        if fnmatch.fnmatchcase(path, self.profile.archives):
            if self.checker is None and not self._early_start_tried and self._keys_seen():
                self._early_start_tried = True
                self.start_checker(self.trust, self.workers)
            if self.checker is not None:
                self.checker.add_archive(path, data)
                self.held -= len(data)
            else:
                self.archives_pending.append((path, data))
        else:
            self.fiscal_files[path] = data
            self._submit_journal(final=False)

    def _submit_journal(self, final: bool) -> None:
        """Give the journal to the checker as soon as it and its head have both streamed
        by (a fiscalsafe backup stores them before the archives): checked while the
        archives are, it does not run alone on one core after them. Otherwise at the
        end, with whatever arrived."""
        p = self.profile
        if self.checker is None or self.journal_submitted:
            return
        if not final and not (
            p.journal in self.fiscal_files and p.journal_head in self.fiscal_files
        ):
            return
        self.journal_submitted = True
        journal = self.fiscal_files.pop(p.journal, None)
        self.held -= len(journal or b"")
        self.checker.add_journal(
            p.journal,
            journal,
            p.journal_head,
            self.fiscal_files.get(p.journal_head),
        )

    def _keys_seen(self) -> bool:
        p = self.profile
        return p.identity in self.fiscal_files and (
            bool(self.trust) or p.editor_key in self.fiscal_files
        )

    # Archives are checked while the stream goes on, once the identity and keys are known.
    def start_checker(self, trust: list[Path], workers: int | None) -> tuple[Any, list[Finding]]:
        p = self.profile
        identity_bytes = self.fiscal_files.get(p.identity)
        if identity_bytes is None:
            return None, [
                finding(
                    "DOSSIER_MALFORMED",
                    _("the backup holds no {identity}", identity=p.identity),
                    file=f"data/{p.identity}",
                )
            ]
        try:
            identity = parse_identity(identity_bytes)
        except FiscalsafeError as exc:
            return None, [finding("DOSSIER_MALFORMED", str(exc), file=f"data/{p.identity}")]
        keys, trust_findings = load_trust(trust, self.fiscal_files.get(p.editor_key), p.editor_key)
        self.checker = FiscalChecker(identity.dossier_id, identity.tz, keys, workers)
        self.checker.extra_findings.extend(trust_findings)
        for path, data in self.archives_pending:
            self.checker.add_archive(path, data)
            self.held -= len(data)
        self.archives_pending = []
        self.identity = identity
        self._submit_journal(final=False)
        return identity, []

    def has_fiscal(self) -> bool:
        return self.checker is not None or bool(self.fiscal_files or self.archives_pending)

    def finish_fiscal(
        self,
        trust,
        require_trust,
        as_of,
        years,
        workers,
        *,
        max_idle_days: int = MAX_IDLE_DAYS,
        known_until: dt.datetime | None = None,
    ) -> CheckReport | None:
        if self.checker is not None:
            identity, problems = self.identity, []
        else:
            identity, problems = self.start_checker(trust, workers)
        if identity is None:
            report = CheckReport("?", "", as_of.isoformat(), years, {}, None)
            report.findings.extend(problems)
            return report
        checker = self.checker
        if require_trust and checker.keys.self_asserted:
            checker.extra_findings.append(
                finding(
                    "TRUST_NOT_ESTABLISHED",
                    _("--require-trust: pass the editor's key with --trust"),
                )
            )
        self._submit_journal(final=True)
        report = CheckReport(
            identity.dossier_id, "", as_of.isoformat(), years, trust_json(checker.keys), None
        )
        return checker.finish(
            report, as_of, years, max_idle_days=max_idle_days, known_until=known_until
        )

    def close(self) -> None:
        if self.checker is not None:
            self.checker.close()
