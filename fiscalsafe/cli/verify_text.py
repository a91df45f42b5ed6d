"""Sentences of verify's verdicts: who signed a backup, and why one is not proven."""

from __future__ import annotations

from pathlib import Path

from fiscalsafe.i18n import _
from fiscalsafe.verify.findings import Severity

#: Findings that mean the shop key's signature over the backup did not hold.
SIGNATURE_CODES = frozenset(
    {
        "SIDECAR_SIGNATURE_INVALID",
        "MANIFEST_MISSING",
        "MANIFEST_SIGNATURE_INVALID",
        "MANIFEST_UNTRUSTED_KEY",
    }
)
#: Findings shown under each NOT PROVEN line of a medium; the rest is counted.
SHOWN_FINDINGS = 3


def sidecar_signer(archive: Path) -> str | None:
    """The key id the sidecar of ``archive`` names (not checked), as minisign prints it."""
    from fiscalsafe import fsio, minisign

    try:
        data = fsio.read_regular(Path(f"{archive}.minisig"), minisign.MAX_FILE_BYTES, "sidecar")
        return minisign.parse_signature(data).key_id[::-1].hex().upper() if data else None
    except Exception:  # noqa: BLE001 - an unreadable sidecar has its own finding
        return None


def signature_holds(r) -> bool:
    return r.manifest is not None and not any(
        f.code in SIGNATURE_CODES and f.severity is Severity.ERROR for f in r.findings
    )


def signer_sentence(r) -> str:
    """ "signed by shop key X" only when the signature verified with X; otherwise which key
    was expected and which one the signature names."""
    expected = r.shop_key
    if signature_holds(r):
        return _("signed by shop key {key}", key=expected)
    signer = sidecar_signer(r.files[0].path) if r.files else None
    if signer is None:
        return _(
            "NOT signed by shop key {key}: expected {key}, no readable signature", key=expected
        )
    if signer == expected:
        return _(
            "signature NOT valid: expected shop key {key}, signed by {signer}, but the "
            "bytes changed after they were signed",
            key=expected,
            signer=signer,
        )
    return _(
        "NOT signed by shop key {key}: expected {key}, signed by {signer}",
        key=expected,
        signer=signer,
    )


def main_findings(r) -> list[str]:
    """The first few error findings in words, then how many more: under a NOT PROVEN line."""
    errors = [f for f in r.findings if f.severity is Severity.ERROR]
    lines = [
        f"{f.code}: {f.message}" + (f" ({f.file})" if f.file and f.file not in f.message else "")
        for f in errors[:SHOWN_FINDINGS]
    ]
    if len(errors) > SHOWN_FINDINGS:
        more = len(errors) - SHOWN_FINDINGS
        lines.append(_("and {n} more (verify this backup alone)", n=more))
    return lines


#: Names shown in a sentence about a folder's entries; the rest is counted.
SHOWN_NAMES = 5


def existing_entries(dest: Path) -> list[str]:
    """The names already in a restore folder (``--force``), before anything is restored."""
    try:
        return sorted(entry.name for entry in dest.iterdir()) if dest.is_dir() else []
    except OSError:
        return []


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    more = len(names) - SHOWN_NAMES
    return _("{names} and {n} more", names=shown, n=more) if more > 0 else shown


def forced_restore_sentence(result, already: list[str]) -> str:
    """What ``restore --force`` did to what the folder held: an entry the backup also holds
    is replaced as a whole (a folder with everything in it); the others are kept."""
    top = {f.path.split("/", 1)[0] for f in result.report.manifest.files}
    replaced = [name for name in already if name in top]
    kept = [name for name in already if name not in top]
    parts = []
    if replaced:
        parts.append(
            _(
                "replaced by the backup's, whole folders included: {names} "
                "(files in them that the backup does not hold are gone)",
                names=_names(replaced),
            )
        )
    if kept:
        parts.append(_("kept as they were (not in the backup): {names}", names=_names(kept)))
    return _(
        "--force: {folder} already held {n} entries; {what}",
        folder=result.dest,
        n=len(already),
        what=_("; ").join(parts),
    )
