"""The fast host path (encoding, kernel tables, scalar columns) against the previous
implementation (tests/evaluate/legacy_encode.py) and against the interpreter's float64
scalar forms."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

import optsearch
from primitives import REGISTRY
from optsearch.evaluate import random_program
from optsearch.analysis import live_body, names
from optsearch.evaluate.encode import EncodeError, encode
from optsearch.evaluate.gpu import lane_scalars, per_lane, program_tables, scalar_table
from optsearch.evaluate.memo import IdentityCache, ValueCache
from optsearch.evaluate.scalars import column_data, column_table, column_tables
from optsearch.evaluate.train import ENCODINGS, clear_host_caches, encode_all
from optsearch.parse import parse
from optsearch.program import Call, Var
from optsearch.simplify.flow import live_statements, with_body

from tests.evaluate import legacy_encode as legacy

LRS = [3e-4, 1e-3, 3e-3]

CRAFTED = [
    # constants-only subexpressions (folded), hyperparameters, lr and t columns
    "def p(w, g, lr, t, b=0.9, eps=1e-8):\n    c = (1.0 - b) * exp(2.0) / sqrt(3.0)\n"
    "    return lr / (1.0 - b ** t) * c * g + eps * w\n",
    # host-only interp (its 1 - a on the host), t in a transcendental, pow of t
    "def p(w, g, lr, t, b=0.99):\n    a = interp(lr, t, b)\n    m = interp(g, m, sigmoid(t * 0.01))\n"
    "    return a * sign(m) + tanh(lr * t) * m\n",
    # reductions and shaped primitives of host scalars and of tensors
    "def p(w, g, lr, t):\n    s = norm(lr * t) + rms(t) + mean(lr) + amax(t) + dot(lr, t)\n"
    "    r = rowdot(g, w) + rowsize(g) + ndim(w) + numel(g)\n"
    "    return lr * s * r * norm(norm(g)) + rowdot(t, lr) * g\n",
    # folding to inf/nan and a constant that underflows to -0.0
    "def p(w, g, lr):\n    big = exp(800.0)\n    z = -1e-200 * 1e-200\n"
    "    return lr * g * big + z * g + (big - big) * w\n",
    # state, dead code, clip/maximum/minimum/gt of host values
    "def p(w, g, lr, t):\n    dead = cos(g)\n    m = interp(g, m, 0.9)\n"
    "    v = maximum(lr, 1e-3) * clip(g, t) + minimum(t, 5.0) * gt(t, 3.0)\n    return v + lr * m\n",
]


def _programs(n: int = 400) -> list:
    rng = random.Random(11)
    out = [random_program(rng, rng.randint(1, 12), name=f"r{i}") for i in range(n)]
    out += [optsearch.known(k) for k in optsearch.known_names()]
    return out + [parse(src) for src in CRAFTED]


def _without_unread_state(p):
    """Least fixed point of live state, from flow.live_statements (the oracle)."""
    state, live_state = set(names(p).state), set()
    while True:
        kept, live_in = live_statements(p, live_state)
        if live_in & state <= live_state:
            return with_body(p, [p.body[j] for j in kept])
        live_state |= live_in & state


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint32) if a.dtype == np.float32 else a


def test_encodings_equal_the_previous_encoder():
    """The encoder walks only live statements (analysis.live_body); the previous one walked
    all and kept state read only by dead code. On the program without its unread state
    (computed here independently, with simplify's backward liveness) the two are the same,
    bit for bit."""
    progs = _programs()
    clear_host_caches()
    dropped = 0
    for p, e in zip(progs, encode_all(progs)):
        lean = _without_unread_state(p)
        dropped += len(lean.body) < len(p.body)
        assert repr(e) == repr(legacy.encode(lean)), str(p)  # repr: nan columns compare equal
        assert repr(e) == repr(encode(p))
        assert list(live_body(p)) == list(lean.body), str(p)
    assert dropped > len(progs) // 2        # random programs are mostly dead code


def test_kernel_tables_bitwise_equal_the_previous_ones():
    progs = _programs()
    clear_host_caches()
    steps = 30
    enc = [e for e in encode_all(progs) if _fits(e)]
    assert len(enc) > 300
    old = legacy.tables(enc, LRS, steps)
    new = program_tables(enc, LRS, steps)
    new_scal = scalar_table(enc, LRS, steps, new.ncol)
    for a, b in zip(old, (new.instr, new.lanei, new.redpos, new.segmented, new_scal)):
        assert a.shape == b.shape and a.dtype == b.dtype
    for a, b in zip(old[:4], (new.instr, new.lanei, new.redpos, new.segmented)):
        assert np.array_equal(a, b)
    # scalar columns: each program's, as the old code built them for that program alone
    # (in a batch it merged a -0.0 column into another program's 0.0: see below)
    for n, e in enumerate(enc):
        alone = legacy.scalar_table([e], LRS, steps, new.ncol)[0]
        assert np.array_equal(_bits(alone), _bits(new_scal[n])), n
    assert new.segmented.any() and not new.segmented.all()
    assert np.isnan(new_scal).any() and np.isinf(new_scal).any()   # the crafted folds


def _fits(e) -> bool:
    from optsearch.evaluate.gpu_encode import fits_kernel

    return fits_kernel(e)


def test_columns_do_not_depend_on_the_batch():
    """The old table merged a program's -0.0 column into another program's 0.0."""
    a = parse("def a(w, g, lr):\n    z = 0.5 - 0.5\n    return lr * g + z * g\n")
    b = parse(CRAFTED[3])
    clear_host_caches()
    ea, eb = encode_all([a, b])
    zero_cols = [c for c in eb.columns if isinstance(c, float) and c == 0.0]
    assert zero_cols and math.copysign(1.0, zero_cols[0]) < 0
    batch = scalar_table([ea, eb], LRS, 4, 4)
    alone = legacy.scalar_table([eb], LRS, 4, 4)
    assert np.array_equal(_bits(batch[1]), _bits(alone[0]))
    stale = legacy.scalar_table([ea, eb], LRS, 4, 4)
    assert not np.array_equal(_bits(stale[1]), _bits(alone[0]))


def test_lane_expansion_matches_fancy_indexing():
    rng = np.random.default_rng(0)
    N, S, M, T = 5, 2, 3, 4
    instr = rng.integers(0, 1 << 40, size=(N, 7))
    prog_of_lane = np.arange(N).reshape(1, N, 1).repeat(S, 0).repeat(M, 2).reshape(-1)
    mult_of_lane = np.arange(M).reshape(1, 1, M).repeat(S, 0).repeat(N, 1).reshape(-1)
    cpu = torch.device("cpu")
    assert torch.equal(per_lane(instr, S, M, cpu), torch.from_numpy(instr[prog_of_lane]))
    progs = _programs(6)[:N]
    enc = encode_all(progs)
    ncol = max(1, max(len(e.columns) for e in enc))
    full = scalar_table(enc, LRS, T, ncol)
    lanes = lane_scalars(column_data(enc, LRS, T), N, M, T, ncol, S, cpu)
    assert np.array_equal(_bits(lanes.numpy()), _bits(full[prog_of_lane, mult_of_lane]))


def _scalar_eval(e, lr: float, t: float) -> float:
    """A column the way the interpreter computes host scalars: each primitive's scalar form."""
    if isinstance(e, float):
        return e
    if isinstance(e, Var):
        return lr if e.name == "lr" else t
    return REGISTRY[e.op].scalar(*[_scalar_eval(a, lr, t) for a in e.args])


def _ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ia, ib = a.view(np.int64), b.view(np.int64)
    ia = np.where(ia < 0, np.int64(-(2**63)) - ia, ia)
    ib = np.where(ib < 0, np.int64(-(2**63)) - ib, ib)
    return np.abs(ia - ib)


def test_columns_match_the_interpreters_scalar_forms():
    """Columns are float64 torch forms over (lr, t); the interpreter uses numpy scalar forms.
    Correctly rounded ops agree exactly; transcendental library implementations may differ
    by an ulp or two, far below float32 (the kernel's) resolution."""
    steps = 12
    progs = _programs(150)
    tables = column_tables(encode_all(progs), LRS, steps)
    checked = exact = 0
    for p, e, tab in zip(progs, encode_all(progs), tables):
        for c, expr in enumerate(e.columns):
            ref = np.array([[_scalar_eval(expr, lr, float(t)) for t in range(1, steps + 1)]
                            for lr in LRS])
            got = tab[:, :, c].numpy()
            fin = np.isfinite(ref)
            assert np.array_equal(fin, np.isfinite(got)), (str(p), expr)
            assert np.array_equal(np.isnan(ref), np.isnan(got)), (str(p), expr)
            assert np.array_equal(ref[~fin & ~np.isnan(ref)], got[~fin & ~np.isnan(got)])
            d = _ulps(ref[fin], got[fin])
            assert d.size == 0 or d.max() <= 4, (str(p), expr, d.max())
            checked += 1
            exact += int(d.size == 0 or d.max() == 0)
    assert checked > 200 and exact >= 0.9 * checked


def test_equal_columns_are_one_object_across_programs():
    p = parse("def p(w, g, lr, t):\n    return lr / (1.0 - 0.9 ** t) * g\n")
    q = parse("def q(w, g, lr, t):\n    m = sign(g)\n    return lr / (1.0 - 0.9 ** t) * m\n")
    clear_host_caches()
    (cp,), (cq,) = (e.columns for e in encode_all([p, q]))
    assert isinstance(cp, Call) and cp is cq


def test_encode_all_caches_by_identity_and_equality():
    clear_host_caches()
    p = optsearch.known("lion")
    twin = parse(str(p))                       # equal, not identical
    assert twin == p and twin is not p
    a, b, c = encode_all([p, twin, p])
    assert a is b is c and len(ENCODINGS) == 1
    clear_host_caches()
    (d,) = encode_all([twin])
    assert d == a and d is not a


def test_encoding_errors_are_raised_and_not_cached():
    body = "\n".join(f"    v{i} = g * {i + 1}.0" for i in range(66))
    total = " + ".join(f"v{i}" for i in range(66))
    p = parse(f"def p(w, g, lr):\n{body}\n    return lr * ({total})\n")
    clear_host_caches()
    for _ in range(2):
        with pytest.raises(EncodeError, match="registers"):
            encode_all([p])
    assert len(ENCODINGS) == 0


def test_bounded_caches_evict_oldest():
    ic: IdentityCache[object, int] = IdentityCache(2)
    keys = [object() for _ in range(3)]
    for i, k in enumerate(keys):
        ic.put(k, i)
    assert len(ic) == 2 and ic.get(keys[0]) is None and ic.get(keys[2]) == 2
    vc: ValueCache[str] = ValueCache(2)
    made = []
    for k in ("a", "b", "a", "c", "b"):
        vc.get_or_make(k, lambda k: made.append(k) or k.upper())
    assert made == ["a", "b", "c"] and len(vc) == 2        # "a" hit by identity, "b" by equality
    vc.get_or_make("d", lambda k: made.append(k) or k)
    vc.get_or_make("e", lambda k: made.append(k) or k)
    vc.get_or_make("b", lambda k: made.append(k) or k)     # evicted from both levels: remade
    assert made[-3:] == ["d", "e", "b"] and len(vc) == 2


def test_column_table_with_shared_memo_equals_fresh():
    progs = _programs(60)
    enc = encode_all(progs)
    shared = column_tables(enc, LRS, 7)
    for e, tab in zip(enc, shared):
        assert torch.equal(tab.view(torch.int64), column_table(e, LRS, 7).view(torch.int64))
