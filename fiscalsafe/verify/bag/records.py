"""What the validator keeps of a bag's files and manifests, and its findings by stage."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from fiscalsafe.formats import bagit as fmt
from fiscalsafe.verify.findings import Finding

# The digests of an empty file: an absent OS metadata file listed as empty is tolerated.
EMPTY_DIGESTS = {
    alg: hashlib.new(alg, b"", usedforsecurity=False).hexdigest()
    for alg in fmt.SUPPORTED_ALGORITHMS
}


def version_text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


@dataclass
class FileRecord:
    path: str
    size: int
    digests: dict[str, str]
    content: bytes | None = None
    content_problem: str | None = None


@dataclass
class ManifestRecord:
    name: str
    algorithm: str
    is_tag: bool
    supported: bool
    entries: dict[str, fmt.ManifestEntry] = field(default_factory=dict)


@dataclass
class Stages:
    """Findings by stage, so that cheap checks come first in the report."""

    structure: list[Finding] = field(default_factory=list)
    info: list[Finding] = field(default_factory=list)
    manifests: list[Finding] = field(default_factory=list)
    oxum: list[Finding] = field(default_factory=list)
    completeness: list[Finding] = field(default_factory=list)
    names: list[Finding] = field(default_factory=list)
    fixity: list[Finding] = field(default_factory=list)

    def all(self) -> list[Finding]:
        out: list[Finding] = []
        for stage in (
            self.structure,
            self.info,
            self.manifests,
            self.oxum,
            self.completeness,
            self.names,
            self.fixity,
        ):
            out.extend(stage)
        return out
