"""The fiscal check engine: archives verified in parallel, then chain, journal, coverage.

Shared by ``check`` (files in a dossier) and ``verify`` (members streamed out of a
backup): callers feed archives (a path or bytes) and the journal, then ``finish``.
The journal and each archive are tasks for worker processes (``workers.py``), so
signature verification uses every core while the calling process goes on (a backup
packages the dossier meanwhile).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import io
import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, ProcessPoolExecutor, wait
from contextvars import ContextVar
from pathlib import Path

from fiscalsafe import fsio, i18n
from fiscalsafe.errors import MalformedError, OperationalError, UnsupportedVersionError
from fiscalsafe.formats import journal as fj
from fiscalsafe.formats.archive import MAX_ARCHIVE_BYTES
from fiscalsafe.i18n import N_, _
from fiscalsafe.pipeline import signature_progress
from fiscalsafe.pipeline import workers as worker_processes
from fiscalsafe.pipeline.journal_prefix import HashingReader, JournalPrefix
from fiscalsafe.verify.archive_chain import verify_archive_chain
from fiscalsafe.verify.archives import ArchiveResult, verify_archive
from fiscalsafe.verify.coverage import MAX_IDLE_DAYS, compute_coverage
from fiscalsafe.verify.crosscheck import cross_check
from fiscalsafe.verify.findings import Finding, finding
from fiscalsafe.verify.journal import JournalResult, verify_journal
from fiscalsafe.verify.report import CheckReport
from fiscalsafe.verify.trust import TrustedKeys
from fiscalsafe.verify.verified import proven_archives, verified_journal

_worker_keys: dict[tuple, TrustedKeys] = {}
#: Within one run over several backups (``verify`` of a medium): the results of archive
#: bytes already checked, by (SHA-256, trusted keys, time zone). In memory only.
_run_results: ContextVar[dict[tuple, ArchiveResult] | None] = ContextVar(
    "run_results", default=None
)
#: Within the same run: the journals proven in full, by (trusted keys, dossier, file), as
#: prefix points (``JournalResult.prefix_points``). The backups of a medium hold the same
#: journal, a few days longer or shorter.
_run_journals: ContextVar[dict[tuple, dict[int, tuple[bytes, int]]] | None] = ContextVar(
    "run_journals", default=None
)
#: How many of a journal's last records are kept as prefix points: a week of records many
#: times over, and a bound on memory whatever the journal's length.
MAX_PREFIX_POINTS = 20_000


@contextlib.contextmanager
def prove_each_archive_once() -> Iterator[None]:
    """Within this block, identical archive bytes under the same trust and time zone are
    verified once; later copies take that result (under their own file name)."""
    token = _run_results.set({})
    journals = _run_journals.set({})
    try:
        yield
    finally:
        _run_journals.reset(journals)
        _run_results.reset(token)


def _as_file(result: ArchiveResult, name: str) -> ArchiveResult:
    """An earlier result of the same bytes, for ``name``: nothing was checked again."""
    findings = [
        dataclasses.replace(f, file=name) if f.file == result.file else f for f in result.findings
    ]
    return dataclasses.replace(
        result, file=name, findings=findings, signatures_checked=0, remembered=True
    )


MAX_BYTES_IN_FLIGHT = 16 * 1024 * 1024
MAX_TASKS_IN_FLIGHT = 256


def _keys(key_state: tuple) -> TrustedKeys:
    keys = _worker_keys.get(key_state)
    if keys is None:
        keys = _worker_keys[key_state] = TrustedKeys.from_der(key_state)
    return keys


def _archive_task(
    name: str, source: bytes | str, key_state: tuple, tz: str, sha256: str | None = None
) -> ArchiveResult:
    with worker_processes.cyclic_gc_paused():
        return _check_archive(name, source, key_state, tz, sha256)


def _check_archive(
    name: str, source: bytes | str, key_state: tuple, tz: str, sha256: str | None = None
) -> ArchiveResult:
    keys = _keys(key_state)
    if isinstance(source, str):
        # Opened as a regular file on the descriptor: one swapped for a FIFO after the
        # walk must not make a worker wait for ever.
        try:
            fh = fsio.open_regular(Path(source), N_("fiscal archive"))
        except MalformedError as exc:
            result = ArchiveResult(file=name, sha256="")
            result.findings.append(finding("ARCHIVE_MALFORMED", str(exc), file=name))
            return result
        if fh is None:
            raise OperationalError(_("{name} vanished during the check; run it again", name=name))
        with fh:
            # read(n) allocates n bytes up front: ask for what the file holds, plus one
            # byte to notice a file larger than the limit (or growing).
            size = os.fstat(fh.fileno()).st_size
            data = fh.read(min(size, MAX_ARCHIVE_BYTES) + 1)
    else:
        data = source
    if len(data) > MAX_ARCHIVE_BYTES:
        result = ArchiveResult(file=name, sha256="")
        result.findings.append(
            finding("ARCHIVE_MALFORMED", _("archive exceeds the size limit"), file=name)
        )
        return result
    return verify_archive(name, data, keys, tz, sha256=sha256 if data is source else None)


def _journal_task(
    file: str,
    data: bytes | Path,
    head_file: str,
    head: bytes | None,
    key_state: tuple,
    dossier: str,
    prefix: JournalPrefix | None = None,
    points: bool = False,
) -> JournalResult:
    with worker_processes.cyclic_gc_paused():
        keys = _keys(key_state)
        return check_journal(file, data, head_file, head, keys, dossier, prefix, points)


def check_journal(
    file: str,
    data: bytes | Path | None,
    head_file: str,
    head: bytes | None,
    keys: TrustedKeys,
    dossier_id: str,
    prefix: JournalPrefix | None = None,
    points: bool = False,
) -> JournalResult:
    """Read and verify the event journal, given as bytes or as a path read as a stream.

    A journal that starts with the bytes of ``prefix`` (a journal proven before under the
    same keys) has the signatures of those records taken as verified. With ``points``, a
    journal (bytes) proven in full comes with its prefix points."""
    items: list = []
    framing_error = None
    version_error = None
    reader = None
    try:
        if isinstance(data, Path):
            # Never through a link, never blocking on a FIFO swapped in after the walk.
            stream = fsio.open_regular(data, N_("event journal"))
        else:
            stream = io.BytesIO(data) if data is not None else None
        if stream is None:
            result = JournalResult()
            result.findings.append(finding("JOURNAL_MISSING", _("no event journal"), file=file))
            return result
        with stream:
            reader = HashingReader(stream, prefix)
            for item in fj.iter_records(reader):
                items.append(item)
    except UnsupportedVersionError as exc:
        version_error = str(exc)
    except MalformedError as exc:
        framing_error = str(exc)
    except OSError as exc:
        raise OperationalError(
            _("cannot read {name}: {error}", name=file, error=exc.strerror)
        ) from None
    if version_error is not None:
        result = JournalResult()
        result.findings.append(finding("JOURNAL_VERSION_UNSUPPORTED", version_error, file=file))
        return result
    if not items:
        items = ["?"]
    proven = 0
    if prefix is not None and reader is not None and reader.prefix_matches:
        proven = prefix.records
    result = verify_journal(
        file, items, head_file, head, keys, framing_error, dossier_id, proven_records=proven
    )
    if reader is not None and framing_error is None:
        result.source_bytes, result.source_sha256 = reader.nbytes, reader.digest()
    if points and isinstance(data, bytes) and provable_prefix(result) is not None:
        result.prefix_points = _prefix_points(data, result)
    return result


def _prefix_points(data: bytes, result: JournalResult) -> dict[int, tuple[bytes, int]]:
    """The digest of ``data`` up to the end of each of its last records (a journal that
    verified in full: its records follow one another with nothing between)."""
    ends = [e.offset for e in result.entries[1:]] + [result.source_bytes]
    first_kept = max(0, len(ends) - MAX_PREFIX_POINTS)
    view = memoryview(data)
    digest = hashlib.sha256()
    points: dict[int, tuple[bytes, int]] = {}
    start = 0
    for index, end in enumerate(ends):
        digest.update(view[start:end])
        start = end
        if index >= first_kept:
            points[end] = (digest.digest(), index + 1)
    return points


def _proven_in_run(data: bytes, points: dict[int, tuple[bytes, int]]) -> JournalPrefix | None:
    """A prefix of ``data`` that a journal proven earlier in the run ends a record with.
    Tried: all of ``data`` (an older journal than one proven), then the longest point
    shorter than it (a newer journal than one proven): two hashes, never one per record.
    The hash here only picks the candidate; ``check_journal`` hashes the bytes it verifies
    and takes nothing as proven unless they start with it."""
    shorter = [offset for offset in points if offset < len(data)]
    for offset in [len(data), *([max(shorter)] if shorter else [])]:
        point = points.get(offset)
        if point is not None and hashlib.sha256(memoryview(data)[:offset]).digest() == point[0]:
            return JournalPrefix(offset, point[0].hex(), point[1])
    return None


def provable_prefix(result: JournalResult) -> JournalPrefix | None:
    """What a journal that verified in full lets a later run skip: all of its bytes."""
    whole = result.entries and result.verified_count == len(result.entries)
    if not (whole and result.intact and result.source_sha256):
        return None
    return JournalPrefix(result.source_bytes, result.source_sha256, len(result.entries))


def _worker_died() -> OperationalError:
    # A worker died under us (the out-of-memory killer, a kill -9): what it held was never
    # verified, so there is no verdict to give.
    return OperationalError(
        _(
            "a signature-verification worker process died (out of memory, or killed); "
            "nothing was proven: run it again"
        )
    )


class FiscalChecker:
    """Feed archives and the journal in any order, then ``finish``."""

    def __init__(self, dossier_id: str, tz: str, keys: TrustedKeys, workers: int | None = None):
        self.dossier_id = dossier_id
        self.tz = tz
        self.keys = keys
        self._key_state = keys.to_der()
        self._workers = workers or worker_processes.default_workers()
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[Future] = []
        self._sizes: dict[int, int] = {}
        self._inline: list[ArchiveResult] = []
        self.journal: JournalResult | None = None
        self._journal_future: Future | None = None
        self.journal_file = "jet/journal.jet"
        self._head: tuple[str, str] | None = None
        self.extra_findings: list[Finding] = []
        self._run_results = _run_results.get()
        self._run_journals = _run_journals.get()
        #: Every archive's result, once ``finish`` has run.
        self.results: list[ArchiveResult] = []
        signature_progress.track(self)

    def __enter__(self) -> FiscalChecker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def progress(self) -> signature_progress.SignatureCount:
        """Archives and journal checked so far, out of those queued, and their signatures
        (safe to call from another thread while the check runs)."""
        futures = list(self._futures)
        if self._journal_future is not None:
            futures.append(self._journal_future)
        over = [f for f in futures if f.done() and not f.cancelled() and f.exception() is None]
        results = list(self._inline) + [f.result() for f in over]
        inline_journal = self.journal is not None and self._journal_future is None
        if inline_journal:
            results.append(self.journal)
        queued = len(self._inline) + len(futures) + int(inline_journal)
        return signature_progress.SignatureCount(
            sum(r.signatures_checked for r in results), len(results), queued
        )

    def close(self) -> None:
        signature_progress.settle(self)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _get_pool(self) -> ProcessPoolExecutor | None:
        if self._workers <= 1:
            return None
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=worker_processes.start_server(),
                initializer=worker_processes.init_worker,
                initargs=(i18n.language(),),
            )
        return self._pool

    @staticmethod
    def _submit(pool: ProcessPoolExecutor, fn, *args) -> Future:
        try:
            with worker_processes.signals_held():
                return pool.submit(fn, *args)
        except BrokenExecutor:
            raise _worker_died() from None

    def pending(self) -> int:
        return sum(1 for f in self._futures if not f.done())

    def add_result(self, result: ArchiveResult) -> None:
        """An archive already proven: a remembered proof of the same bytes."""
        self._inline.append(result)

    def add_archive(self, name: str, source: bytes | Path) -> None:
        """Queue one archive. ``source`` is its bytes or its path."""
        digest = None
        if self._run_results is not None and isinstance(source, bytes):
            # Hashed once here; the check reuses the digest rather than hashing again.
            digest = hashlib.sha256(source).hexdigest()
            earlier = self._run_results.get((digest, self._key_state, self.tz))
            if earlier is not None:
                self._inline.append(_as_file(earlier, name))
                return
        arg = str(source) if isinstance(source, Path) else source
        pool = self._get_pool()
        if pool is None:
            self._inline.append(_archive_task(name, arg, self._key_state, self.tz, digest))
        else:
            # Bound the archive bytes in flight: enough that a streamed verify moves on to the
            # bulk data while the workers still check signatures, never so much that memory
            # grows with the dossier. A path costs nothing to queue, and never waits: a backup
            # queues every archive, then packages while the workers verify.
            size = len(arg) if isinstance(arg, bytes) else 0
            while size:
                running = [f for f in self._futures if not f.done()]
                queued = sum(self._sizes.get(id(f), 0) for f in running)
                if not running or (
                    queued + size <= MAX_BYTES_IN_FLIGHT and len(running) < MAX_TASKS_IN_FLIGHT
                ):
                    break
                wait(running, return_when=FIRST_COMPLETED)
            for f in self._futures:
                if f.done():
                    self._sizes.pop(id(f), None)
            future = self._submit(pool, _archive_task, name, arg, self._key_state, self.tz, digest)
            self._sizes[id(future)] = size
            self._futures.append(future)

    def add_journal(
        self,
        file: str,
        data: bytes | Path | None,
        head_file: str,
        head: bytes | None,
        prefix: JournalPrefix | None = None,
    ) -> None:
        """The journal as bytes (streamed out of a backup) or a path (read as a stream);
        ``prefix``, a remembered proof of its first records (``check_journal``).

        With workers it is one more task, so the calling process stays free (a backup
        packages the dossier meanwhile)."""
        self.journal_file = file
        self._head = (head_file, hashlib.sha256(head).hexdigest()) if head is not None else None
        run = self._run_journals
        points = run is not None and isinstance(data, bytes)
        if points and prefix is None:
            known = run.get((self._key_state, self.dossier_id, file))
            prefix = _proven_in_run(data, known) if known else None
        pool = self._get_pool() if data is not None else None
        if pool is None:
            self.journal = check_journal(
                file, data, head_file, head, self.keys, self.dossier_id, prefix, points
            )
            return
        self._journal_future = self._submit(
            pool,
            _journal_task,
            *(file, data, head_file, head, self._key_state, self.dossier_id, prefix, points),
        )

    def done(self) -> bool:
        """True once every queued task has finished: ``finish`` will not wait."""
        return all(f.done() for f in self._futures) and (
            self._journal_future is None or self._journal_future.done()
        )

    def finish(
        self,
        report: CheckReport,
        as_of: dt.datetime,
        years: int,
        *,
        max_idle_days: int = MAX_IDLE_DAYS,
        known_until: dt.datetime | None = None,
    ) -> CheckReport:
        try:
            results = self._inline + [f.result() for f in self._futures]
            if self._journal_future is not None:
                self.journal = self._journal_future.result()
        except BrokenExecutor:
            raise _worker_died() from None
        self.close()
        results.sort(key=lambda r: r.file)
        self.results = results
        if self._run_results is not None:
            for r in results:
                if r.sha256 and not r.remembered:
                    self._run_results[(r.sha256, self._key_state, self.tz)] = r
        journal = self.journal or JournalResult()
        if self._run_journals is not None and journal.prefix_points:
            known = self._run_journals.setdefault(
                (self._key_state, self.dossier_id, self.journal_file), {}
            )
            known.update(journal.prefix_points)
            journal.prefix_points = {}
        findings = list(self.extra_findings)
        for r in results:
            findings.extend(r.findings)
        findings.extend(verify_archive_chain(results, self.dossier_id, self.tz))
        findings.extend(journal.findings)
        # From here on, only what verified: the proven archives and the journal's prefix.
        proven = proven_archives(results)
        verified = verified_journal(journal)
        proven_files = {a.file for a in proven}
        unproven = [r.file for r in results if r.file not in proven_files]
        findings.extend(cross_check(proven, verified, self.journal_file, unproven))
        coverage, cov_findings = compute_coverage(
            proven,
            verified,
            as_of,
            years,
            self.tz,
            max_idle_days=max_idle_days,
            known_until=known_until,
        )
        findings.extend(cov_findings)
        report.findings.extend(findings)
        report.coverage = coverage
        report.proven_archives = proven
        if journal.source_sha256:
            report.read_digests[self.journal_file] = journal.source_sha256
        if self._head is not None:
            report.read_digests[self._head[0]] = self._head[1]
        report.history = verified.history(self.dossier_id)
        report.stats = {
            "archives": len(results),
            "tickets": sum(r.ticket_count for r in results),
            "journal_records": len(journal.entries),
            "signatures_verified": sum(r.signatures_checked for r in results)
            + journal.signatures_checked,
        }
        remembered = sum(1 for r in results if r.remembered)
        report.archive_proofs = {"verified": len(results) - remembered, "remembered": remembered}
        if journal.signatures_remembered:
            report.archive_proofs["journal_signatures_remembered"] = journal.signatures_remembered
        if verified.head is not None:
            report.journal_head = verified.head.to_json()
        return report
