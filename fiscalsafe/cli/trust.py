"""Where trusted keys come from: the command line, else the documented trust directory.

Never from inside the thing being verified (schemas/keys.md, "Trust directory"). In the
trust directory a shop key ``shop/NAME.pub`` may be bound to dossiers by a file
``shop/NAME.dossiers`` (one dossier id per line, ``#`` comments): it then proves nothing
about any other dossier.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TRUST_DIR_ENV = "FISCALSAFE_TRUST_DIR"
MAX_BINDING_BYTES = 64 * 1024


@dataclass(frozen=True)
class ShopKey:
    key: object  # minisign.PublicKey
    origin: str  # "option" | "trust folder"
    dossiers: frozenset[str] | None = None  # None: not bound

    @property
    def key_id(self) -> bytes:
        return self.key.key_id


def trust_dir() -> Path:
    """The trust folder: ``$FISCALSAFE_TRUST_DIR``, else the system's per-user config
    folder's ``fiscalsafe/trust`` (``~/.config`` on Linux, ``~/Library/Application
    Support`` on macOS, ``%APPDATA%`` on Windows); else, if only it exists, the one
    ``~/.config/fiscalsafe/trust`` every system used before."""
    env = os.environ.get(TRUST_DIR_ENV)
    if env:
        return Path(env)
    current = default_trust_dir()
    legacy = legacy_trust_dir()
    if not current.is_dir() and legacy.is_dir():
        return legacy
    return current


def default_trust_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("fiscalsafe", appauthor=False, roaming=True)) / "trust"


def legacy_trust_dir() -> Path:
    return Path.home() / ".config" / "fiscalsafe" / "trust"


def load_shop_keys(paths: list[Path] | None) -> list[ShopKey]:
    """Shop public keys: ``--key`` files, else the documented trust directory's ``shop/``."""
    from fiscalsafe import minisign

    if paths:
        return [ShopKey(load_key_file(minisign.load_public_key, p), "option") for p in paths]
    folder = trust_dir() / "shop"
    found = sorted(folder.glob("*.pub")) if folder.is_dir() else []
    return [
        ShopKey(
            load_key_file(minisign.load_public_key, p),
            "trust folder",
            read_binding(p.with_suffix(".dossiers")),
        )
        for p in found
    ]


def read_binding(path: Path) -> frozenset[str] | None:
    from fiscalsafe import fsio
    from fiscalsafe.errors import UsageError

    data = fsio.read_regular(path, MAX_BINDING_BYTES, "trust binding", UsageError)
    if data is None:
        return None
    lines = (line.split("#", 1)[0].strip() for line in data.decode("utf-8", "replace").splitlines())
    return frozenset(line for line in lines if line)


def load_key_file(loader, path: Path, *args):
    """A key file the user named: if it does not parse, that is a usage error (exit 2)."""
    from fiscalsafe.errors import MalformedError, UsageError

    try:
        return loader(path, *args)
    except MalformedError as exc:
        from fiscalsafe.i18n import _

        raise UsageError(_("key file {path}: {problem}", path=path, problem=exc)) from None


def editor_trust(paths: list[Path] | None) -> list[Path]:
    if paths:
        return list(paths)
    folder = trust_dir() / "editor"
    return sorted(folder.glob("*.pub")) if folder.is_dir() else []
