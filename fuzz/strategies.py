"""Hypothesis strategies that mutate valid seeds the way fuzzers do.

Random bytes alone rarely get past a parser's first check; mutating a valid input (flip a
bit, overwrite with a boundary value, insert, delete, duplicate, truncate, splice two
seeds) reaches the deeper code. Every choice is drawn from Hypothesis, so a failure
shrinks to a small, readable mutation.
"""

from __future__ import annotations

from hypothesis import strategies as st

INTERESTING = (
    b"\x00",
    b"\xff",
    b"\x7f",
    b"\x80",
    b"\xc0",  # msgpack nil
    b"\xdd\xff\xff\xff\xff",  # msgpack array32 of 4 G elements
    b"\xc6\x7f\xff\xff\xff",  # msgpack bin32 of 2 GB
    b"\xdf\x00\x01\x00\x00",  # msgpack map32
    b"\x91" * 64,  # msgpack nesting
    b"\x91" * 2000,  # msgpack nesting beyond its stack limit
    b"[" * 64,  # JSON nesting
    b"[" * 2000,  # JSON nesting beyond Python's recursion limit
    b"9" * 5000,  # a number beyond Python's int digit limit
    b"77777777777",  # tar octal field at its maximum
    b"\x80\x00\x00\x00\x00\x00\x00\x02\x80\x00\x00\x00",  # GNU base-256 size of 10 GB
    b"../",
    b"/",
    b"\r\n",
    b"\xfe\xff",
    b"\xef\xbb\xbf",
)


@st.composite
def _mutation(draw, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(("flip", "set", "insert", "delete", "dup", "cut", "splice")))
        pos = draw(st.integers(0, len(data))) if data else 0
        if op == "flip" and pos < len(data):
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            value = draw(st.sampled_from(INTERESTING))
            data[pos : pos + len(value)] = value
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from(INTERESTING) | st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "dup":
            size = draw(st.integers(1, 512))
            data[pos:pos] = data[pos : pos + size]
        elif op == "cut":
            del data[pos:]
        elif op == "splice":
            other = draw(st.sampled_from(seeds))
            start = draw(st.integers(0, len(other)))
            data[pos:] = other[start:]
    return bytes(data)


def fuzz_inputs(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """Mostly mutated seeds; sometimes the seeds themselves or plain random bytes."""
    return st.one_of(
        _mutation(seeds),
        st.sampled_from(seeds),
        st.binary(max_size=600),
    )
