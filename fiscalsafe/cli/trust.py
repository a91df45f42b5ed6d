"""Where trusted keys come from: the command line, else the documented trust directory.

Never from inside the thing being verified (schemas/keys.md, "Trust directory").
"""

from __future__ import annotations

import os
from pathlib import Path

TRUST_DIR_ENV = "FISCALSAFE_TRUST_DIR"


def trust_dir() -> Path:
    env = os.environ.get(TRUST_DIR_ENV)
    return Path(env) if env else Path.home() / ".config" / "fiscalsafe" / "trust"


def load_shop_keys(paths: list[Path] | None):
    """Shop public keys: ``--key`` files, else the documented trust directory's ``shop/``."""
    from fiscalsafe import minisign

    if paths:
        return [minisign.load_public_key(p) for p in paths]
    folder = trust_dir() / "shop"
    return (
        [minisign.load_public_key(p) for p in sorted(folder.glob("*.pub"))]
        if folder.is_dir()
        else []
    )


def editor_trust(paths: list[Path] | None) -> list[Path]:
    if paths:
        return list(paths)
    folder = trust_dir() / "editor"
    return sorted(folder.glob("*.pub")) if folder.is_dir() else []
