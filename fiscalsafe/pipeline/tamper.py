"""The tamper catalogue: damage a copy of a sample dossier in one named way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

TAMPERS: dict[str, tuple[Callable[[Path, dict[str, Path]], str], str]] = {}


def apply_tamper(name: str, dossier: Path, keys: dict[str, Path]) -> str:
    func, _ = TAMPERS[name]
    return func(dossier, keys)
