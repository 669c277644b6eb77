"""The fused CUDA path: each step is one Triton launch per (phase, bucket) covering many tensors.

Kernels come from compile/triton_gen.py: Triton source *generated* from the validated IR
(never from user text), compiled by Triton's JIT and cached by program hash (in process, and
on disk by Triton). A *bucket* is the tensors of one param group that share device, dtypes
and step count; it holds a device pointer table, a block table and reduction buffers,
built once and checked every step by comparing parameter ids and data pointers, so the
per-step host work is a few list comparisons, the host scalars and the launches.

Eligible tensors: CUDA, float32/bfloat16/float16 parameter and gradient, the gradient and
state laid out like the parameter, and the parameter non-overlapping and dense (any
strides). Others of the group run on the foreach path.
"""

from __future__ import annotations

import linecache
import os
from dataclasses import dataclass, field
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import torch
from torch import Tensor

from optsearch.compile import pygen
from optsearch.compile.foreach import foreach_source
from optsearch.compile.lower import Plan
from optsearch.compile.triton_gen import FACTS, KernelSpec, kernel_spec, unsupported_reason

FLOATS = (torch.float32, torch.bfloat16, torch.float16)
CONFIG = {"block": 2048, "num_warps": 4}
"""Launch shape (elements per program instance, warps); read when a bucket is built."""


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


@lru_cache(maxsize=1)
def _triton() -> Any:
    try:
        import triton
        import triton.language as tl
    except ImportError:
        return None
    try:
        from triton import knobs
    except ImportError:
        knobs = None
    return SimpleNamespace(triton=triton, tl=tl, knobs=knobs, dtype={
        torch.float32: tl.float32, torch.bfloat16: tl.bfloat16, torch.float16: tl.float16})


def _raw_stream(index: int) -> int:
    getter = getattr(torch._C, "_cuda_getCurrentRawStream", None)
    if getter is not None:
        return getter(index)
    return torch.cuda.current_stream(index).cuda_stream


def available() -> bool:
    """Can the fused path run here (Triton importable, and a GPU or Triton's interpreter)?"""
    return _triton() is not None and (torch.cuda.is_available() or _interpreting())


def unsupported(plan: Plan, params: list[Tensor]) -> str | None:
    """Why ``fused=True`` cannot run ``plan`` on ``params``, or None if it can."""
    if _triton() is None:
        return "Triton is not installed"
    reason = unsupported_reason(plan)
    if reason:
        return reason
    for i, p in enumerate(params):
        if not (p.is_cuda or _interpreting()):
            return f"parameter {i} is on {p.device}; the fused path needs CUDA tensors"
        if p.dtype not in FLOATS:
            return (f"parameter {i} is {p.dtype}; the fused path supports float32, "
                    "bfloat16 and float16")
    return None


_SUPPORTED: dict[str, bool] = {}


def plan_supported(plan: Plan) -> bool:
    """Can the fused path run this program (every primitive has a Triton form)?"""
    if plan.key not in _SUPPORTED:
        _SUPPORTED[plan.key] = unsupported_reason(plan) is None
    return _SUPPORTED[plan.key]


@dataclass
class _Kernels:
    spec: KernelSpec
    phases: list[Any]


_KERNELS: dict[str, _Kernels] = {}


def kernels(plan: Plan) -> _Kernels:
    """The compiled-on-first-launch kernels of ``plan``, cached by program hash."""
    if plan.key in _KERNELS:
        return _KERNELS[plan.key]
    _, extra = foreach_source(plan)
    spec = kernel_spec(plan, pygen.host_params(plan, extra))
    filename = f"<optsearch-fused-{plan.key}>"
    linecache.cache[filename] = (len(spec.source), None, spec.source.splitlines(True), filename)
    namespace: dict[str, Any] = {"__name__": f"optsearch_fused_{plan.key}"}
    exec(compile(spec.source, filename, "exec"), namespace)  # noqa: S102 - generated from the IR
    out = _KERNELS[plan.key] = _Kernels(spec, [namespace[f"phase{k}"]
                                               for k in range(1, spec.phases + 1)])
    return out


@dataclass
class _Bucket:
    params: list[Tensor]
    index: list[int]               # positions in the step's parameter list
    states: list[dict]
    t: int
    wdt: torch.dtype
    gdt: torch.dtype
    tab: Tensor
    blk: Tensor
    nblocks: int
    red: Tensor | None
    red_init: Tensor | None
    row: Tensor | None
    nrows: int
    base_aligned: bool             # parameter and state pointers, and sizes
    aligned: bool                  # ... and gradient pointers
    keep: list[Tensor]             # the state tensors the table points at, kept alive
    block: int                     # elements per program instance (the block table's)
    warps: int
    launch: dict = field(default_factory=dict)  # (phase, constexprs) -> compiled kernel


