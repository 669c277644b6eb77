"""Host preparation in forked children gives what the parent would compute itself."""

from __future__ import annotations

import dataclasses
import os
import random

import numpy as np
import pytest

import optsearch
from optsearch.evaluate import forked, random_program, train
from optsearch.evaluate.lanes import make_lanes
from optsearch.evaluate.memory import BatchShape
from proxy_tasks import make_task

pytestmark = pytest.mark.skipif(not forked.available(), reason="needs os.fork")


def square_and_pid(x: int) -> forked.Payload:
    if x < 0:
        raise ValueError("negative")
    return {"square": x * x, "pid": os.getpid(), "row": np.arange(x, dtype=np.float32)}


@pytest.mark.parametrize("n", [1, 2, 5])
def test_each_call_runs_in_its_own_child(n):
    with forked.ForkedCalls(square_and_pid, [(i,) for i in range(n)]) as calls:
        got = [calls.result(i) for i in reversed(range(n))][::-1]
    assert [g["square"] for g in got] == [i * i for i in range(n)]
    assert all(np.array_equal(g["row"], np.arange(i, dtype=np.float32)) and
               g["row"].dtype == np.float32 for i, g in enumerate(got))
    pids = {g["pid"] for g in got}
    assert os.getpid() not in pids and len(pids) == n


def test_a_failing_call_gives_none_and_the_others_their_values():
    with forked.ForkedCalls(square_and_pid, [(3,), (-1,), (4,)]) as calls:
        assert calls.result(1) is None
        assert calls.result(0)["square"] == 9 and calls.result(2)["square"] == 16


def test_close_without_reading_reaps_the_children():
    calls = forked.ForkedCalls(square_and_pid, [(i,) for i in range(3)])
    spawner = calls._pid
    calls.close()
    calls.close()                                  # idempotent
    with pytest.raises(ChildProcessError):         # already reaped
        os.waitpid(spawner, os.WNOHANG)


def test_payloads_refuse_objects_and_keep_json_values():
    back = forked.unpack(forked.pack({"a": np.ones(3, np.int32), "n": 3, "ids": [1, 2],
                                      "none": None, "ok": True}))
    assert back["n"] == 3 and back["ids"] == [1, 2] and back["none"] is None and back["ok"]
    assert back["a"].dtype == np.int32
    with pytest.raises(ValueError):                # an object array would need pickle
        forked.unpack(forked.pack({"bad": np.array([object()], dtype=object)}))


def _tables_equal(a, b) -> None:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if dataclasses.is_dataclass(x):
            _tables_equal(x, y)
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True), f.name
        else:
            assert x == y, f.name


def test_a_part_prepared_in_a_child_equals_one_prepared_here():
    rng = random.Random(2)
    body = "\n".join(f"    v{i} = g * {i + 1}.0 + w" for i in range(14))
    big = optsearch.parse(f"def big(w, g, lr):\n{body}\n    return lr * ("
                          + " + ".join(f"sin(v{i})" for i in range(14)) + ")\n")
    programs = [optsearch.known(k) for k in ("adamw", "lamb", "adamp")] + [big] + \
        [random_program(rng, rng.randint(1, 8)) for _ in range(60)]
    task = make_task("digits_mlp")
    lanes = make_lanes(len(programs), (0, 1), (0.5, 2.0), task.lr)
    shape = BatchShape(2, 2, 20, "triton", False, 0, 4, False)
    args = (programs, None, 1, 48, lanes.lrs, 20, True, task, shape, 1 << 40)
    train.clear_host_caches()
    with forked.ForkedCalls(train._prepared_payload, [args + (False,)]) as calls:
        there = train._part_from_payload(calls.result(0), programs, None)
    here = train._prepare_part(*args, True)
    assert there.enc is None and here.enc is not None
    assert (there.idx, there.real, there.eager, there.one_chunk) == \
        (here.idx, here.real, here.eager, here.one_chunk)
    assert [i for i, _ in here.eager] == [3]        # too many registers for the kernel
    assert here.real == 47 and here.idx[:47] == [i for i in range(1, 49) if i != 3]
    _tables_equal(there.tables, here.tables)
    assert here.tables.segmented.any()              # lamb, adamp: whole-tensor reductions
