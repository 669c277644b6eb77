"""Programs cross process boundaries (host pool, pool and Ray backends) by pickle."""

from __future__ import annotations

import pickle

import dill
import pytest
from hypothesis import HealthCheck, given, settings

import optsearch
from optsearch.program import Const
from tests.strategies import programs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_pickle_round_trip(p):
    for mod in (pickle, dill):
        q = mod.loads(mod.dumps(p))
        assert q == p and hash(q) == hash(p) and type(q.ret) is type(p.ret)


def test_known_rules_round_trip_with_docstrings():
    rules = [optsearch.known(k) for k in optsearch.known_names()]
    assert pickle.loads(pickle.dumps(rules)) == rules


def test_unpickling_goes_through_the_constructor_checks():
    fn, args = Const(1.5).__reduce__()
    assert fn(*args) == Const(1.5)
    with pytest.raises(ValueError, match="finite"):
        fn(float("inf"))
