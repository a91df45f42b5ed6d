"""``check``: read a dossier in place, read-only, and prove its fiscal integrity."""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import os
from collections.abc import Collection
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fiscalsafe import fsio
from fiscalsafe.crypto import load_public_key_pem
from fiscalsafe.errors import FiscalsafeError, OperationalError, UsageError
from fiscalsafe.formats.dossier import DEFAULT_PROFILE, DossierIdentity, Profile, parse_identity
from fiscalsafe.i18n import N_, _
from fiscalsafe.pipeline.fiscal import FiscalChecker, provable_prefix
from fiscalsafe.pipeline.proofs import RememberedProofs
from fiscalsafe.pipeline.state import StateStore
from fiscalsafe.verify.archives import ArchiveResult
from fiscalsafe.verify.coverage import MAX_IDLE_DAYS
from fiscalsafe.verify.findings import Finding, finding
from fiscalsafe.verify.freshness import KnownPoint, compare
from fiscalsafe.verify.report import CheckReport
from fiscalsafe.verify.trust import TrustedKeys

MAX_SMALL_FILE = 64 * 1024 * 1024


@dataclass(frozen=True)
class DossierFile:
    relpath: str  # POSIX, relative to the dossier
    path: Path
    category: str
    size: int
    mtime_ns: int
    mode: int


def walk_dossier(dossier: Path, profile: Profile) -> list[DossierFile]:
    """Every regular file of the dossier with its category, sorted by path.

    Symlinks and special files are refused: a dossier holds plain files only, and
    following a link could back up (or check) something outside it.
    """
    files: list[DossierFile] = []
    try:
        for top, dirs, names in os.walk(dossier, onerror=_raise):
            for name in dirs:
                if (Path(top) / name).is_symlink():
                    rel = (Path(top) / name).relative_to(dossier).as_posix()
                    raise UsageError(
                        _("{name}: a linked folder (links are refused in a dossier)", name=rel)
                    )
            dirs.sort()
            for name in sorted(names):
                path = Path(top) / name
                st = path.lstat()
                rel = path.relative_to(dossier).as_posix()
                if not _is_regular(st.st_mode):
                    raise UsageError(
                        _("{name}: not a regular file (links and devices are refused)", name=rel)
                    )
                files.append(
                    DossierFile(
                        rel,
                        path,
                        profile.categorize(rel),
                        st.st_size,
                        st.st_mtime_ns,
                        st.st_mode & 0o7777,
                    )
                )
    except OSError as exc:
        raise OperationalError(_("cannot read the dossier: {error}", error=exc)) from None
    files.sort(key=lambda f: f.relpath)
    return files


def _is_regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)


def _raise(exc: OSError) -> None:
    raise exc


def read_small(path: Path, what: str) -> bytes | None:
    """A small dossier file (identity, trust...): a regular file, never through a link,
    never blocking on a FIFO, at most ``MAX_SMALL_FILE`` bytes; None when absent."""
    return fsio.read_regular(path, MAX_SMALL_FILE, what)


def load_identity(dossier: Path, profile: Profile) -> DossierIdentity:
    data = read_small(dossier / profile.identity, profile.identity)
    if data is None:
        raise UsageError(
            _(
                "{dossier} is not a dossier: {identity} is missing",
                dossier=dossier,
                identity=profile.identity,
            )
        )
    return parse_identity(data)


def load_trust(
    trust: list[Path], shipped: bytes | None, shipped_name: str
) -> tuple[TrustedKeys, list[Finding]]:
    """Keys passed in win; the dossier's own key is used only when none is, and said so."""
    findings: list[Finding] = []
    if trust:
        keys = []
        for path in trust:
            data = read_small(path, str(path))
            if data is None:
                raise UsageError(_("trusted key {path} does not exist", path=path))
            try:
                keys.append(load_public_key_pem(data))
            except FiscalsafeError as exc:
                raise UsageError(_("trusted key {path}: {error}", path=path, error=exc)) from None
        return TrustedKeys(tuple(keys), self_asserted=False), findings
    if shipped is None:
        findings.append(
            finding(
                "KEY_MISSING",
                _("no --trust key and no editor key in the dossier"),
                file=shipped_name,
            )
        )
        return TrustedKeys((), self_asserted=True), findings
    try:
        key = load_public_key_pem(shipped)
    except FiscalsafeError as exc:
        findings.append(finding("KEY_MALFORMED", str(exc), file=shipped_name))
        return TrustedKeys((), self_asserted=True), findings
    findings.append(
        finding(
            "KEY_SELF_ASSERTED",
            _(
                "no --trust key given: checked against the dossier's own key "
                "{fingerprint}, which proves consistency, not origin",
                fingerprint=key.fingerprint,
            ),
            file=shipped_name,
            found=key.fingerprint,
        )
    )
    return TrustedKeys((key,), self_asserted=True), findings


