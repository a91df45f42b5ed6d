"""A backup's tag files and signed manifest, written after the gate (step (4) of
``backup.py``)."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from fiscalsafe import __version__, minisign
from fiscalsafe.errors import OperationalError
from fiscalsafe.formats import bagit, layout
from fiscalsafe.formats.layout import MANIFEST_PATH, REPORT_PATH, SIDECAR
from fiscalsafe.formats.manifest import MAX_MANIFEST_BYTES, Manifest, ManifestFile
from fiscalsafe.i18n import _
from fiscalsafe.pipeline.tarwrite import TarWriter
from fiscalsafe.units import human_size
from fiscalsafe.verify.report import CheckReport

if TYPE_CHECKING:
    from fiscalsafe.pipeline.backup import PackagePlan


def render_tags(
    plan: PackagePlan, report: CheckReport, entries: list[ManifestFile], bagit_txt: bytes
) -> tuple[dict[str, bytes], int]:
    """The tag files (check report, BagIt payload manifest, bag-info); the payload size."""
    identity, opts, now = plan.identity, plan.opts, plan.now
    report_bytes = (json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\n").encode()
    payload_manifest = bagit.render_manifest([(f"data/{e.path}", e.sha256) for e in entries])
    payload_bytes = sum(e.size for e in entries)
    bag_info = bagit.render_bag_info(
        [
            (label, " ".join(value.split()))
            for label, value in [
                ("Source-Organization", identity.shop_name),
                ("External-Identifier", identity.dossier_id),
                (
                    "External-Description",
                    f"fiscalsafe {opts.kind} backup of dossier {identity.dossier_id}",
                ),
                ("Bagging-Date", now.astimezone(identity.zone).date().isoformat()),
                ("Bag-Software-Agent", f"fiscalsafe {__version__}"),
                ("Payload-Oxum", bagit.payload_oxum(payload_bytes, len(entries))),
                ("Bag-Size", human_size(payload_bytes)),
                ("SIRET", identity.siret),
                ("Fiscalsafe-Kind", opts.kind),
                ("Fiscalsafe-Created", now.strftime("%Y-%m-%dT%H:%M:%SZ")),
            ]
        ]
    )
    tags = {
        "bagit.txt": bagit_txt,
        REPORT_PATH: report_bytes,
        "manifest-sha256.txt": payload_manifest,
        "bag-info.txt": bag_info,
    }
    return tags, payload_bytes


def write_manifest(
    tar: TarWriter,
    plan: PackagePlan,
    report: CheckReport,
    entries: list[ManifestFile],
    tags: dict[str, bytes],
    mtime_ns: int,
) -> bytes:
    """The signed manifest, its signature and the tag manifest; the manifest's bytes."""
    name, identity, opts, secret = plan.name, plan.identity, plan.opts, plan.secret
    manifest = Manifest(
        version=(1, 0),
        tool=f"fiscalsafe {__version__}",
        created=plan.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        bag=name,
        kind=opts.kind,
        dossier={
            "id": identity.dossier_id,
            "shop": identity.shop_name,
            "siret": identity.siret,
            "tz": identity.tz,
        },
        profile=plan.profile.name,
        forced=bool(plan.locks),
        allow_findings=opts.allow_findings,
        files=tuple(entries),
        omitted=tuple(plan.omitted),
        tag_files={p: hashlib.sha256(b).hexdigest() for p, b in tags.items()},
        check=_check_summary(report, plan.locks),
        shop_key=secret.fingerprint,
    )
    manifest_bytes = manifest.to_bytes()
    if len(manifest_bytes) > MAX_MANIFEST_BYTES:
        raise OperationalError(
            _(
                "{count} files make a manifest larger than a verifier reads ({limit} bytes); "
                "back this dossier up in parts",
                count=len(entries),
                limit=MAX_MANIFEST_BYTES,
            )
        )
    manifest_sig = minisign.sign_bytes(
        secret,
        manifest_bytes,
        layout.manifest_comment(
            bag=name,
            dossier=identity.dossier_id,
            created=manifest.created,
            sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        ),
    )
    tar.add_bytes(f"{name}/{MANIFEST_PATH}", manifest_bytes, mtime_ns=mtime_ns)
    tar.add_bytes(f"{name}/{MANIFEST_PATH}{SIDECAR}", manifest_sig, mtime_ns=mtime_ns)
    tag_entries = [(p, hashlib.sha256(b).hexdigest()) for p, b in tags.items()]
    tag_entries.append((MANIFEST_PATH, hashlib.sha256(manifest_bytes).hexdigest()))
    tag_entries.append((MANIFEST_PATH + SIDECAR, hashlib.sha256(manifest_sig).hexdigest()))
    tar.add_bytes(
        f"{name}/tagmanifest-sha256.txt", bagit.render_manifest(tag_entries), mtime_ns=mtime_ns
    )
    return manifest_bytes


def _check_summary(report: CheckReport, locks: list[str]) -> dict:
    doc = report.to_json()
    return {
        "verdict": doc["verdict"],
        "as_of": doc["as_of"],
        "years": doc["years"],
        "trust": doc["trust"],
        "coverage": doc["coverage"],
        "journal_head": doc["journal_head"],
        "stats": doc["stats"],
        "counts": doc["counts"],
        "findings": [f for f in doc["findings"] if f["severity"] != "info"],
        "locks": locks,
    }