@dataclass
class _Entry:
    """A param group's fused plan; ``fast`` when every parameter of the group is fused."""

    params: list[Tensor]
    group_params: list[Tensor]
    pptrs: list[int]
    gptrs: list[int]
    buckets: list[_Bucket]
    rest: list[int]
    fast: bool


def sync_steps(entry: _Entry) -> None:
    """Write each bucket's step count into its parameters' state (``t``).

    While a bucket is in use its count is the truth and the per-parameter ``t`` entries
    are written only here (state_dict, changes of plan), saving a dict update per
    parameter per step.
    """
    for b in entry.buckets:
        for st in b.states:
            st["t"] = b.t


def _eligible(p: Tensor, g: Tensor, st: dict, names: tuple[str, ...]) -> bool:
    if not (p.is_cuda or (_interpreting() and p.device.type == "cpu")):
        return False
    if p.dtype not in FLOATS or g.dtype not in FLOATS or p.numel() == 0:
        return False
    if g.shape != p.shape or g.stride() != p.stride() or not _dense(p):
        return False
    return all(st[n].dtype == torch.float32 and st[n].stride() == p.stride()
               and st[n].device == p.device for n in names)


def _dense(t: Tensor) -> bool:
    """Do the elements fill ``numel`` consecutive slots (some order of dimensions, no gaps)?"""
    expected = 1
    for stride, size in sorted((s, n) for s, n in zip(t.stride(), t.shape) if n != 1):
        if stride != expected:
            return False
        expected *= size
    return True


def _aligned(ptrs: list[int], sizes: list[int]) -> bool:
    return all(x % 16 == 0 for x in ptrs) and all(n % 16 == 0 for n in sizes)