def lock_findings(files: list[DossierFile]) -> list[Finding]:
    out = []
    for f in files:
        if f.category == "lock":
            holder = read_small(f.path, f.relpath) or b""
            who = holder.decode("utf-8", "replace").strip().replace("\n", " / ")[:120]
            out.append(
                finding(
                    "DOSSIER_LOCKED",
                    _("the application is open: {name} ({who})", name=f.relpath, who=who),
                    file=f.relpath,
                    found=who,
                )
            )
    return out


def trust_json(keys: TrustedKeys) -> dict:
    return {"self_asserted": keys.self_asserted, "fingerprints": keys.fingerprints}


class PendingCheck:
    """A fiscal check whose signatures are being verified by worker processes.

    ``start_check`` does the quick part (identity, walk, trust) and queues the rest; the
    caller may work meanwhile (a backup packages the dossier) and asks for ``result``
    when it needs the verdict. Closing it early cancels what has not run yet.
    """

    def __init__(
        self,
        checker: FiscalChecker,
        report: CheckReport,
        as_of: dt.datetime,
        years: int,
        *,
        max_idle_days: int = MAX_IDLE_DAYS,
        known: list[KnownPoint] | None = None,
        journal_file: str = "",
        proofs: RememberedProofs | None = None,
        awaiting: dict[str, tuple[str, Path]] | None = None,
    ):
        self._checker = checker
        self._proofs = proofs
        # Archives with a remembered proof, by name: the remembered digest waits for the
        # SHA-256 of the bytes the caller packages (``packaged``). Only the same digest lets
        # the proof stand; any other means the archive is proven in full.
        self._awaiting = dict(awaiting or {})
        self._packaged: dict[str, Future] = {}
        self._report = report
        self._as_of = as_of
        self._years = years
        self._max_idle_days = max_idle_days
        self._known = list(known or [])
        self._journal_file = journal_file
        self._done = False

    def packaged(self, relpath: str, sha256: Future) -> None:
        """The future SHA-256 (hex) of the bytes packaged for ``relpath``."""
        if relpath in self._awaiting:
            self._packaged[relpath] = sha256

    def _confirm(self, *, wait: bool) -> None:
        """Settle the remembered proofs whose packaged digest is known (all, with ``wait``;
        an archive never packaged then has none, and is proven in full)."""
        for relpath, (remembered, path) in list(self._awaiting.items()):
            hashed = self._packaged.get(relpath)
            if not wait and (hashed is None or not hashed.done()):
                continue
            del self._awaiting[relpath]
            try:
                digest = hashed.result() if hashed is not None else None
            except Exception:
                digest = None  # the packaging fails on the same error; prove in full anyway
            # Looked up by the packaged digest: a record stands only for the bytes packaged.
            same = digest == remembered and self._proofs is not None
            proof = self._proofs.lookup(relpath, digest) if same else None
            if proof is not None:
                self._checker.add_result(proof)
            else:
                self._checker.add_archive(relpath, path)

    def done(self) -> bool:
        """True when ``result`` would not wait."""
        if self._done:
            return True
        self._confirm(wait=False)
        return not self._awaiting and self._checker.done()

    def expect_extends(self, point: KnownPoint) -> None:
        """Another history the result must extend (a backup already on the medium)."""
        self._known.append(point)

    def result(self) -> CheckReport:
        if not self._done:
            self._confirm(wait=True)
            report = self._checker.finish(
                self._report, self._as_of, self._years, max_idle_days=self._max_idle_days
            )
            # Freshness: the history must extend every history proven before.
            for point in self._known:
                report.findings.extend(
                    compare(report.history, report.proven_archives, point, self._journal_file)
                )
            self._done = True
        return self._report

    def remember_proofs(self) -> int:
        """Record what this check proved of each archive, for the next run to reuse (only
        when it was told the shop's secret key); how many records were written."""
        if self._proofs is None or not self._done:
            return 0
        journal = self._checker.journal
        prefix = provable_prefix(journal) if journal is not None else None
        return self._proofs.save(
            self._checker.results, (self._journal_file, prefix) if prefix is not None else None
        )

    def close(self) -> None:
        self._checker.close()

    def __enter__(self) -> PendingCheck:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def start_check(
    dossier: Path,
    *,
    as_of: dt.datetime,
    years: int = 6,
    trust: list[Path] | None = None,
    require_trust: bool = False,
    profile: Profile = DEFAULT_PROFILE,
    workers: int | None = None,
    max_idle_days: int = MAX_IDLE_DAYS,
    state: StateStore | None = None,
    proof_seed: bytes | None = None,
    packaged: Collection[str] = (),
    files: list[DossierFile] | None = None,
) -> PendingCheck:
    """Start checking one dossier without writing anything to it.

    Usage errors (no dossier, a bad ``--trust`` key) are raised here, before any work is
    queued, and so is a damaged state file. Without worker processes the whole check runs
    here. With ``state``, the history must extend what fiscalsafe proved before; with
    ``state`` and the shop's secret key ``proof_seed`` as well, an archive whose bytes a
    remembered proof describes is not verified again (``pipeline/proofs.py``).

    ``packaged`` names the archives the caller will hash anyway (a backup packages them):
    their remembered proofs are found by name now and confirmed by that hash
    (``PendingCheck.packaged``), instead of reading each archive once more here first.
    ``files``, the caller's own ``walk_dossier`` of the dossier, saves walking it again."""
    if not dossier.is_dir():
        raise UsageError(_("{dossier} is not a folder", dossier=dossier))
    identity = load_identity(dossier, profile)
    known = state.load(identity.dossier_id) if state is not None else None
    files = walk_dossier(dossier, profile) if files is None else files
    shipped = read_small(dossier / profile.editor_key, profile.editor_key)
    keys, trust_findings = load_trust(list(trust or []), shipped, profile.editor_key)
    if require_trust and keys.self_asserted:
        trust_findings.append(
            finding(
                "TRUST_NOT_ESTABLISHED", _("--require-trust: pass the editor's key with --trust")
            )
        )
    report = CheckReport(
        dossier=identity.dossier_id,
        path=str(dossier),
        as_of=as_of.isoformat(),
        years=years,
        trust=trust_json(keys),
        coverage=None,
    )
    checker = FiscalChecker(identity.dossier_id, identity.tz, keys, workers)
    proofs = None
    if state is not None and proof_seed is not None:
        path = state.proofs_path(identity.dossier_id)
        proofs = RememberedProofs.open(path, proof_seed, identity.dossier_id, identity.tz, keys)
    try:
        checker.extra_findings.extend(trust_findings)
        checker.extra_findings.extend(lock_findings(files))
        # The journal is the longest single task: it goes first. Then the archives.
        head = read_small(dossier / profile.journal_head, profile.journal_head)
        journal_proof = proofs.journal_prefix(profile.journal) if proofs is not None else None
        checker.add_journal(
            profile.journal, dossier / profile.journal, profile.journal_head, head, journal_proof
        )
        archives = [f for f in files if fnmatch.fnmatchcase(f.relpath, profile.archives)]
        awaiting = _queue_archives(checker, archives, proofs, frozenset(packaged))
    except BaseException:
        checker.close()
        raise
    return PendingCheck(
        checker,
        report,
        as_of,
        years,
        max_idle_days=max_idle_days,
        known=[known] if known is not None else [],
        journal_file=profile.journal,
        proofs=proofs,
        awaiting=awaiting,
    )


