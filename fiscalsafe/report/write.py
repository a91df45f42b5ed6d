"""Draw a report from a result and its context, write it, and sign it."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from fiscalsafe import __version__, fsio, minisign
from fiscalsafe.errors import UsageError
from fiscalsafe.report import medium
from fiscalsafe.report.datablock import document_bytes, report_data, sha256
from fiscalsafe.report.html import render_html
from fiscalsafe.report.model import build_model
from fiscalsafe.report.pdf import render_pdf

FORMATS = {".html": "html", ".htm": "html", ".pdf": "pdf"}
TOOL = f"fiscalsafe {__version__}"


def report_format(path: Path) -> str:
    """``html`` or ``pdf``, by the file's extension; anything else is a usage error."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise UsageError(f"--report {path}: name a .html or .pdf file")
    return kind


def key_fingerprint(public: minisign.PublicKey) -> str:
    """A minisign key's full fingerprint: SHA-256 of its public key line's bytes (what
    ``minisign -P`` takes, decoded), beside the 16-hex key id minisign shows."""
    raw = base64.b64decode(public.to_string())
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def shop_key_entry(public: minisign.PublicKey, origin: str, path: Path | None) -> dict[str, Any]:
    return {
        "id": public.fingerprint,
        "fingerprint": key_fingerprint(public),
        "public_key": public.to_string(),
        "source": origin,
        "path": str(path) if path else None,
    }


def build_context(
    *,
    lang: str,
    command: str,
    now: dt.datetime,
    auditor: str | None,
    media_paths: list[Path],
    shop_keys: list[dict[str, Any]],
    editor_paths: list[Path],
    editor_source: str,
    identities: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The circumstances of the run the report shows beside the result
    (``schemas/report-data.md``)."""
    return {
        "lang": lang,
        "generated": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
        "auditor": auditor,
        "media": [medium.identify(p) for p in media_paths],
        "shop_keys": shop_keys,
        "editor_paths": [str(p) for p in editor_paths],
        "editor_source": editor_source,
        "identities": identities or {},
    }


def render(data: dict[str, Any], kind: str) -> bytes:
    """The report's bytes: a function of its data alone, so it can be drawn again."""
    evidence = data["evidence"]
    report_name = str(data["context"].get("report_name") or "REPORT")
    model = build_model(
        data["document"], data["context"], evidence.get("name") or "", evidence["sha256"]
    )
    if kind == "pdf":
        return render_pdf(model, data, report_name)
    return render_html(model, data, report_name)


def write_report(
    path: Path,
    doc: dict[str, Any],
    context: dict[str, Any],
    *,
    evidence_name: str | None,
    auditor: minisign.SecretKey | None,
) -> list[Path]:
    """Write the report (and ``PATH.minisig`` with an auditor key); returns what was written."""
    kind = report_format(path)
    data = report_data(doc, {**context, "report_name": path.name}, evidence_name, TOOL)
    content = render(data, kind)
    fsio.atomic_write(path, content)
    written = [path]
    if auditor is not None:
        comment = (
            f"fiscalsafe-report v1 evidence_sha256={sha256(document_bytes(doc))} "
            f"verdict={doc.get('verdict')}"
        )
        fsio.atomic_write(
            Path(str(path) + ".minisig"), minisign.sign_bytes(auditor, content, comment)
        )
        written.append(Path(str(path) + ".minisig"))
    return written
