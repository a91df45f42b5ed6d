"""Bulk bytes for sample databases: fast, deterministic, and compressible like real data.

Real shop databases are fixed-width records of names, codes, prices and dates: they
compress 3-6x, neither like random bytes (1x) nor like one repeated block (1000x). A few
megabytes of genuine-looking records are built once per seed; every output chunk is a
rotation of one of them passed through a digit permutation (``bytes.translate`` runs in
C), so files grow at disk speed while never repeating within a compression window.
"""

from __future__ import annotations

import random
from pathlib import Path

CHUNK = 1024 * 1024
BASE_BLOCKS = 6
TABLES = 48

_WORDS = [
    "CHEMISE",
    "POLO",
    "JEAN",
    "VESTE",
    "PULL",
    "ROBE",
    "JUPE",
    "PANTALON",
    "MANTEAU",
    "BASKET",
    "BOTTINE",
    "SAC",
    "CEINTURE",
    "ECHARPE",
    "GANT",
    "BONNET",
    "CHAUSSETTE",
    "BLOUSON",
    "GILET",
    "SHORT",
    "TSHIRT",
    "SWEAT",
    "PNEU",
    "JANTE",
    "FILTRE",
    "HUILE",
    "PLAQUETTE",
    "DISQUE",
    "AMPOULE",
    "BATTERIE",
    "ESSUIE",
    "VIDANGE",
    "COURROIE",
    "BOUGIE",
]
_COLOURS = ["NOIR", "BLANC", "BLEU", "ROUGE", "VERT", "GRIS", "BEIGE", "MARINE", "KAKI", "ROSE"]
_NAMES = [
    "MARTIN",
    "BERNARD",
    "THOMAS",
    "PETIT",
    "ROBERT",
    "RICHARD",
    "DURAND",
    "DUBOIS",
    "MOREAU",
    "LAURENT",
    "SIMON",
    "MICHEL",
    "LEFEBVRE",
    "LEROY",
    "ROUX",
    "DAVID",
    "BERTRAND",
    "MOREL",
    "FOURNIER",
    "GIRARD",
]
_TOWNS = [
    "PARIS",
    "LYON",
    "MARSEILLE",
    "LILLE",
    "NANTES",
    "RENNES",
    "DIJON",
    "NICE",
    "TOULOUSE",
    "BORDEAUX",
]


def _record(rng: random.Random, table: str, n: int) -> bytes:
    """One 256-byte fixed-width record, like an HFSQL data file row."""
    text = (
        f"{table[:3]}{n:09d}|{rng.choice(_WORDS)} {rng.choice(_COLOURS)} T{rng.randint(34, 52)}"
        f"|{rng.choice(_NAMES)} {rng.choice(_NAMES)[:1]}.|{rng.randint(1, 99999):05d} "
        f"{rng.choice(_TOWNS)}|{rng.randint(100, 99999):>8d}|{rng.randint(0, 500):>5d}"
        f"|20{rng.randint(18, 26):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        f"|{rng.choice(('A', 'C', 'V', 'R'))}|"
    )
    return text.encode("ascii").ljust(255, b" ") + b"\n"


class BulkGenerator:
    """Deterministic database-like bytes for a given seed."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._blocks = [self._block(i) for i in range(BASE_BLOCKS)]
        digits = list(b"0123456789")
        self._tables = []
        for _ in range(TABLES):
            shuffled = digits[:]
            self._rng.shuffle(shuffled)
            table = bytearray(range(256))
            for src, dst in zip(digits, shuffled, strict=True):
                table[src] = dst
            self._tables.append(bytes(table))

    def _block(self, index: int) -> bytes:
        tables = ("ARTICLE", "CLIENT", "VENTE", "STOCK", "VEHICULE", "REGLEMENT")
        table = tables[index % len(tables)]
        records = [_record(self._rng, table, n) for n in range(CHUNK // 256)]
        return b"".join(records)

    def chunk(self) -> bytes:
        block = self._rng.choice(self._blocks)
        rotation = self._rng.randrange(0, CHUNK, 256)
        rotated = block[rotation:] + block[:rotation]
        return rotated.translate(self._rng.choice(self._tables))

    def write_file(self, path: Path, size: int, header: bytes = b"") -> None:
        """Write exactly ``size`` bytes (header first) to ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as out:
            written = 0
            if header:
                out.write(header[:size])
                written = min(len(header), size)
            while written < size:
                data = self.chunk()[: size - written]
                out.write(data)
                written += len(data)

    def random_bytes(self, size: int) -> bytes:
        """Incompressible bytes, like the body of a JPEG photo."""
        return self._rng.randbytes(size)
