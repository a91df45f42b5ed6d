"""The raw signature-verification baseline: the same signatures fiscalsafe checks, verified
in a bare loop (cryptography's ``verify`` on pre-decoded DER signatures), on one core and
on every core. No parsing, no chaining, no bookkeeping: the floor fiscalsafe is held to."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from fiscalsafe.formats import archive as fa
from fiscalsafe.formats import journal as fj


def collect(dossier: Path) -> list[tuple[bytes, bytes]]:
    """(message, DER signature) of every ticket, archive and journal record of a dossier."""
    pairs: list[tuple[bytes, bytes]] = []

    def der(sig: bytes) -> bytes:
        return encode_dss_signature(
            int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        )

    for path in sorted((dossier / "archives").glob("*.fsa")):
        env = fa.parse_envelope(path.read_bytes())
        pairs.append((env.body, der(env.signature)))
        body = fa.parse_body(env.body)
        pairs.extend((b, der(s)) for b, s in body.raw_tickets)
    with open(dossier / "jet" / "journal.jet", "rb") as fh:
        for item in fj.iter_records(fh):
            if isinstance(item, fj.JournalEntry):
                pairs.append((item.body, der(item.signature)))
    return pairs


def _worker(args) -> float:
    pem, pairs, barrier_time = args
    key = serialization.load_pem_public_key(pem)
    algorithm = ec.ECDSA(hashes.SHA256())
    while time.time() < barrier_time:  # start together
        time.sleep(0.001)
    start = time.perf_counter()
    for message, sig in pairs:
        key.verify(sig, message, algorithm)
    return time.perf_counter() - start


def run_loop(pem: bytes, pairs: list[tuple[bytes, bytes]], processes: int) -> float:
    """Wall time for ``processes`` processes to verify ``pairs`` between them."""
    if processes == 1:
        return _worker((pem, pairs, 0.0))
    shares = [pairs[i::processes] for i in range(processes)]
    ctx = multiprocessing.get_context("forkserver")
    with ctx.Pool(processes) as pool:
        start_at = time.time() + 1.0 + len(pairs) / 200_000  # time to ship the shares
        times = pool.map(_worker, [(pem, share, start_at) for share in shares])
    return max(times)