def _queue_archives(
    checker: FiscalChecker,
    archives: list[DossierFile],
    proofs: RememberedProofs | None,
    packaged: frozenset[str],
) -> dict[str, tuple[str, Path]]:
    """Queue each archive, largest first (so the workers finish together), or its remembered
    proof; the archives whose proof waits for the packaging's digest, with that digest."""
    awaiting: dict[str, tuple[str, Path]] = {}
    for f in sorted(archives, key=lambda f: -f.size):
        remembered = None
        if proofs is not None and f.relpath in packaged:
            digest = proofs.remembered_digest(f.relpath)
            if digest is not None:
                awaiting[f.relpath] = (digest, f.path)
                continue
        elif proofs is not None:
            remembered = _remembered(proofs, f)
        if remembered is not None:
            checker.add_result(remembered)
        else:
            checker.add_archive(f.relpath, f.path)
    return awaiting


def _remembered(proofs: RememberedProofs, f: DossierFile) -> ArchiveResult | None:
    """The remembered result of the archive's bytes as they are now, if any. A backup then
    requires the bytes it packages to hash to the same digest (``backup_payload.py``)."""
    try:
        fh = fsio.open_regular(f.path, N_("fiscal archive"), OperationalError, buffering=0)
        if fh is None:
            return None
        with fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
    except (OSError, FiscalsafeError):
        return None  # the full check reports it
    return proofs.lookup(f.relpath, digest)


def check_dossier(dossier: Path, **options: Any) -> CheckReport:
    """Check one dossier without writing anything to it (``start_check``'s options), and
    wait for the verdict."""
    with start_check(dossier, **options) as pending:
        return pending.result()
