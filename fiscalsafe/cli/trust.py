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

    if not paths:
        folder = trust_dir() / "shop"
        paths = sorted(folder.glob("*.pub")) if folder.is_dir() else []
    return [load_key_file(minisign.load_public_key, p) for p in paths]


def load_key_file(loader, path: Path, *args):
    """A key file the user named: if it does not parse, that is a usage error (exit 2)."""
    from fiscalsafe.errors import MalformedError, UsageError

    try:
        return loader(path, *args)
    except MalformedError as exc:
        raise UsageError(f"key file {path}: {exc}") from None


def editor_trust(paths: list[Path] | None) -> list[Path]:
    if paths:
        return list(paths)
    folder = trust_dir() / "editor"
    return sorted(folder.glob("*.pub")) if folder.is_dir() else []
