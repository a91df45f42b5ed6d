"""Opening a passphrase-protected secret key: from the environment (nightly jobs), else
asked on a terminal, three tries. An empty passphrase is said to be empty."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from fiscalsafe.errors import UsageError
from fiscalsafe.i18n import _

TRIES = 3


def empty_env_message(env: str) -> str:
    return _(
        "{variable} is set but empty: put the key's passphrase in it, or unset it to be asked "
        "on a terminal",
        variable=env,
    )


def _ask(prompt: Callable[..., str]) -> str:
    return prompt(_("Passphrase for the shop key"), hide_input=True, default="", show_default=False)


def open_secret_key(
    path: Path,
    env: str,
    *,
    prompt: Callable[..., str] | None = None,
    on_terminal: bool | None = None,
):
    """The secret key at ``path``; a usage error (exit 2) saying why when it cannot be
    opened: no passphrase, an empty one, or a wrong one three times on a terminal."""
    from fiscalsafe import minisign
    from fiscalsafe.cli.render import print_error
    from fiscalsafe.cli.trust import load_key_file

    given = os.environ.get(env)
    if given:
        return load_key_file(minisign.load_secret_key, path, given)
    try:
        return load_key_file(minisign.load_secret_key, path, None)  # an unencrypted key
    except minisign.PassphraseRequiredError:
        pass
    if on_terminal is None:
        on_terminal = sys.stdin.isatty()
    if not on_terminal:
        if given == "":
            raise UsageError(
                _(
                    "key file {path} is encrypted and {problem}",
                    path=path,
                    problem=empty_env_message(env),
                )
            )
        raise UsageError(
            _(
                "key file {path} is encrypted: set {variable} to its passphrase, or run on a "
                "terminal to be asked",
                path=path,
                variable=env,
            )
        )
    if prompt is None:
        import typer

        prompt = typer.prompt
    for left in range(TRIES - 1, -1, -1):
        passphrase = _ask(prompt)
        try:
            if passphrase == "":
                raise UsageError(_("the passphrase is empty"))
            return load_key_file(minisign.load_secret_key, path, passphrase)
        except UsageError as exc:
            if not left:
                raise UsageError(
                    _("{problem}; {n} tries, giving up", problem=exc, n=TRIES)
                ) from None
            print_error(_("{problem}; try again ({n} left)", problem=exc, n=left))
    raise AssertionError("unreachable")
