"""Every sentence of the report, in English (the gettext message ids) and through the
catalogue of the reader's language. Finding codes, verdict keys and JSON stay as they are.
"""

from __future__ import annotations

from fiscalsafe import i18n
from fiscalsafe.i18n import N_


class Translator:
    """``tr._("... {name} ...", name=value)``: translate, then fill the named fields."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._catalogue = i18n.translator(lang)

    def _(self, message: str, **fields: object) -> str:
        text = self._catalogue.gettext(message)
        return text.format(**fields) if fields else text

    def ngettext(self, singular: str, plural: str, n: int, **fields: object) -> str:
        return self._catalogue.ngettext(singular, plural, n).format(n=n, **fields)


VERDICTS = {
    "proven": N_("PROVEN"),
    "consistent": N_("CONSISTENT, ORIGIN NOT PROVEN"),
    "findings": N_("NOT PROVEN"),
    "valid": N_("VALID BAG"),
}
SEVERITIES = {"error": N_("error"), "warning": N_("warning"), "info": N_("information")}
KINDS = {"full": N_("full"), "no-index": N_("without indexes"), "photos": N_("photos")}
KEY_SOURCES = {
    "option": N_("given on the command line"),
    "trust folder": N_("from the trust folder"),
    "self-asserted": N_("found inside what was verified (self-asserted: proves no origin)"),
}
TIMELINE_STATES = {
    "covered": N_("covered"),
    "gap": N_("not covered"),
    "before-genesis": N_("before the dossier's first record"),
    "idle": N_("no operation, within the tolerance"),
    "stale": N_("no operation, beyond the tolerance"),
    "beyond-backup": N_("after the backup was made"),
}

#: Finding code families: a plain name and what to do, in both languages.
FAMILIES = {
    "parts": (
        N_("Split parts and signature files"),
        N_(
            "A part of the backup or its .minisig signature file is missing or does not "
            "match. Copy the complete set of parts and their signature files from the "
            "shop's medium, then verify again."
        ),
    ),
    "container": (
        N_("Backup file damaged"),
        N_(
            "The backup file is damaged (a bad copy or a failing medium). Do not rely on "
            "this copy: verify another medium, and have the shop make a new backup on a "
            "sound one."
        ),
    ),
    "bag": (
        N_("Backup inventory (BagIt)"),
        N_(
            "The backup's inventory does not match its content. Treat this copy as "
            "damaged: verify another medium or ask for a new backup."
        ),
    ),
    "manifest": (
        N_("Signature of the backup"),
        N_(
            "The backup is not signed by the shop key you were given. Check the shop's "
            "public key with the shop (compare its fingerprint) and verify again; "
            "otherwise do not accept this backup."
        ),
    ),
    "claims": (
        N_("Name, date and content of the backup"),
        N_(
            "The backup's name, date or content differs from what the shop signed: it may "
            "have been renamed, replaced by an older one, or altered. Ask the shop for "
            "the original backup."
        ),
    ),
    "dossier": (
        N_("Dossier and keys"),
        N_(
            "The dossier or the keys cannot be trusted as given. Obtain the software "
            "editor's public key from the editor, never from the medium, and pass it "
            "with --trust."
        ),
    ),
    "archives": (
        N_("Signed fiscal archives, tickets and closures"),
        N_(
            "Signed fiscal archives are missing, damaged or altered: the chain of "
            "signatures is broken. Keep this medium as evidence and ask the shop and its "
            "software editor for an explanation and an intact copy."
        ),
    ),
    "journal": (
        N_("Technical event journal (JET)"),
        N_(
            "The technical event journal is damaged, cut short or altered. Keep this "
            "medium as evidence and ask for an intact copy of the journal."
        ),
    ),
    "crosscheck": (
        N_("Journal against archives"),
        N_(
            "The journal and the fiscal archives disagree: an archive or a closure is "
            "missing from one of them. Ask the shop for the missing archive files."
        ),
    ),
    "coverage": (
        N_("Six-year retention"),
        N_(
            "The required years are not all covered by verified records. Ask for the "
            "backups or archives that cover the months marked on the timeline."
        ),
    ),
    "freshness": (
        N_("Older history"),
        N_(
            "This history is older than one already proven: the medium may hold an "
            "older copy. Ask for the newest backup."
        ),
    ),
    "report": (
        N_("Verification report"),
        N_(
            "The report does not match its evidence or its signature. Do not rely on it: "
            "ask the auditor for the original files."
        ),
    ),
}

_EXACT = {
    "KEY_NOT_FOR_DOSSIER": "manifest",
    "MEMBER_METADATA_MISMATCH": "claims",
    "CONTAINER_UNSIGNED_DATA": "claims",
    "ARCHIVE_EVENT_MISSING": "crosscheck",
    "ARCHIVE_DIGEST_MISMATCH": "crosscheck",
    "CLOSURE_EVENT_MISSING": "crosscheck",
    "ARCHIVE_FILE_MISSING": "crosscheck",
    "ARCHIVE_OVERDUE": "coverage",
    "JOURNAL_ROLLBACK": "freshness",
    "ARCHIVE_ROLLBACK": "freshness",
}
_PREFIXES = (
    (("PART_", "SIDECAR_"), "parts"),
    (("CONTAINER_", "MEMBER_"), "container"),
    (("BAG_",), "bag"),
    (("MANIFEST_",), "manifest"),
    (("CLAIM_", "BACKUP_", "FILE_"), "claims"),
    (("DOSSIER_", "KEY_", "TRUST_", "WEAK_"), "dossier"),
    (("ARCHIVE_", "TICKET_", "CLOSURE_", "GRAND_TOTAL_"), "archives"),
    (("JOURNAL_",), "journal"),
    (("COVERAGE_",), "coverage"),
    (("REPORT_",), "report"),
)


def family_of(code: str) -> str | None:
    """The family of a finding code; None for a code this version does not know."""
    if code in _EXACT:
        return _EXACT[code]
    for prefixes, family in _PREFIXES:
        if code.startswith(prefixes):
            return family
    return None


#: What a verification proved, and what no verification can (SECURITY.md).
SCOPE_VERIFIED = {
    "verify": (
        N_(
            "Each backup is exactly the bytes the shop key signed: complete, intact, with "
            "nothing added, read without restoring it and without writing to the medium."
        ),
        N_(
            "The signed fiscal archives, tickets, closures, grand totals and the technical "
            "event journal inside it were verified again, signature by signature and link "
            "by link, with the software editor's key."
        ),
        N_(
            "The required years are covered by verified records, as of each backup's "
            "signed creation time."
        ),
    ),
    "check": (
        N_(
            "The dossier was checked in place, read-only: signed fiscal archives, tickets, "
            "closures, grand totals and the technical event journal, signature by "
            "signature and link by link, with the software editor's key."
        ),
        N_("The required years are covered by verified records, as of the date shown."),
    ),
}
SCOPE_CANNOT = (
    N_(
        "Origin, when the software editor's key came from inside what was verified: the "
        "result is then only consistent, never proven."
    ),
    N_(
        "What happened after a backup was made: a backup proves its content up to its "
        "creation; a verification of a medium proves the backups it finds, not that none "
        "was removed."
    ),
    N_(
        "Time: creation times are signed with the shop's clock; no trusted timestamp "
        "exists. Only a time after the verifier's clock is refused, and both are shown."
    ),
    N_(
        "Replacement of a whole consistent history by an older one, when no earlier "
        "proof (state, newer backup, earlier report) exists to compare with."
    ),
    N_("Confidentiality and repair: nothing is encrypted, and nothing damaged is repaired."),
)
