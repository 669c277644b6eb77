"""Encoding in forked children gives the in-process encodings, columns interned alike."""

from __future__ import annotations

import random

import pytest

from optsearch.evaluate import forked, random_program
from optsearch.evaluate.train import clear_host_caches, encode_all

pytestmark = pytest.mark.skipif(not forked.available(), reason="needs os.fork")


def _programs(n: int, seed: int = 3):
    rng = random.Random(seed)
    return [random_program(rng, rng.randint(1, 8), name=f"p{i}") for i in range(n)]


def test_children_encode_like_the_parent():
    progs = _programs(300)
    clear_host_caches()
    here = encode_all(progs)
    slices = [range(0, 120), range(120, 121), range(121, 300)]
    with forked.ForkedEncoding(progs, slices) as kids:
        got = [kids.result(i) for i in range(len(slices))]
    for sl, part in zip(slices, got):
        assert len(part) == len(sl)
        for j, enc in zip(sl, part):
            assert enc == here[j]
            # the same interned column objects: tables dedupe columns by identity
            assert all(a is b for a, b in zip(enc.columns, here[j].columns)
                       if not isinstance(a, float))


def test_cold_parent_interns_the_childrens_columns():
    progs = _programs(64, seed=5)
    clear_host_caches()
    with forked.ForkedEncoding(progs, [range(0, 64)]) as kids:
        got = kids.result(0)
    here = encode_all(progs)            # interns through the same table the results used
    assert got == here
    shared = {id(c) for e in got for c in e.columns if not isinstance(c, float)}
    assert shared == {id(c) for e in here for c in e.columns if not isinstance(c, float)}


def test_a_failing_child_is_replaced_by_encoding_here(monkeypatch):
    progs = _programs(40, seed=9)
    clear_host_caches()
    expected = encode_all(progs)

    def broken(*a, **k):
        raise RuntimeError("child cannot pickle")

    monkeypatch.setattr(forked.pickle, "dumps", broken)       # inherited by the child
    with forked.ForkedEncoding(progs, [range(0, 40)]) as kids:
        assert kids.result(0) == expected


def test_close_reaps_children_never_read():
    progs = _programs(50, seed=11)
    kids = forked.ForkedEncoding(progs, [range(0, 25), range(25, 50)])
    assert kids.result(1) == encode_all(progs[25:])
    kids.close()
    kids.close()                        # idempotent
