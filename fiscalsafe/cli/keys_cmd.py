"""``fiscalsafe keys``: the shop's minisign key pair."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from fiscalsafe import fsio, oscompat
from fiscalsafe.cli import exitcodes
from fiscalsafe.cli.options import JsonOpt, LanguageOpt
from fiscalsafe.cli.passphrase import empty_env_message
from fiscalsafe.cli.render import console, print_json, print_warning
from fiscalsafe.errors import UsageError
from fiscalsafe.i18n import _


def register(keys_app: typer.Typer, guarded) -> None:
    @keys_app.command(
        "generate", help=_("Create the shop's backup signing key pair, in minisign's formats.")
    )
    @guarded
    def keys_generate(
        out: Annotated[Path, typer.Option(help=_("Folder for NAME.pub and NAME.key."))] = Path("."),
        name: Annotated[str, typer.Option(help=_("Base name of the key files."))] = "shop",
        passphrase_env: Annotated[
            str, typer.Option(help=_("Read the passphrase from this environment variable."))
        ] = "FISCALSAFE_PASSPHRASE",
        no_passphrase: Annotated[
            bool, typer.Option(help=_("Write the secret key unencrypted."))
        ] = False,
        force: Annotated[bool, typer.Option(help=_("Overwrite existing key files."))] = False,
        json_out: JsonOpt = False,
        lang: LanguageOpt = None,
    ) -> int:
        """Create the shop's backup signing key pair, in minisign's formats."""
        from fiscalsafe import minisign

        pub_path, key_path = out / f"{name}.pub", out / f"{name}.key"
        for path in (pub_path, key_path):
            if os.path.lexists(path) and not force:
                raise UsageError(_("{path} exists; pass --force to overwrite it", path=path))
        passphrase = read_new_passphrase(passphrase_env, no_passphrase)
        secret = minisign.generate_keypair()
        out.mkdir(parents=True, exist_ok=True)
        write_private(key_path, secret.to_file_bytes(passphrase))
        fsio.atomic_write(pub_path, secret.public_key().to_file_bytes())
        doc = {
            "public_key": str(pub_path),
            "secret_key": str(key_path),
            "fingerprint": secret.fingerprint,
            "encrypted": passphrase is not None,
        }
        if json_out:
            print_json(doc, "keys-generate")
        else:
            protection = _("passphrase-protected") if passphrase else _("UNENCRYPTED")
            console.print(
                _(
                    "shop key {fingerprint}: public {public}, secret {secret} ({protection})",
                    fingerprint=secret.fingerprint,
                    public=pub_path,
                    secret=key_path,
                    protection=protection,
                )
            )
            console.print(
                _("keep the secret key off the backup medium; give the public key to auditors")
            )
        return exitcodes.OK


def write_private(path: Path, data: bytes) -> None:
    """Created 0600 from the start, never through a link planted at the name; on Windows,
    which ignores those bits, its ACL is then limited to the current user (a warning when
    that cannot be done)."""
    fsio.atomic_write(path, data, mode=0o600)
    problem = oscompat.restrict_to_owner(path)
    if problem is not None:
        print_warning(
            _(
                "{path} could not be made readable by you alone: {problem}; "
                "restrict its permissions by hand (file Properties, Security)",
                path=path,
                problem=problem,
            )
        )


def read_new_passphrase(env: str, none_wanted: bool) -> str | None:
    if none_wanted:
        return None
    if os.environ.get(env):
        return os.environ[env]
    if env in os.environ:
        raise UsageError(_("{problem} (or pass --no-passphrase)", problem=empty_env_message(env)))
    if sys.stdin.isatty():
        return typer.prompt(
            _("Passphrase for the new key"), hide_input=True, confirmation_prompt=True
        )
    raise UsageError(
        _(
            "no passphrase: set {variable}, run on a terminal, or pass --no-passphrase",
            variable=env,
        )
    )
