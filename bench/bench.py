"""fiscalsafe against the stock pipeline, measured in the same run.

For each sample size: generate (or reuse) a busy-shop sample, then for several rounds time
    backup   vs  tar -cf - DOSSIER | zstd -T0 -L   +  raw signature loop (all cores)
    verify   vs  zstd -dc ARCHIVE | openssl dgst -sha256  +  raw signature loop (all cores)
    check    signatures/s  vs  raw single-core rate x cores
and record each fiscalsafe run's peak memory, polled from /proc: the largest process's RSS,
and the whole process tree's PSS (and its RSS sum, which counts shared pages repeatedly).
Medians are reported; a table is printed and a JSON result written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from one_more_day import add_day  # noqa: E402
from sigloop import collect, run_loop  # noqa: E402

from fiscalsafe import __version__  # noqa: E402
from fiscalsafe.cli.options import parse_size  # noqa: E402
from fiscalsafe.samples.sample import write_sample  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
UNTIL = dt.date(2026, 11, 27)


#: How far the tree's RSS must pass its last high before its PSS is read again.
PSS_STEP_KB = 4096
#: ... and how often it is read anyway.
PSS_EVERY_S = 2.0


def _proc_kb(path: str, *fields: str) -> tuple[int, ...]:
    """kB fields of a ``/proc`` file (``status``, ``smaps_rollup``), in the order asked
    (0 when absent). Names as the file spells them, colon included: ``"VmRSS:"``."""
    found = dict.fromkeys(fields, 0)
    with open(path) as fh:
        for line in fh:
            name = line.split(None, 1)[0]
            if name in found:
                found[name] = int(line.split()[1])
    return tuple(found[f] for f in fields)


def tree_memory_peak(pid: int, stop: threading.Event, result: dict) -> None:
    """Peak memory of the process tree (the command, its forkserver and workers).

    Three peaks: the largest peak RSS of any one process (``VmHWM``, kept by the kernel:
    exact however seldom we look, as long as we look before the process ends); the tree's
    RSS summed, which counts a page shared by several processes once in each (workers are
    forked from a server that imported the code they run, so most of their pages are
    shared: this sum overstates the memory taken); and the tree's PSS summed
    (``smaps_rollup``: a shared page split between the processes sharing it), which is
    what the run takes from the machine. The memory target is judged on the largest
    process and on the tree's PSS. The sums are sampled every 100 ms.

    The poller shares the 2 cores with the run it measures, so it reads little (~0.25 s
    of CPU in a 14 s backup before, under 0.1 s now, measured). ``smaps_rollup`` walks a
    process's page tables (~1 ms each): it is read when the tree's RSS passes the last
    high it was read at by 4 MB (new pages: where the PSS peak is; read at every new high
    by a page, it was read ~250 times a backup) and every 2 s (pages that stop being
    shared, copied on write, raise the PSS and not the RSS). The PSS peak may so be low
    by up to 4 MB of new pages (more if a peak of copied pages lasts under 2 s).
    """
    peak_one = peak_tree = peak_pss = 0
    pss_mark = 0  # the highest tree RSS at which the PSS was read
    last_pss = 0.0
    while not stop.is_set():
        pids, frontier = [], [pid]
        while frontier:
            p = frontier.pop()
            pids.append(p)
            try:
                for task in os.listdir(f"/proc/{p}/task"):
                    with open(f"/proc/{p}/task/{task}/children") as fh:
                        frontier.extend(int(c) for c in fh.read().split())
            except OSError:
                pass
        rss = {}
        for p in pids:
            try:
                rss[p], hwm = _proc_kb(f"/proc/{p}/status", "VmRSS:", "VmHWM:")
            except OSError:  # the process ended between listing and reading
                continue
            peak_one = max(peak_one, hwm)
        rss_total = sum(rss.values())
        now = time.monotonic()
        if rss_total > pss_mark + PSS_STEP_KB or now - last_pss >= PSS_EVERY_S:
            last_pss = now
            pss_mark = max(pss_mark, rss_total)
            pss_total = 0
            for p in rss:
                try:
                    pss_total += _proc_kb(f"/proc/{p}/smaps_rollup", "Pss:")[0]
                except OSError:
                    continue
            peak_pss = max(peak_pss, pss_total)
        peak_tree = max(peak_tree, rss_total)
        stop.wait(0.1)
    result["peak_rss_mb"] = round(peak_one / 1024, 1)
    result["peak_tree_rss_mb"] = round(peak_tree / 1024, 1)
    result["peak_tree_pss_mb"] = round(peak_pss / 1024, 1)


def timed(cmd: list[str] | str, *, shell: bool = False, memory: bool = False) -> dict:
    # The previous command's output may still be in the page cache, waiting to be written
    # (tar | zstd writes ~400 MB without fsync): flushed now, not by the kernel's writeback
    # threads in the middle of the next measurement.
    os.sync()
    stop, mem = threading.Event(), {}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, shell=shell, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    poller = None
    if memory:
        poller = threading.Thread(target=tree_memory_peak, args=(proc.pid, stop, mem))
        poller.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    stop.set()
    if poller:
        poller.join()
    if proc.returncode not in (0,):
        raise SystemExit(
            f"benchmark command failed ({proc.returncode}): {cmd}\n{err.decode()[-2000:]}"
        )
    return {"seconds": seconds, "stdout": out.decode(), **mem}


def make_sample(work: Path, size: int, tickets: int, years: int) -> Path:
    root = work / f"sample-{size}-{tickets}-{years}"
    stamp = root / ".complete"
    if not stamp.exists():
        shutil.rmtree(root, ignore_errors=True)
        t = time.perf_counter()
        print(
            f"generating a {size / 2**30:.2f} GiB sample, {tickets} tickets/day "
            f"over {years} years ...",
            flush=True,
        )
        write_sample(
            root, seed=42, years=years, until=UNTIL, size=size, tickets_per_day=tickets, shops=1
        )
        print(f"  generated in {time.perf_counter() - t:.1f} s", flush=True)
        stamp.touch()
    return root


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bench_size(work: Path, size: int, args) -> dict:
    root = make_sample(work, size, args.tickets_per_day, args.years)
    # The sample's history ends at UNTIL: the commands run as of that day, with a state
    # folder of their own (what they prove must not mix with the user's own).
    os.environ["FISCALSAFE_NOW"] = f"{UNTIL.isoformat()}T20:00:00+00:00"
    os.environ["FISCALSAFE_STATE_DIR"] = str(work / "state")
    shutil.rmtree(work / "state", ignore_errors=True)
    dossier = root / "dossiers" / "MAG001"
    keys = root / "keys"
    fs = [sys.executable, "-m", "fiscalsafe"]
    cores = os.cpu_count() or 1
    pairs = collect(dossier)
    pem = (keys / "editor.pub").read_bytes()
    single_n = min(len(pairs), 40_000)
    out = work / "out"
    rounds: list[dict] = []
    for r in range(args.rounds):
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        # Each round's backup is a first backup: no remembered proof from the round before.
        shutil.rmtree(work / "state", ignore_errors=True)
        row: dict = {}
        row["raw_single_rate"] = single_n / run_loop(pem, pairs[:single_n], 1)
        row["raw_all_cores_s"] = run_loop(pem, pairs, cores)
        row["tar_zstd_s"] = timed(
            f"tar -cf - -C {dossier.parent} {dossier.name} | zstd -T0 -{args.level} "
            f"-q -o {out}/stock.tar.zst",
            shell=True,
        )["seconds"]
        backup = timed(
            fs
            + [
                "backup",
                str(dossier),
                "--to",
                str(out),
                "--key",
                str(keys / "shop.key"),
                "--trust",
                str(keys / "editor.pub"),
                "--level",
                str(args.level),
                "--json",
            ],
            memory=True,
        )
        doc = json.loads(backup["stdout"])["backups"][0]
        archive = doc["files"][0]
        row.update(
            backup_s=backup["seconds"],
            backup_rss_mb=backup["peak_rss_mb"],
            backup_tree_rss_mb=backup["peak_tree_rss_mb"],
            backup_tree_pss_mb=backup["peak_tree_pss_mb"],
            archive_bytes=doc["archive_bytes"],
            payload_bytes=doc["payload_bytes"],
        )
        row["zstd_sha256_s"] = timed(f"zstd -dc {archive} | openssl dgst -sha256", shell=True)[
            "seconds"
        ]
        verify = timed(
            fs
            + [
                "verify",
                archive,
                "--key",
                str(keys / "shop.pub"),
                "--trust",
                str(keys / "editor.pub"),
                "--json",
            ],
            memory=True,
        )
        assert json.loads(verify["stdout"])["verdict"] == "proven"
        row.update(
            verify_s=verify["seconds"],
            verify_rss_mb=verify["peak_rss_mb"],
            verify_tree_rss_mb=verify["peak_tree_rss_mb"],
            verify_tree_pss_mb=verify["peak_tree_pss_mb"],
        )
        check = timed(
            fs
            + [
                "check",
                str(dossier),
                "--trust",
                str(keys / "editor.pub"),
                "--as-of",
                UNTIL.isoformat(),
                "--json",
            ],
            memory=True,
        )
        stats = json.loads(check["stdout"])["stats"]
        row.update(
            check_s=check["seconds"],
            check_rss_mb=check["peak_rss_mb"],
            check_tree_rss_mb=check["peak_tree_rss_mb"],
            check_tree_pss_mb=check["peak_tree_pss_mb"],
            signatures=stats["signatures_verified"],
            check_rate=stats["signatures_verified"] / check["seconds"],
        )
        rounds.append(row)
        print(
            f"  round {r + 1}: backup {row['backup_s']:.2f}s verify {row['verify_s']:.2f}s "
            f"check {row['check_s']:.2f}s",
            flush=True,
        )
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    med["backup_ratio"] = med["backup_s"] / (med["tar_zstd_s"] + med["raw_all_cores_s"])
    med["verify_ratio"] = med["verify_s"] / (med["zstd_sha256_s"] + med["raw_all_cores_s"])
    med["check_ratio"] = med["check_rate"] / (med["raw_single_rate"] * cores)
    med["dossier_bytes"] = du(dossier)
    med["tickets_per_day"] = args.tickets_per_day
    med["years"] = args.years
    result = {"size": size, "median": med, "rounds": rounds}
    if args.nightly:
        result["nightly"] = bench_nightly(work, root, args)
    return result


def bench_nightly(work: Path, root: Path, args) -> dict:
    """The nightly job on a copy of the dossier: a first backup, a second one of the same
    dossier (remembered proofs), one after one more day of tickets; then seven backups of
    the dossier on one medium, verified in one run, against one backup's verify."""
    base = work / "nightly"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    dossier = base / "MAG001"
    subprocess.run(["cp", "-a", str(root / "dossiers" / "MAG001"), str(dossier)], check=True)
    keys = root / "keys"
    os.environ["FISCALSAFE_STATE_DIR"] = str(base / "state")
    medium = base / "usb"
    medium.mkdir()
    fs = [sys.executable, "-m", "fiscalsafe"]
    trust = ["--trust", str(keys / "editor.pub")]

    def backup(name: str) -> tuple[dict, dict]:
        run = timed(
            fs
            + ["backup", str(dossier), "--to", str(medium), "--key", str(keys / "shop.key")]
            + trust
            + ["--level", str(args.level), "--name", name, "--json"],
            memory=True,
        )
        return run, json.loads(run["stdout"])["backups"][0]

    def tar_zstd() -> float:
        stock = base / "stock.tar.zst"
        seconds = timed(
            f"tar -cf - -C {dossier.parent} {dossier.name} | zstd -T0 -{args.level} -q -o {stock}",
            shell=True,
        )["seconds"]
        stock.unlink()
        return seconds

    first, first_doc = backup("day1")
    # Each nightly row, --rounds times, each backup right after a tar | zstd of the same
    # dossier: the baseline moves by ±10 % from one minute to the next, the median less.
    same_runs = []
    for _ in range(args.rounds):
        same_tar = tar_zstd()
        same, same_doc = backup("day2")  # replaces the day2 of the round before
        same_runs.append((same_tar, same, same_doc))
    # One more day, the same day in every round: the dossier's appended bytes cut off, the
    # state and the medium as they were before it.
    journal, head = dossier / "jet" / "journal.jet", dossier / "jet" / "journal.head"
    sizes = {p: p.stat().st_size for p in dossier.rglob("*") if p.is_file()}
    saved_head, saved_state = head.read_bytes(), base / "state-before-the-day"
    shutil.copytree(base / "state", saved_state)
    day_runs = []
    for r in range(args.rounds):
        if r:
            for path, size in sizes.items():
                if path.stat().st_size != size:
                    os.truncate(path, size)
            head.write_bytes(saved_head)
            shutil.rmtree(base / "state")
            shutil.copytree(saved_state, base / "state")
            for part in medium.glob("day3.*"):
                part.unlink()
        add_day(dossier, keys, max(4096, du(dossier) // (args.years * 365)))
        day_tar = tar_zstd()
        day, day_doc = backup("day3")
        day_runs.append((day_tar, day, day_doc))
    assert journal.stat().st_size > sizes[journal]
    for n in range(4, 8):
        backup(f"day{n}")

    def verify(target: Path) -> dict:
        # An auditor's machine: a state folder of its own, which has seen none of these.
        state = base / f"auditor-{target.name}"
        os.environ["FISCALSAFE_STATE_DIR"] = str(state)
        return timed(
            fs + ["verify", str(target), "--key", str(keys / "shop.pub")] + trust + ["--json"],
            memory=True,
        )

    one = verify(medium / "day1.tar.zst")
    seven = verify(medium)
    seven_doc = json.loads(seven["stdout"])
    assert len(seven_doc["reports"]) == 7 and seven_doc["verdict"] == "proven", seven_doc
    shutil.rmtree(base, ignore_errors=True)
    nights = same_runs + day_runs
    return {
        "first_backup_s": first["seconds"],
        "first_proofs": first_doc["archive_proofs"],
        **nightly_row("same", same_runs),
        **nightly_row("day", day_runs),
        "nightly_rss_mb": max(run["peak_rss_mb"] for _, run, _ in nights),
        "nightly_tree_pss_mb": max(run["peak_tree_pss_mb"] for _, run, _ in nights),
        "verify_one_s": one["seconds"],
        "verify_seven_s": seven["seconds"],
        "medium_ratio": seven["seconds"] / one["seconds"],
        "medium_rss_mb": seven["peak_rss_mb"],
        "medium_tree_pss_mb": seven["peak_tree_pss_mb"],
    }


def nightly_row(row: str, runs: list[tuple[float, dict, dict]]) -> dict:
    """Medians of one nightly row's rounds (the ratio: the median of each round's ratio),
    and the rounds themselves."""
    rounds = [
        {"tar_zstd_s": tar, "backup_s": run["seconds"], "ratio": run["seconds"] / tar}
        for tar, run, _ in runs
    ]
    proofs = [doc["archive_proofs"] for _, _, doc in runs]
    assert all(p == proofs[0] for p in proofs), proofs  # every round the same situation
    segments = [doc["segments"] for _, _, doc in runs]
    assert all(s == segments[0] for s in segments), segments
    return {
        f"{row}_tar_zstd_s": statistics.median(r["tar_zstd_s"] for r in rounds),
        f"{row}_backup_s": statistics.median(r["backup_s"] for r in rounds),
        f"{row}_proofs": proofs[0],
        f"{row}_segments": segments[0],
        f"{row}_ratio": statistics.median(r["ratio"] for r in rounds),
        f"{row}_rounds": rounds,
    }


def level_sweep(work: Path, size: int, args) -> list[dict]:
    root = make_sample(work, size, args.tickets_per_day, args.years)
    dossier = root / "dossiers" / "MAG001"
    rows = []
    total = du(dossier)
    for level in args.levels:
        t = timed(
            f"tar -cf - -C {dossier.parent} {dossier.name} | zstd -T0 -{level} -q -c | wc -c",
            shell=True,
        )
        out_bytes = int(t["stdout"].strip())
        rows.append(
            {
                "level": level,
                "seconds": t["seconds"],
                "ratio": total / out_bytes,
                "mb_per_s": total / t["seconds"] / 2**20,
                "output_bytes": out_bytes,
            }
        )
    fixtures = ROOT / "fixtures"
    if fixtures.is_dir():
        for row in rows:
            t = timed(
                f"tar -cf - -C {ROOT} fixtures | zstd -T0 -{row['level']} -q -c | wc -c", shell=True
            )
            row["fixtures_ratio"] = du(fixtures) / max(1, int(t["stdout"].strip()))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--size", default="2GB", help="sample size (default 2GB)")
    ap.add_argument(
        "--sizes", help="comma-separated sizes for the scaling table (e.g. 1GB,2GB,8GB)"
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--level", type=int, default=3)
    ap.add_argument("--levels", default="1,3,6,9", help="zstd levels for the trade-off table")
    ap.add_argument("--tickets-per-day", type=int, default=200)
    ap.add_argument("--years", type=int, default=7)
    ap.add_argument("--work", default=str(ROOT / "bench" / "out"))
    ap.add_argument(
        "--no-nightly",
        dest="nightly",
        action="store_false",
        help="skip the nightly-backup and seven-backup medium rows",
    )
    args = ap.parse_args()
    args.levels = [int(x) for x in args.levels.split(",") if x]
    sizes = [parse_size(s) for s in (args.sizes.split(",") if args.sizes else [args.size])]
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for size in sizes:
        print(f"== size {size / 2**30:.2f} GiB ==", flush=True)
        results.append(bench_size(work, size, args))
    levels = level_sweep(work, sizes[0], args) if args.levels else []
    doc = {
        "tool": f"fiscalsafe {__version__}",
        "when": dt.datetime.now(dt.UTC).isoformat(),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "workload": {
            "tickets_per_day": args.tickets_per_day,
            "years": args.years,
            "level": args.level,
            "rounds": args.rounds,
        },
        "sizes": results,
        "levels": levels,
        "targets": {
            "backup_ratio_max": 1.1,
            "verify_ratio_max": 1.1,
            "check_ratio_min": 0.85,
            "peak_rss_mb_max": 200,
            "nightly_ratio_max": 1.15,
            "medium_ratio_max": 2.0,
        },
    }
    doc["targets_met"] = targets_met(doc)
    out = work / f"result-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(doc, indent=2))
    print_table(doc)
    print(f"\nJSON result: {out}")
    return 0


def targets_met(doc: dict) -> dict[str, bool]:
    """Each target, judged on the medians of every size measured."""
    t, meds = doc["targets"], [res["median"] for res in doc["sizes"]]
    memory = [
        m[f"{cmd}_{kind}_mb"]
        for m in meds
        for cmd in ("backup", "verify", "check")
        for kind in ("rss", "tree_pss")
    ]
    nights = [res["nightly"] for res in doc["sizes"] if "nightly" in res]
    memory += [n[f"{row}_{kind}_mb"] for n in nights for row in ("nightly", "medium")
               for kind in ("rss", "tree_pss")]  # fmt: skip
    met = {
        "backup": all(m["backup_ratio"] <= t["backup_ratio_max"] for m in meds),
        "verify": all(m["verify_ratio"] <= t["verify_ratio_max"] for m in meds),
        "check": all(m["check_ratio"] >= t["check_ratio_min"] for m in meds),
        "memory": all(mb <= t["peak_rss_mb_max"] for mb in memory),
    }
    if nights:
        met["nightly"] = all(
            max(n["same_ratio"], n["day_ratio"]) <= t["nightly_ratio_max"] for n in nights
        )
        met["medium"] = all(n["medium_ratio"] <= t["medium_ratio_max"] for n in nights)
    return met


def print_table(doc: dict) -> None:
    print(
        "\nsize     dossier  sigs     backup s (ratio)   verify s (ratio)   "
        "check sig/s (ratio)   peak MB b/v/c"
    )
    for res in doc["sizes"]:
        m = res["median"]
        print(
            f"{res['size'] / 2**30:5.2f}G {m['dossier_bytes'] / 2**30:6.2f}G "
            f"{int(m['signatures']):8d} "
            f"{m['backup_s']:7.2f} ({m['backup_ratio']:.3f})   {m['verify_s']:7.2f} "
            f"({m['verify_ratio']:.3f})   "
            f"{m['check_rate']:9.0f} ({m['check_ratio']:.3f})   "
            f"{m['backup_rss_mb']:.0f}/{m['verify_rss_mb']:.0f}/{m['check_rss_mb']:.0f} largest, "
            f"{m['backup_tree_pss_mb']:.0f}/{m['verify_tree_pss_mb']:.0f}/"
            f"{m['check_tree_pss_mb']:.0f} tree PSS "
            f"({m['backup_tree_rss_mb']:.0f}/{m['verify_tree_rss_mb']:.0f}/"
            f"{m['check_tree_rss_mb']:.0f} tree RSS sum)"
        )
        print(
            f"         baselines: tar|zstd {m['tar_zstd_s']:.2f}s  zstd -dc|openssl "
            f"{m['zstd_sha256_s']:.2f}s  "
            f"raw sig loop all cores {m['raw_all_cores_s']:.2f}s  raw 1-core "
            f"{m['raw_single_rate']:.0f} sig/s"
        )
        n = res.get("nightly")
        if n:
            print(
                f"         nightly: backup of the same dossier {n['same_backup_s']:.2f}s "
                f"(x{n['same_ratio']:.2f} tar|zstd {n['same_tar_zstd_s']:.2f}s, "
                f"{n['same_proofs']['remembered']} archives remembered); after one more day "
                f"{n['day_backup_s']:.2f}s (x{n['day_ratio']:.2f} tar|zstd "
                f"{n['day_tar_zstd_s']:.2f}s); first backup {n['first_backup_s']:.2f}s"
            )
            print(
                f"         medium: seven backups verified in one run {n['verify_seven_s']:.2f}s "
                f"(x{n['medium_ratio']:.2f} one backup's {n['verify_one_s']:.2f}s); peak MB "
                f"{n['nightly_rss_mb']:.0f}/{n['medium_rss_mb']:.0f} largest, "
                f"{n['nightly_tree_pss_mb']:.0f}/{n['medium_tree_pss_mb']:.0f} tree PSS"
            )
    met = doc["targets_met"]
    print("\ntargets: " + "  ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in met.items()))
    if doc["levels"]:
        print("\nzstd level  MB/s   ratio  (fixtures ratio)")
        for row in doc["levels"]:
            print(
                f"  {row['level']:3d}     {row['mb_per_s']:6.0f}  {row['ratio']:5.2f}  "
                f"({row.get('fixtures_ratio', 0):.2f})"
            )


if __name__ == "__main__":
    sys.exit(main())
