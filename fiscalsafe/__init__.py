"""fiscalsafe: keep French fiscal shop records provably safe for six years."""

__version__ = "0.1.0"
