"""Verification steps (5) and (6): authenticity, then claims and completeness.

Each sidecar's signature and the manifest's, by the shop key (5); the names, claims and
creation time against the signed manifest, the key's binding to the dossier, every
manifest entry present once and intact, nothing unexpected, notes on how the backup was
made, and the members and container exactly as the writer makes them (6).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from fiscalsafe import minisign
from fiscalsafe.errors import (
    KeyMismatchError,
    MalformedError,
    UnsupportedVersionError,
    VerificationError,
)
from fiscalsafe.formats.layout import MANIFEST_PATH, SIDECAR
from fiscalsafe.formats.manifest import Manifest, parse_manifest
from fiscalsafe.i18n import _
from fiscalsafe.pipeline import bindings
from fiscalsafe.pipeline.verify_container import ArchiveFile
from fiscalsafe.pipeline.verify_members import StreamState
from fiscalsafe.pipeline.verify_parts import check_sidecars
from fiscalsafe.pipeline.verify_steps import StepResult
from fiscalsafe.verify.findings import Finding, finding


@dataclass(frozen=True, kw_only=True)
class Authenticity(StepResult):
    """(5) The signed manifest (``None``: absent, not verified by the shop key, or
    unreadable), and the sidecars whose signature holds (``None`` for the others), in
    part order."""

    manifest: Manifest | None = None
    verified_sidecars: tuple[minisign.Signature | None, ...] = ()


def check_authenticity(
    files: list[ArchiveFile],
    sidecars: tuple[minisign.Signature | None, ...],
    key: minisign.PublicKey | None,
    state: StreamState,
) -> Authenticity:
    """(5) Each sidecar's signature, then the manifest's. Without a shop key, a manifest
    found inside proves nothing."""
    found: list[Finding] = []
    manifest_bytes = state.tags.get(MANIFEST_PATH)
    if key is None:
        if manifest_bytes is not None:
            found.append(
                finding(
                    "MANIFEST_UNTRUSTED_KEY",
                    _(
                        "this is a fiscalsafe backup but no --key was given: its origin is not "
                        "proven (pass the shop's public key)"
                    ),
                    file=MANIFEST_PATH,
                )
            )
        return Authenticity(findings=tuple(found))
    paths = [f.path for f in files]
    verified = check_sidecars(paths, files, list(sidecars), key, manifest_bytes, found.append)
    manifest = check_manifest(state, key, found.append)
    return Authenticity(
        findings=tuple(found),
        checks=("manifest",),
        manifest=manifest,
        verified_sidecars=tuple(verified),
    )


@dataclass(frozen=True)
class KeyBinding:
    """The shop key, and the dossiers the trust folder binds it to (``None``: any)."""

    key: minisign.PublicKey | None
    dossiers: frozenset[str] | None


def check_claims(
    auth: Authenticity,
    state: StreamState,
    shape: bindings.ContainerShape | None,
    files: list[Path],
    *,
    target: str,
    now: dt.datetime,
    binding: KeyBinding,
) -> StepResult:
    """(6) Names, claims and completeness against the signed manifest; how it was made;
    with an intact container, the members and container against the manifest."""
    manifest = auth.manifest
    if manifest is None:
        return StepResult()
    found: list[Finding] = []
    add = found.append
    if files:
        bindings.check_file_name(files, manifest, add)
        bindings.check_sidecar_claims(files, list(auth.verified_sidecars), manifest, add)
    bindings.check_created(manifest, now, add)
    check_key_binding(manifest, binding.key, binding.dossiers, add)
    check_completeness(manifest, state, add)
    note_how_made(manifest, add)
    checks = ["claims", "completeness"]
    if shape is not None:
        bindings.check_members(manifest, state.meta, state.directories, state.tags, add)
        bindings.check_container(shape, target, add)
        checks.append("signed-container")
    return StepResult(findings=tuple(found), checks=tuple(checks))


def check_key_binding(manifest: Manifest, key, bound: frozenset[str] | None, add) -> None:
    """A shop key the trust folder binds to some dossiers proves nothing about another."""
    dossier = str(manifest.dossier.get("id"))
    if bound is not None and dossier not in bound:
        add(
            finding(
                "KEY_NOT_FOR_DOSSIER",
                _(
                    "shop key {fingerprint} is bound to {bound} in the trust folder, not to "
                    "{dossier}",
                    fingerprint=key.fingerprint,
                    bound=", ".join(sorted(bound)) or _("no dossier"),
                    dossier=dossier,
                ),
                file=MANIFEST_PATH,
                expected=", ".join(sorted(bound)),
                found=dossier,
            )
        )


def parse_created(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedError(
            _("manifest: created {text} is not an ISO date-time", text=repr(text))
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def check_manifest(state: StreamState, key: minisign.PublicKey, add) -> Manifest | None:
    data = state.tags.get(MANIFEST_PATH)
    sig_bytes = state.tags.get(MANIFEST_PATH + SIDECAR)
    if data is None:
        add(
            finding(
                "MANIFEST_MISSING",
                _("the backup holds no {name}", name=MANIFEST_PATH),
                file=MANIFEST_PATH,
            )
        )
        return None
    if sig_bytes is None:
        add(
            finding(
                "MANIFEST_SIGNATURE_INVALID",
                _("the manifest's signature file is missing"),
                file=MANIFEST_PATH + SIDECAR,
            )
        )
        return None
    try:
        minisign.verify_bytes(key, sig_bytes, data)
    except MalformedError as exc:
        add(finding("MANIFEST_SIGNATURE_INVALID", str(exc), file=MANIFEST_PATH + SIDECAR))
        return None
    except VerificationError as exc:
        code = (
            "MANIFEST_UNTRUSTED_KEY"
            if isinstance(exc, KeyMismatchError)
            else "MANIFEST_SIGNATURE_INVALID"
        )
        add(
            finding(
                code,
                _("manifest: {problem}", problem=exc),
                file=MANIFEST_PATH,
                expected=key.fingerprint,
            )
        )
        return None
    try:
        return parse_manifest(data)
    except UnsupportedVersionError as exc:
        add(finding("MANIFEST_VERSION_UNSUPPORTED", str(exc), file=MANIFEST_PATH))
    except MalformedError as exc:
        add(finding("MANIFEST_MALFORMED", str(exc), file=MANIFEST_PATH))
    return None


def check_completeness(manifest: Manifest, state: StreamState, add) -> None:
    # (6) Every signed entry once and intact; nothing else; omitted files absent.
    listed = {f.path: f for f in manifest.files}
    for path, entry in listed.items():
        got = state.payload.get(path)
        if got is None:
            add(
                finding(
                    "FILE_MISSING",
                    _("listed in the signed manifest but not in the backup"),
                    file=f"data/{path}",
                    expected=entry.sha256,
                )
            )
            continue
        size, digest = got
        if size != entry.size:
            add(
                finding(
                    "FILE_SIZE_MISMATCH",
                    _("size differs from the signed manifest"),
                    file=f"data/{path}",
                    expected=entry.size,
                    found=size,
                )
            )
        if digest != entry.sha256:
            add(
                finding(
                    "FILE_DIGEST_MISMATCH",
                    _("content differs from the signed manifest"),
                    file=f"data/{path}",
                    expected=entry.sha256,
                    found=digest,
                )
            )
    omitted = {o.path for o in manifest.omitted}
    for path in state.payload:
        if path not in listed:
            why = (
                _("omitted by the manifest but present")
                if path in omitted
                else _("not in the manifest")
            )
            add(finding("FILE_UNEXPECTED", why, file=f"data/{path}"))
    for tag, digest in manifest.tag_files.items():
        data = state.tags.get(tag)
        if data is None:
            add(finding("FILE_MISSING", _("tag file listed in the manifest is missing"), file=tag))
        elif hashlib.sha256(data).hexdigest() != digest:
            add(
                finding(
                    "FILE_DIGEST_MISMATCH",
                    _("tag file differs from the signed manifest"),
                    file=tag,
                    expected=digest,
                    found=hashlib.sha256(data).hexdigest(),
                )
            )
    if manifest.bag != state.bag_name:
        add(
            finding(
                "FILE_UNEXPECTED",
                _("the bag folder name differs from the signed manifest"),
                file=state.bag_name,
                expected=manifest.bag,
                found=state.bag_name,
            )
        )


def note_how_made(manifest: Manifest, add) -> None:
    """Overrides recorded in the signed manifest stay visible to whoever verifies later."""
    check = manifest.check
    if manifest.forced:
        locks = [str(lock) for lock in check.get("locks") or []]
        add(
            finding(
                "BACKUP_FORCED",
                _(
                    "made with --force while the shop application was open ({locks}): "
                    "files may have been changing",
                    locks=", ".join(locks),
                )
                if locks
                else _(
                    "made with --force while the shop application was open: files may have "
                    "been changing"
                ),
                file=MANIFEST_PATH,
            )
        )
    if manifest.allow_findings and check.get("verdict") != "proven":
        counts = check.get("counts") if isinstance(check.get("counts"), dict) else {}
        recorded = sorted(
            {str(f.get("code")) for f in check.get("findings") or [] if isinstance(f, dict)}
        )
        add(
            finding(
                "BACKUP_WITH_FINDINGS",
                _(
                    "made with --allow-findings although the fiscal check reported "
                    "{count} error(s), recorded in the signed manifest",
                    count=counts.get("error", "?"),
                ),
                file=MANIFEST_PATH,
                found=", ".join(recorded[:8]) or None,
            )
        )
