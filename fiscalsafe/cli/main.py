"""The ``fiscalsafe`` command line: typer commands, rendering and exit codes only."""

from __future__ import annotations

import datetime as dt
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from fiscalsafe import __version__, fsio
from fiscalsafe.cli import exitcodes
from fiscalsafe.cli.options import (
    MaxIdleOpt,
    StateOpt,
    check_max_idle,
    parse_as_of,
    parse_date,
    parse_size,
    state_store,
)
from fiscalsafe.cli.render import (
    console,
    coverage_sentence,
    print_error,
    print_findings,
    print_json,
)
from fiscalsafe.errors import FiscalsafeError, UsageError
from fiscalsafe.formats.dossier import DEFAULT_PROFILE, Profile, parse_profile
from fiscalsafe.pipeline.interrupts import terminate_as_interrupt
from fiscalsafe.verify.coverage import MAX_IDLE_DAYS

app = typer.Typer(
    name="fiscalsafe",
    help="Check, back up, verify and restore French fiscal shop dossiers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Manage the shop's backup signing keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
TrustOpt = Annotated[
    list[Path] | None,
    typer.Option("--trust", help="Editor public key (PEM) fiscal signatures must verify with."),
]
ProfileOpt = Annotated[
    Path | None, typer.Option("--profile", help="Dossier profile (JSON); default: odeis-default.")
]


def guarded(command: Callable[..., int]) -> Callable[..., None]:
    """Map a command's outcome to the documented exit codes, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs) -> None:
        try:
            with terminate_as_interrupt():
                code = command(*args, **kwargs)
        except KeyboardInterrupt:
            print_error("interrupted; nothing was left that looks complete")
            code = exitcodes.OPERATIONAL
        except FiscalsafeError as exc:
            print_error(str(exc))
            code = exitcodes.for_error(exc)
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            print_error(f"{exc.strerror or exc}{where}")
            code = exitcodes.OPERATIONAL
        raise typer.Exit(code)

    return wrapper


CLOCK_ENV = "FISCALSAFE_NOW"
MAX_PROFILE_BYTES = 1024 * 1024


def now_utc() -> dt.datetime:
    """The time fiscalsafe takes as now: the system clock, or ``$FISCALSAFE_NOW`` (an ISO
    date-time) for reproducible runs of fixed sample data (benchmarks, CI). Whoever runs
    fiscalsafe owns its clock either way; reports show the time used."""
    fixed = os.environ.get(CLOCK_ENV)
    if fixed:
        try:
            moment = dt.datetime.fromisoformat(fixed)
        except ValueError:
            raise UsageError(f"{CLOCK_ENV}={fixed!r} is not an ISO date-time") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC)


def load_profile(path: Path | None) -> Profile:
    if path is None:
        return DEFAULT_PROFILE
    from fiscalsafe import fsio

    try:
        data = fsio.read_regular(path, MAX_PROFILE_BYTES, "profile", UsageError)
        if data is None:
            raise UsageError(f"profile {path} does not exist")
        return parse_profile(data)
    except OSError as exc:
        raise UsageError(f"cannot read profile {path}: {exc.strerror}") from None
    except FiscalsafeError as exc:
        raise UsageError(f"profile {path}: {exc}") from None


@app.callback(invoke_without_command=True)
def main(
    version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False,
) -> None:
    if version:
        console.print(f"fiscalsafe {__version__}")
        raise typer.Exit(0)


@app.command()
@guarded
def sample(
    directory: Annotated[Path, typer.Argument(help="New folder for the sample root.")],
    seed: Annotated[int, typer.Option(help="Same seed, same bytes.")] = 1,
    years: Annotated[int, typer.Option(help="Years of fiscal history.")] = 7,
    until: Annotated[
        str | None, typer.Option(help="Day after the last activity (YYYY-MM-DD); default today.")
    ] = None,
    size: Annotated[
        str, typer.Option(help="Bulk database and photo bytes, all shops together.")
    ] = "8MB",
    tickets_per_day: Annotated[
        int, typer.Option(help="Average tickets a shop signs per open day.")
    ] = 20,
    open_app: Annotated[
        bool, typer.Option("--open", help="Leave lock files, as if the application ran.")
    ] = False,
    shops: Annotated[int, typer.Option(help="Number of shop dossiers (1 or 2).")] = 2,
    tamper: Annotated[
        str | None, typer.Option(help="Damage the sample in one named way (see --tamper list).")
    ] = None,
    json_out: JsonOpt = False,
) -> int:
    """Write a sample root: two shop dossiers and a keys folder."""
    from fiscalsafe.samples.sample import write_sample
    from fiscalsafe.samples.tamper import TAMPERS, apply_tamper

    if tamper == "list":
        for name, (_, doc) in TAMPERS.items():
            console.print(f"{name:28} {doc}")
        return exitcodes.OK
    if tamper is not None and tamper not in TAMPERS:
        raise UsageError(f"unknown --tamper {tamper!r}; see --tamper list")
    result = write_sample(
        directory,
        seed=seed,
        years=years,
        until=parse_date(until, now_utc().date(), "--until"),
        size=parse_size(size),
        tickets_per_day=tickets_per_day,
        open_app=open_app,
        shops=shops,
    )
    doc = result.to_json()
    if tamper is not None:
        doc["tamper"] = apply_tamper(tamper, result.dossiers[0], result.keys)
    if json_out:
        print_json(doc)
    else:
        console.print(
            f"sample written to {directory}: {len(result.dossiers)} dossiers, "
            f"{result.tickets} signed tickets, {len(result.files)} files"
        )
        for path in result.dossiers:
            console.print(f"  dossier  {path}")
        for name, path in result.keys.items():
            console.print(f"  {name:15}{path}")
        if tamper:
            console.print(f"  tampered {result.dossiers[0]}: {doc['tamper']}")
    return exitcodes.OK


@app.command()
@guarded
def check(
    dossier: Annotated[Path, typer.Argument(help="The shop dossier folder.")],
    trust: TrustOpt = None,
    as_of: Annotated[
        str | None, typer.Option(help="Date the coverage ends (default: now).")
    ] = None,
    years: Annotated[int, typer.Option(help="Years that must be covered.")] = 6,
    require_trust: Annotated[
        bool, typer.Option(help="Fail unless --trust names the editor key.")
    ] = False,
    profile: ProfileOpt = None,
    state: StateOpt = None,
    max_idle_days: MaxIdleOpt = MAX_IDLE_DAYS,
    json_out: JsonOpt = False,
) -> int:
    """Prove a dossier's fiscal integrity in place, read-only."""
    from fiscalsafe.pipeline.check import check_dossier

    if years < 1:
        raise UsageError("--years must be at least 1")
    from fiscalsafe.cli.trust import editor_trust

    trusted = editor_trust(trust)
    for key_path in trusted:
        if dossier.resolve() in key_path.resolve().parents:
            raise UsageError(
                f"{key_path} lies inside the dossier being checked: it cannot vouch for it "
                "(leave out --trust to check against the dossier's own key, reported as such)"
            )
    store = state_store(state)
    now = now_utc()
    report = check_dossier(
        dossier,
        as_of=parse_as_of(as_of, now),
        years=years,
        trust=trusted,
        require_trust=require_trust,
        profile=load_profile(profile),
        max_idle_days=check_max_idle(max_idle_days),
        state=store,
    )
    store.advance(report, "check", now)
    if json_out:
        print_json(report.to_json())
    else:
        render_check(report)
    return exitcodes.OK if report.ok else exitcodes.FINDINGS


def render_check(report) -> None:
    counts = report.counts()
    cov = report.coverage
    if report.verdict == "proven":
        console.print(
            f"[bold green]PROVEN[/] dossier {report.dossier}: fiscal integrity verified",
            markup=True,
        )
    elif report.verdict == "consistent":
        console.print(
            f"[bold yellow]CONSISTENT, ORIGIN NOT PROVEN[/] dossier {report.dossier}: no "
            "error, but checked against the dossier's own editor key; pass --trust",
            markup=True,
        )
    else:
        console.print(
            f"[bold red]NOT PROVEN[/] dossier {report.dossier}: {counts['error']} "
            f"error(s), {counts['warning']} warning(s)",
            markup=True,
        )
    stats = report.stats
    console.print(
        f"  {stats.get('archives', 0)} archives, {stats.get('tickets', 0)} tickets, "
        f"{stats.get('journal_records', 0)} journal records, "
        f"{stats.get('signatures_verified', 0)} signatures verified"
    )
    if report.trust["self_asserted"]:
        fps = ", ".join(report.trust["fingerprints"]) or "none"
        console.print(
            f"  trust: self-asserted (dossier's own key {fps}); pass --trust to prove origin"
        )
    else:
        console.print(f"  trust: {', '.join(report.trust['fingerprints'])}")
    if cov is not None:
        console.print("  coverage: " + coverage_sentence(cov))
        if cov.since_genesis:
            console.print(f"  dossier younger than required: complete since genesis {cov.genesis}")
    if report.findings:
        print_findings(report.findings)


@keys_app.command("generate")
@guarded
def keys_generate(
    out: Annotated[Path, typer.Option(help="Folder for NAME.pub and NAME.key.")] = Path("."),
    name: Annotated[str, typer.Option(help="Base name of the key files.")] = "shop",
    passphrase_env: Annotated[
        str, typer.Option(help="Read the passphrase from this environment variable.")
    ] = "FISCALSAFE_PASSPHRASE",
    no_passphrase: Annotated[bool, typer.Option(help="Write the secret key unencrypted.")] = False,
    force: Annotated[bool, typer.Option(help="Overwrite existing key files.")] = False,
    json_out: JsonOpt = False,
) -> int:
    """Create the shop's backup signing key pair, in minisign's formats."""
    from fiscalsafe import minisign

    pub_path, key_path = out / f"{name}.pub", out / f"{name}.key"
    for path in (pub_path, key_path):
        if os.path.lexists(path) and not force:
            raise UsageError(f"{path} exists; pass --force to overwrite it")
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
        print_json(doc)
    else:
        console.print(
            f"shop key {secret.fingerprint}: public {pub_path}, secret {key_path}"
            f" ({'passphrase-protected' if passphrase else 'UNENCRYPTED'})"
        )
        console.print("keep the secret key off the backup medium; give the public key to auditors")
    return exitcodes.OK


def write_private(path: Path, data: bytes) -> None:
    """Created 0600 from the start, never through a link planted at the name."""
    fsio.atomic_write(path, data, mode=0o600)


def read_new_passphrase(env: str, none_wanted: bool) -> str | None:
    if none_wanted:
        return None
    if os.environ.get(env):
        return os.environ[env]
    if sys.stdin.isatty():
        return typer.prompt("Passphrase for the new key", hide_input=True, confirmation_prompt=True)
    raise UsageError(f"no passphrase: set {env}, run on a terminal, or pass --no-passphrase")


def read_passphrase(env: str) -> str | None:
    """For an existing key: the environment first (nightly jobs), else ask on a terminal."""
    if os.environ.get(env):
        return os.environ[env]
    if sys.stdin.isatty():
        return typer.prompt("Passphrase for the shop key", hide_input=True)
    return None


from fiscalsafe.cli import backup_cmd, verify_cmd  # noqa: E402

backup_cmd.register(app, guarded, load_profile, now_utc, read_passphrase)
verify_cmd.register(app, guarded, load_profile, now_utc, read_passphrase)


def run() -> None:
    """Entry point (console script and ``python -m fiscalsafe``)."""
    app()
