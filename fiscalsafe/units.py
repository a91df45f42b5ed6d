"""Byte counts for people, shared by the reports, the bag metadata and the CLI."""

from __future__ import annotations


def human_size(n: float) -> str:
    """A byte count for people: '5.7 MB'."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"
