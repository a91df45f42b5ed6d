"""What ties a report to its evidence: the report data (``schemas/report-data.md``).

A report carries, in a data block nobody runs, the evidence document it was drawn from,
that document's SHA-256 as written to disk, and the context of the run (language,
auditor, command line, media, keys). ``report-check`` reads it back to compare the
evidence file and to draw the report again.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from fiscalsafe.errors import MalformedError

DATA_FORMAT = "fiscalsafe-report-data"
DATA_VERSION = [1, 0]
DATA_ID = "fiscalsafe-report-data"
_HTML_BLOCK = re.compile(
    rb'<script type="application/json" id="' + DATA_ID.encode() + rb'">(.*?)</script>', re.S
)
#: Where the data starts in a PDF (an uncompressed embedded file; ASCII JSON).
PDF_MARKER = b'{"format": "' + DATA_FORMAT.encode() + b'"'


def document_bytes(doc: dict[str, Any]) -> bytes:
    """A JSON document as fiscalsafe writes it to disk (the evidence record's bytes)."""
    return (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def report_data(
    doc: dict[str, Any], context: dict[str, Any], evidence_name: str | None, tool: str
) -> dict[str, Any]:
    return {
        "format": DATA_FORMAT,
        "version": DATA_VERSION,
        "tool": tool,
        "evidence": {
            "name": evidence_name,
            "format": doc.get("format"),
            "sha256": sha256(document_bytes(doc)),
        },
        "context": context,
        "document": doc,
    }


def data_block_html(data: dict[str, Any]) -> str:
    """An inert JSON block: ``<``, ``>`` and ``&`` escaped, so no text in it (a file name
    holding ``</script>``) can end it early."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=False)
    text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return f'<script type="application/json" id="{DATA_ID}">{text}</script>'


def data_pdf_bytes(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=True).encode("ascii")


def extract_data(report: bytes) -> dict[str, Any]:
    """The report data of an HTML or PDF report, or ``MalformedError``."""
    if report.startswith(b"%PDF-"):
        start = report.find(PDF_MARKER)
        if start < 0:
            raise MalformedError("the PDF holds no fiscalsafe report data")
        try:
            data, _ = json.JSONDecoder().raw_decode(report[start:].decode("ascii", "replace"))
        except (ValueError, RecursionError) as exc:
            raise MalformedError(f"the report data does not parse ({exc})") from None
    else:
        blocks = _HTML_BLOCK.findall(report)
        if len(blocks) != 1:
            raise MalformedError(f"the report holds {len(blocks)} fiscalsafe data blocks, not 1")
        try:
            data = json.loads(blocks[0].decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            raise MalformedError(f"the report data does not parse ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != DATA_FORMAT:
        raise MalformedError("the report data is not fiscalsafe report data")
    version = data.get("version")
    if not isinstance(version, list) or version[:1] != DATA_VERSION[:1]:
        raise MalformedError(f"report data version {version!r} is not supported")
    for key, kind in (("evidence", dict), ("context", dict), ("document", dict)):
        if not isinstance(data.get(key), kind):
            raise MalformedError(f"the report data has no {key!r} object")
    return data