def _build(opt: Any, plan: Plan, params: list[Tensor], grads: list[Tensor],
           group_params: list[Tensor]) -> _Entry:
    names = opt.state_names
    spec = kernels(plan).spec
    groups: dict[tuple, list[int]] = {}
    rest = []
    for i, (p, g) in enumerate(zip(params, grads)):
        st = opt._state_of(p)
        if _eligible(p, g, st, names):
            groups.setdefault((p.device, p.dtype, g.dtype, st["t"]), []).append(i)
        else:
            rest.append(i)
    block = CONFIG["block"]
    buckets = []
    for (device, wdt, gdt, t), index in groups.items():
        ps = [params[i] for i in index]
        gs = [grads[i] for i in index]
        sts = [opt.state[p] for p in ps]
        sizes = [p.numel() for p in ps]
        rows = [p.shape[0] if p.ndim else 1 for p in ps]
        rowsize = [n // r for n, r in zip(sizes, rows)]
        rowbase = [0]
        for r in rows[:-1]:
            rowbase.append(rowbase[-1] + r)
        facts = {"NUMEL": sizes, "ROWS": rows, "ROWSIZE": rowsize,
                 "NDIM": [p.ndim for p in ps], "ROWBASE": rowbase}
        ptr_rows = [[p.data_ptr() for p in ps], [g.data_ptr() for g in gs]]
        ptr_rows += [[st[n].data_ptr() for st in sts] for n in names]
        table = ptr_rows + [facts[f] for f in FACTS]
        tab = torch.tensor(table, dtype=torch.int64).to(device)
        counts = torch.tensor([(n + block - 1) // block for n in sizes])
        tid = torch.repeat_interleave(torch.arange(len(ps)), counts)
        first = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
        start = (torch.arange(len(tid)) - first) * block
        blk = torch.stack([tid, start], 1).to(torch.int64).contiguous().to(device)
        red = red_init = row = None
        if spec.n_red:
            red_init = torch.zeros(len(ps), spec.n_red, dtype=torch.float32)
            for j in spec.red_max:
                red_init[:, j] = float("-inf")
            red_init = red_init.reshape(-1).to(device)
            red = torch.empty_like(red_init)
        nrows = sum(rows)
        if spec.n_row:
            row = torch.empty(spec.n_row * nrows, dtype=torch.float32, device=device)
        base = _aligned([x for r in ptr_rows[:1] + ptr_rows[2:] for x in r], sizes)
        buckets.append(_Bucket(ps, index, sts, t, wdt, gdt, tab, blk, len(tid), red, red_init,
                               row, nrows, base, base and _aligned(ptr_rows[1], []),
                               [st[n] for st in sts for n in names], block, CONFIG["num_warps"]))
    return _Entry(list(params), group_params, list(map(Tensor.data_ptr, params)),
                  list(map(Tensor.data_ptr, grads)), buckets, rest,
                  fast=not rest and len(group_params) == len(params))


def _new_grads(entry: _Entry, grads: list[Tensor], gptrs: list[int]) -> bool:
    """Point the buckets at new gradient tensors; False if one no longer fits (rebuild)."""
    for b in entry.buckets:
        for i, p in zip(b.index, b.params):
            g = grads[i]
            if g.dtype != b.gdt or g.shape != p.shape or g.stride() != p.stride():
                return False
    for b in entry.buckets:
        ptrs = [gptrs[i] for i in b.index]
        b.tab[1].copy_(torch.tensor(ptrs, dtype=torch.int64), non_blocking=True)
        b.aligned = b.base_aligned and all(x % 16 == 0 for x in ptrs)
    entry.gptrs = gptrs
    return True


def step(opt: Any, group: dict, hyper: list[float], params: list[Tensor],
         grads: list[Tensor]) -> tuple[list[Tensor], list[Tensor]] | None:
    """One fused step of ``group``; returns the (params, grads) left for the foreach path."""
    cache = opt.__dict__.setdefault("_fused_cache", {})
    entry: _Entry | None = cache.get(id(group))
    same = (entry is not None and len(entry.params) == len(params)
            and all(a is b for a, b in zip(entry.params, params))
            and entry.pptrs == list(map(Tensor.data_ptr, params)))
    if not same:
        if entry is not None:
            sync_steps(entry)
        entry = cache[id(group)] = _build(opt, opt.plan, params, grads, group["params"])
    else:
        gptrs = list(map(Tensor.data_ptr, grads))
        if gptrs != entry.gptrs and not _new_grads(entry, grads, gptrs):
            sync_steps(entry)
            entry = cache[id(group)] = _build(opt, opt.plan, params, grads, group["params"])
    _run(opt, entry, group, hyper)
    if not entry.rest:
        return None
    return [params[i] for i in entry.rest], [grads[i] for i in entry.rest]


def fast_step(opt: Any, entry: _Entry, group: dict, gi: int) -> bool:
    """The steady-state step of a fully fused group; False sends it down the full path."""
    params = group["params"]
    if not entry.fast or params is not entry.group_params or len(params) != len(entry.params):
        return False
    try:
        gptrs = [p.grad.data_ptr() for p in params]
    except (AttributeError, RuntimeError):  # a missing or sparse gradient: the full path
        return False
    if gptrs != entry.gptrs and not _new_grads(entry, [p.grad for p in params], gptrs):
        return False
    if [p.data_ptr() for p in params] != entry.pptrs:
        return False
    _run(opt, entry, group, opt._hyper(group, gi))
    return True


def _run(opt: Any, entry: _Entry, group: dict, hyper: list[float]) -> None:
    ks = kernels(opt.plan)
    spec = ks.spec
    dtypes = _triton().dtype
    lr, maximize = group["lr"], bool(group["maximize"])
    for b in entry.buckets:
        b.t += 1
        host = opt._host(lr, float(b.t), *hyper)
        if spec.complement:
            host = (*host, *(1.0 - host[i] for i in spec.complement))
        if b.red is not None:
            b.red.copy_(b.red_init)
        if b.row is not None:
            b.row.zero_()
        red = b.red if b.red is not None else b.tab
        row = b.row if b.row is not None else b.tab
        args = (b.tab, b.blk, red, row, len(b.params), spec.n_red, max(b.nrows, 1), *host)
        consts = (b.block, dtypes[b.wdt], dtypes[b.gdt], b.aligned, maximize)
        for k, kernel in enumerate(ks.phases):
            _launch(b, k, kernel, args, consts)


def _launch(b: _Bucket, k: int, kernel: Any, args: tuple, consts: tuple) -> None:
    """Launch phase ``k``; after the first launch, call the compiled kernel directly.

    Triton's generic launcher re-derives the specialization from every argument on each
    call; a bucket's arguments keep their types and alignment, so the compiled kernel is
    reused as is (the saving is most of the per-step host time).
    """
    key = (k, consts)
    compiled = b.launch.get(key)
    if compiled is not None:
        stream = _raw_stream(b.tab.device.index)
        knobs = _triton().knobs
        meta = None
        if knobs is not None and knobs.runtime.launch_enter_hook is not None:
            meta = compiled.launch_metadata((b.nblocks,), stream, *args, *consts)
        compiled.run(b.nblocks, 1, 1, stream, compiled.function, compiled.packed_metadata,
                     meta, knobs.runtime.launch_enter_hook if knobs else None,
                     knobs.runtime.launch_exit_hook if knobs else None, *args, *consts)
        return
    names = ("_BLOCK", "_WDT", "_GDT", "_ALIGNED", "_MAXIMIZE")
    out = kernel[(b.nblocks,)](*args, **dict(zip(names, consts)), num_warps=b.warps)
    if out is not None and hasattr(out, "run") and not _interpreting():
        b.launch[key] = out
