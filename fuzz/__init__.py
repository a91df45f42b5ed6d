"""Fuzz harnesses for every parser of untrusted bytes (see ``fuzz/run.py``)."""
