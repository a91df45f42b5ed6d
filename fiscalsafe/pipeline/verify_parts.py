"""Verification step (1): parts and sidecars.

The parts named on the command line (or found beside one part) form one complete,
ordered set, each with its sidecar; a sidecar's signature is checked once the
stream is hashed (step 5).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from fiscalsafe import fsio, minisign
from fiscalsafe.errors import (
    MalformedError,
    VerificationError,
)
from fiscalsafe.formats.layout import SIDECAR, parse_comment
from fiscalsafe.i18n import N_, _, n_
from fiscalsafe.pipeline.verify_steps import StepResult
from fiscalsafe.verify.findings import Finding, finding

PART_SUFFIX = re.compile(r"\.(\d{3})$")


def set_name(files: list[Path]) -> str:
    return PART_SUFFIX.sub("", files[0].name)


@dataclass(frozen=True, kw_only=True)
class PartsStep(StepResult):
    """(1) Each file's sidecar, parsed (``None``: missing or unparsable); its signature is
    checked in (5), once the bytes are hashed."""

    sidecars: tuple[minisign.Signature | None, ...] = ()


def check_parts(files: list[Path], keyed: bool) -> PartsStep:
    """(1) Sidecars parsed, and the parts one complete, ordered set. A plain BagIt tar
    (verified without a key) has no sidecar to miss."""
    found: list[Finding] = []
    sidecars = read_sidecars(files, found.append if keyed else (lambda _f: None))
    check_part_set(files, sidecars, found.append)
    return PartsStep(
        findings=tuple(found), checks=("parts",) if keyed else (), sidecars=tuple(sidecars)
    )


def read_sidecars(files: list[Path], add) -> list[minisign.Signature | None]:
    out: list[minisign.Signature | None] = []
    for path in files:
        side = Path(str(path) + SIDECAR)
        try:
            data = fsio.read_regular(side, minisign.MAX_FILE_BYTES, N_("sidecar"))
            if data is None:
                add(
                    finding(
                        "SIDECAR_MISSING", _("{name} is missing", name=side.name), file=side.name
                    )
                )
                out.append(None)
                continue
            out.append(minisign.parse_signature(data))
        except MalformedError as exc:
            add(
                finding(
                    "SIDECAR_SIGNATURE_INVALID",
                    _("{name}: {problem}", name=side.name, problem=exc),
                    file=side.name,
                )
            )
            out.append(None)
    return out


def check_part_set(files: list[Path], sidecars: list, add) -> None:
    """(1) The parts named on the command line (or found) form one complete, ordered set."""
    fields = [parse_comment(s.trusted_comment) if s else None for s in sidecars]
    known = [f for f in fields if f]
    if not known:
        return
    totals = {f.get("part", "1/1").partition("/")[2] for f in known}
    sets = {f.get("set") for f in known}
    if len(sets) > 1:
        add(
            finding(
                "PART_EXTRA",
                _("the parts come from different backups"),
                found=", ".join(sorted(s or "?" for s in sets)),
            )
        )
    total = max(int(t) for t in totals if t.isdigit()) if any(t.isdigit() for t in totals) else 1
    for position, (path, f) in enumerate(zip(files, fields, strict=True), 1):
        if not f:
            continue
        number = f.get("part", "1/1").partition("/")[0]
        # Parts of a set are identified by name; a single file's name is bound to the
        # signed manifest once it is verified (``bindings.check_file_name``).
        if total > 1 and f.get("file") != path.name:
            add(
                finding(
                    "PART_ORDER",
                    _("{name} is signed as {signed}", name=path.name, signed=f.get("file")),
                    file=path.name,
                    expected=f.get("file"),
                    found=path.name,
                )
            )
        elif number.isdigit() and int(number) != position:
            add(
                finding(
                    "PART_ORDER",
                    _(
                        "{name} is part {number}, given in position {position}",
                        name=path.name,
                        number=number,
                        position=position,
                    ),
                    file=path.name,
                    expected=position,
                    found=int(number),
                )
            )
    check_part_count(files, fields, total, add)


def check_part_count(files: list[Path], fields: list, total: int, add) -> None:
    """As many parts given as the set has."""
    if len(files) < total:
        present = {f.get("part", "").partition("/")[0] for f in fields if f}
        missing = [str(i) for i in range(1, total + 1) if str(i) not in present]
        add(
            finding(
                "PART_MISSING",
                n_(
                    "split backup has {total} parts; missing part {parts}",
                    "split backup has {total} parts; missing parts {parts}",
                    len(missing),
                    total=total,
                    parts=", ".join(missing) or "?",
                ),
                expected=total,
                found=len(files),
            )
        )
    elif len(files) > total:
        add(
            finding(
                "PART_EXTRA",
                _(
                    "split backup has {total} parts, {given} were given",
                    total=total,
                    given=len(files),
                ),
                expected=total,
                found=len(files),
            )
        )


def check_sidecars(files, infos, sidecars, key, manifest_bytes, add) -> list:
    """Verify each sidecar; return those whose signature holds (``None`` for the others),
    in part order."""
    set_id = hashlib.sha256(manifest_bytes).hexdigest()[:32] if manifest_bytes else None
    verified: list[minisign.Signature | None] = []
    for path, info, sig in zip(files, infos, sidecars, strict=True):
        verified.append(None)
        if sig is None:
            continue
        side = path.name + SIDECAR
        try:
            minisign.verify_digest(key, sig, info.blake2b)
        except VerificationError as exc:
            add(
                finding(
                    "SIDECAR_SIGNATURE_INVALID",
                    _("{name}: {problem}", name=side, problem=exc),
                    file=side,
                )
            )
            continue
        verified[-1] = sig
        fields = parse_comment(sig.trusted_comment) or {}
        if set_id and fields.get("set") != set_id:
            add(
                finding(
                    "PART_EXTRA",
                    _("{name} is signed for another backup than the one inside", name=side),
                    file=side,
                    expected=set_id,
                    found=fields.get("set"),
                )
            )
    return verified


def discover(targets: list[Path]) -> list[list[Path]]:
    """Group the command line's files into backups: single files and split sets."""
    groups: dict[str, list[Path]] = {}
    order: list[str] = []
    for target in targets:
        base = PART_SUFFIX.sub("", str(target))
        if base not in groups:
            groups[base] = []
            order.append(base)
        groups[base].append(target)
    out = []
    for base in order:
        paths = groups[base]
        if len(paths) == 1 and PART_SUFFIX.search(str(paths[0])):
            # One part named: take the whole set found beside it.
            folder = paths[0].parent
            name = Path(base).name
            paths = sorted(folder.glob(f"{glob_escape(name)}.[0-9][0-9][0-9]"))
        out.append(sorted(paths, key=lambda p: (len(str(p)), str(p))) if len(paths) > 1 else paths)
    return out


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)
