"""The batched training loop: every lane trains its own model with its own program.

:func:`evaluate` is the low-level entry: programs x seeds x lr multipliers -> final
validation loss per lane (plus divergence/hurdle records and optional loss curves).
Diverged lanes (non-finite loss, parameter or state) are frozen and reported; they never
stop the batch. So are lanes whose parameters hold subnormal (denormal) values, checked at
each hurdle and at the end (a per-step check would cost a pass over every parameter).
Hurdles stop lanes whose validation loss at a given step is above a threshold (the caller
derives thresholds from the tuned-AdamW baseline, so a program's score never depends on the
other programs in its batch). Before training, the programs are cut into chunks that fit
the memory budget (memory.py); an out-of-memory error retries a chunk in halves.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
from torch import Tensor

from optsearch.evaluate import forked
from optsearch.evaluate.eager import EagerUpdate
from optsearch.evaluate.encode import Encoded, encode_unchecked
from optsearch.evaluate.lanes import Lanes, make_lanes
from optsearch.evaluate.memo import ValueCache
from optsearch.evaluate.memory import BatchShape, Estimator, budget_bytes, plan_chunks, too_big
from optsearch.evaluate.scalars import column_tables
from optsearch.program import Program
from proxy_tasks.base import Layout, Task

if TYPE_CHECKING:
    from optsearch.evaluate.gpu import ProgramTables


@dataclass
class LaneResults:
    """Per-lane outcome, indexed ``[program, seed, multiplier]`` (CPU tensors).

    Attributes:
        final_loss: validation loss at the end, or at the hurdle that stopped the lane
            (float64; NaN for diverged lanes).
        diverged_step: 1-based step at which the lane went non-finite, 0 if never.
        denormal_step: step of the check (a hurdle or the end) that found subnormal
            parameters in the lane, 0 if none (the lane is then out, like a diverged one).
        stopped_step: step of the hurdle that stopped the lane, 0 if none.
        curves: training loss per step ``[N, S, M, T]`` when asked for, else None.
        hurdle_loss: validation loss at each hurdle step (NaN for lanes already out).
    """

    lanes: Lanes
    final_loss: Tensor
    diverged_step: Tensor
    stopped_step: Tensor
    curves: Tensor | None
    hurdle_loss: dict[int, Tensor]
    denormal_step: Tensor


ENCODINGS: ValueCache[Encoded] = ValueCache(1 << 15)
"""Encodings of recently seen programs (``ENCODINGS.clear()`` for cold timings)."""


def clear_host_caches() -> None:
    """Forget cached encodings, lowerings, interned columns and column values (cold timings)."""
    from optsearch.evaluate.encode import clear_interned
    from optsearch.evaluate.gpu_encode import clear_lowered
    from optsearch.evaluate.scalars import clear_values

    ENCODINGS.clear()
    clear_lowered()
    clear_interned()
    clear_values()


def encode_all(programs: Sequence[Program]) -> list[Encoded]:
    """``encode`` of every program, through :data:`ENCODINGS` (equal programs share one)."""
    get = ENCODINGS.get_or_make
    with gc_paused(), np.errstate(all="ignore"):    # errstate once, not per folded constant
        return [get(p, encode_unchecked) for p in programs]


@contextmanager
def gc_paused():
    """No cycle-collector passes inside: the host path allocates ~10^5 small objects per
    thousand programs, and with torch loaded each full pass over the heap costs tens of
    ms (it showed up as random 2-3x slowdowns of encoding and table building). Encoding
    and training make no reference cycles to speak of; collection resumes on exit."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def val_losses(task: Task, layout: Layout, flat: Tensor, data) -> Tensor:
    """Validation loss of every lane, in chunks of ``task.val_chunk`` lanes."""
    out = []
    with torch.no_grad():
        for lo in range(0, flat.shape[0], task.val_chunk):
            out.append(task.val_loss(layout.views(flat[lo:lo + task.val_chunk]), data))
    return torch.cat(out)


def subnormal_lanes(task: Task, flat: Tensor) -> Tensor:
    """``[L]`` bool: lanes with a parameter in the subnormal range (chunked like validation)."""
    tiny = torch.finfo(flat.dtype).tiny
    out = []
    with torch.no_grad():
        for lo in range(0, flat.shape[0], task.val_chunk):
            a = flat[lo:lo + task.val_chunk].abs()
            out.append(((a < tiny) & (a > 0)).any(1))
    return torch.cat(out)


def initial_flat(task: Task, lanes: Lanes, align: int, device, dtype, stride: int = 0) -> Tensor:
    """``[L, max(size, stride)]``: every lane's initial row (zero beyond the layout)."""
    rows = torch.stack([task.init_row(s, align) for s in lanes.seeds]).to(dtype)
    if stride > rows.shape[1]:
        rows = torch.nn.functional.pad(rows, (0, stride - rows.shape[1]))
    per = lanes.n_programs * lanes.M
    rows = rows.to(device)              # one row per seed crosses the bus, not one per lane
    flat = rows.unsqueeze(1).expand(lanes.S, per, rows.shape[1]).reshape(lanes.count, -1)
    return flat.contiguous()            # a copy (reshape may return a stride-0 view)


def evaluate(programs: Sequence[Program], task: Task, seeds: Sequence[int] = (0,),
             lr_multipliers: Sequence[float] = (1.0,), *, device: str | torch.device = "cpu",
             steps: int | None = None, base_lr: float | None = None,
             hurdles: Sequence[tuple[int, float]] = (), record_curves: bool = False,
             backend: str = "auto", dtype: torch.dtype = torch.float32,
             compile: bool = True, encoded: Sequence[Encoded] | None = None,
             memory_budget_bytes: int | None = None) -> LaneResults:
    """Train every (program, seed, lr multiplier) lane on ``task``; see :class:`LaneResults`.

    Args:
        steps: training steps (default ``task.steps``).
        base_lr: lanes train at ``base_lr * multiplier`` (default ``task.lr``).
        hurdles: ``(step, threshold)`` pairs: after ``step`` steps, lanes whose validation
            loss exceeds ``threshold`` stop.
        backend: "eager", "triton" (CUDA only) or "auto" (triton on CUDA when available).
        compile: on the triton backend, ``torch.compile`` the forward/backward (pays off
            for long runs; off saves the compile time in short ones).
        encoded: ``encode_all(programs)`` if already done (encoding is host time; the
            Evaluator encodes once for all of its tasks).
        memory_budget_bytes: bytes the batch may use on ``device`` (default
            ``$OPTSEARCH_MEMORY_BUDGET``, else 85% of the free memory); programs are
            trained in chunks that fit it. Raises MemoryBudgetError if one program's lanes
            do not fit.
    """
    with gc_paused():     # see gc_paused
        device = torch.device(device)
        steps = int(steps or task.steps)
        lanes = make_lanes(len(programs), seeds, lr_multipliers,
                           task.lr if base_lr is None else base_lr)
        backend = _pick_backend(backend, device)
        if encoded is not None and len(encoded) != len(programs):
            raise ValueError(f"{len(encoded)} encodings for {len(programs)} programs")
        sizes = pipeline_sizes(len(programs), backend)
        if len(sizes) > 1:
            return _pipelined(programs, encoded, sizes, task, lanes, steps, hurdles,
                              record_curves, device, dtype, compile, memory_budget_bytes,
                              backend)
        encoded = encode_all(programs) if encoded is None else list(encoded)
        if backend == "triton":
            from optsearch.evaluate.gpu_encode import fits_kernel

            fits = [fits_kernel(e) for e in encoded]
            if not all(fits):     # the kernel can't run some: those train apart, eagerly
                return _split(programs, encoded, fits, task, seeds, lr_multipliers,
                              device=device, steps=steps, base_lr=lanes.base_lr,
                              hurdles=hurdles, record_curves=record_curves, dtype=dtype,
                              compile=compile, memory_budget_bytes=memory_budget_bytes)
        shape = BatchShape(lanes.S, lanes.M, steps, backend, record_curves, len(hurdles),
                           torch.empty((), dtype=dtype).element_size(), device.type == "cpu")
        chunks = plan_chunks(Estimator(task, encoded, shape), len(encoded),
                             budget_bytes(device, memory_budget_bytes))

        def run(idx: list[int]) -> LaneResults:
            sub = make_lanes(len(idx), lanes.seeds, lanes.lr_multipliers, lanes.base_lr)
            enc = [encoded[i] for i in idx]
            if backend == "triton":
                from optsearch.evaluate.gpu import run_graphed

                return run_graphed(task, sub, enc, steps, hurdles, record_curves, device,
                                   dtype, compile=compile)
            tables = column_tables(enc, sub.lrs, steps)
            return _run_eager(task, sub, enc, tables, steps, hurdles, record_curves, device,
                              dtype)

        def retrying(idx: list[int]) -> LaneResults:
            try:
                return run(idx)
            except torch.OutOfMemoryError:
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                if len(idx) == 1:
                    raise too_big(task.name, lanes.S * lanes.M, None, None,
                                  f"program #{idx[0]}") from None
                h = len(idx) // 2
                return _concat([(list(range(h)), retrying(idx[:h])),
                                (list(range(h, len(idx))), retrying(idx[h:]))], len(idx))

        if len(chunks) == 1:
            return retrying(chunks[0])
        return _concat([(idx, retrying(idx)) for idx in chunks], len(encoded))


PIPELINE_HEAD = 256
"""Programs in the first part of a pipelined GPU batch (its host work is not hidden; later
parts are prepared by forked children meanwhile). 256/384/512 gave 0.722/0.719/0.712 of
the ceiling on an H200 at 4,096 programs."""
PIPELINE_GROWTH = 1.5
"""Each next part is this much larger (its host work must fit in the previous part's
training time; host work per program is ~0.6x of GPU time per program on an H100)."""
PIPELINE_MAX = 4096
"""Parts grow up to this many programs (lane counts beyond it use the GPU no better)."""
PIPELINE_QUANTUM = 128
"""Part sizes are multiples of this (the last part is padded up to one): few distinct
lane counts, so few compiled shapes."""
FORK_PREP = True
"""Prepare a pipelined batch's parts 2.. in forked children (forked.py) while this process
prepares and launches the first (False: all in-process; for A/B timing)."""


def pipeline_sizes(n_programs: int, backend: str) -> list[int]:
    """Part sizes (programs) a batch is trained in, so that the host prepares part k+1
    (encoding, tables, uploads) while the GPU trains part k: only the first, small part's
    host work is not hidden, and later parts grow, as larger lane counts use the GPU
    better. Small batches and the eager backend (synchronous) run as one part."""
    if backend != "triton" or n_programs < 2 * PIPELINE_HEAD:
        return [n_programs]
    sizes, left, size = [], n_programs, PIPELINE_HEAD
    while left > size * 1.5:          # else the rest is the last part (no tiny tail)
        sizes.append(size)
        left -= size
        size = min(PIPELINE_MAX,
                   -(-int(size * PIPELINE_GROWTH) // PIPELINE_QUANTUM) * PIPELINE_QUANTUM)
    return sizes + [-(-left // PIPELINE_QUANTUM) * PIPELINE_QUANTUM]


def _pipelined(programs, encoded, sizes: list[int], task: Task, lanes: Lanes, steps: int,
               hurdles, record_curves: bool, device: torch.device, dtype: torch.dtype,
               compile: bool, memory_budget_bytes: int | None, backend: str) -> LaneResults:
    """:func:`evaluate` in parts of ``sizes`` programs, two in flight: on the triton
    backend, part k+1 is prepared (encoded, kernel tables built; parts 2.. in forked
    children, see forked.py) and uploaded on a side stream while part k's queued steps
    run. A part is padded to its planned size with copies of its last program (results
    dropped), so lane counts, hence compiled shapes, repeat. Lanes are independent: the
    results are one batch's (on CUDA up to cuBLAS picking other kernels for another lane
    count)."""
    triton = backend == "triton"
    n = len(programs)
    budget = budget_bytes(device, memory_budget_bytes) // 2       # two parts in flight
    side = None
    if triton:
        from optsearch.evaluate.gpu import process_stream

        side = process_stream("prep", device)
    shape = BatchShape(lanes.S, lanes.M, steps, backend, record_curves, len(hurdles),
                       torch.empty((), dtype=dtype).element_size(), device.type == "cpu")
    starts = [sum(sizes[:k]) for k in range(len(sizes))]

    def part_args(k: int, keep_encodings: bool) -> tuple:
        return (programs, encoded, starts[k], sizes[k], lanes.lrs, steps, triton, task, shape,
                budget, keep_encodings)

    later = None
    if triton and FORK_PREP and n >= forked.MIN_PROGRAMS and forked.available():
        Estimator(task, (), shape)       # the task's data and footprint, cached before forking
        later = forked.ForkedCalls(_prepared_payload,
                                   [part_args(k, False) for k in range(1, len(sizes))])
    done: list[tuple[list[int], LaneResults]] = []
    eager: list[tuple[int, Encoded]] = []
    pending = None                       # (indices, n real programs, Pending)

    def collect() -> None:
        nonlocal pending
        if pending is not None:
            idx, real, run = pending
            pending = None
            done.append((idx[:real], _first(run.result(), real)))

    def now(part: _Part, how: str, budget: int | None) -> None:
        """Train the part's programs before going on (chunked, retrying in halves on OOM)."""
        ids = part.idx[:part.real]
        enc = part.enc[:part.real] if part.enc is not None else \
            _encodings(programs, encoded, ids)
        done.append((ids, evaluate([programs[i] for i in ids], task, lanes.seeds,
                                   lanes.lr_multipliers, device=device, steps=steps,
                                   base_lr=lanes.base_lr, hurdles=hurdles,
                                   record_curves=record_curves, backend=how, dtype=dtype,
                                   compile=compile, encoded=enc, memory_budget_bytes=budget)))

    try:
        for k in range(len(sizes)):
            sent = later.result(k - 1) if later is not None and k > 0 else None
            part = None if sent is None else _part_from_payload(sent, programs, encoded)
            if part is None:             # part 1, no children, or a child failed
                part = _prepare_part(*part_args(k, True))
            eager += part.eager
            if not part.real:
                continue
            if not part.one_chunk:
                collect()                # too big to pipeline: the chunked path
                now(part, backend, memory_budget_bytes)
                continue
            sub = make_lanes(len(part.idx), lanes.seeds, lanes.lr_multipliers, lanes.base_lr)
            try:
                run = _launch(task, sub, part.enc, part.tables, steps, hurdles, record_curves,
                              device, dtype, compile, side)
            except torch.OutOfMemoryError:
                collect()
                torch.cuda.empty_cache()
                now(part, backend, budget)
                continue
            collect()                    # part k-1 finishes while part k is queued
            pending = (part.idx, part.real, run)
        collect()
    finally:
        if later is not None:
            later.close()
    if eager:                            # programs the kernel cannot run
        now(_Part([i for i, _ in eager], len(eager), [e for _, e in eager], None, [], True),
            "eager", memory_budget_bytes)
    return _concat(done, n)


@dataclass
class _Part:
    """One part of a pipelined batch, ready to launch."""

    idx: list[int]                  # program indices, padded to the planned size
    real: int                       # how many of them are not padding
    enc: list[Encoded] | None       # their encodings (None when prepared in a child)
    tables: ProgramTables | None    # kernel tables (triton backend, one chunk)
    eager: list[tuple[int, Encoded]]  # programs the kernel cannot run
    one_chunk: bool                 # fits the memory budget in one go


def _prepared_payload(*args) -> forked.Payload:
    """:func:`_prepare_part` in a forked child, as arrays and JSON (see forked.py)."""
    part = _prepare_part(*args)
    out: forked.Payload = {"idx": part.idx, "real": part.real, "one_chunk": part.one_chunk,
                           "eager": [i for i, _ in part.eager]}
    if part.tables is not None:
        out.update({"tables." + k: v for k, v in part.tables.payload().items()})
    return out


def _part_from_payload(d: forked.Payload, programs, encoded) -> _Part:
    """A child's part; the programs the kernel cannot run (rare) are encoded again here."""
    from optsearch.evaluate.gpu import ProgramTables

    tables = {k[len("tables."):]: v for k, v in d.items() if k.startswith("tables.")}
    ids = d["eager"]
    return _Part(list(d["idx"]), d["real"], None,
                 ProgramTables.from_payload(tables) if tables else None,
                 list(zip(ids, _encodings(programs, encoded, ids))), d["one_chunk"])


def _prepare_part(programs, encoded, lo: int, size: int, lrs, steps: int, triton: bool,
                  task: Task, shape: BatchShape, budget: int, keep_encodings: bool) -> _Part:
    """Host work of one part: encode, pick the kernel's programs, pad, plan, build tables.
    Runs here or in a forked child (then ``keep_encodings`` is False: encodings cost more
    to send than to make again, and are needed only off the fast path). Both run inside
    evaluate's :func:`gc_paused`."""
    idx = list(range(lo, min(lo + size, len(programs))))
    enc = _encodings(programs, encoded, idx)
    if triton:
        from optsearch.evaluate.gpu_encode import fits_kernel

        fits = [fits_kernel(e) for e in enc]
    else:
        fits = [True] * len(enc)
    eager = [(i, e) for i, e, f in zip(idx, enc, fits) if not f]
    keep = [(i, e) for i, e, f in zip(idx, enc, fits) if f]
    if not keep:
        return _Part([], 0, [], None, eager, True)
    real = len(keep)
    keep += [keep[-1]] * (size - real)              # the planned lane count
    idx, enc = [i for i, _ in keep], [e for _, e in keep]
    one = len(plan_chunks(Estimator(task, enc, shape), len(enc), budget)) == 1
    tables = None
    if triton and one:
        from optsearch.evaluate.gpu import program_tables

        tables = program_tables(enc, lrs, steps)
    return _Part(idx, real, enc if keep_encodings else None, tables, eager, one)


def _encodings(programs, encoded, ids: Sequence[int]) -> list[Encoded]:
    """The encodings of ``programs[i]`` for ``i`` in ``ids``: given, or made (cached)."""
    if encoded is not None:
        return [encoded[i] for i in ids]
    return encode_all([programs[i] for i in ids])


def _launch(task, lanes, enc, tables, steps, hurdles, record_curves, device, dtype, compile,
            side):
    """Start training one part: queued on the GPU (triton) or run now (eager)."""
    if side is not None:
        from optsearch.evaluate.gpu import launch_graphed

        return launch_graphed(task, lanes, enc, steps, hurdles, record_curves, device, dtype,
                              compile=compile, prep_stream=side, tables=tables)
    from optsearch.evaluate.gpu import Pending

    res = _run_eager(task, lanes, enc, column_tables(enc, lanes.lrs, steps), steps, hurdles,
                     record_curves, device, dtype)
    return Pending(lambda: res)


def _first(res: LaneResults, n: int) -> LaneResults:
    """The results of the first ``n`` programs (drops a part's padding)."""
    if res.lanes.n_programs == n:
        return res
    cut = (lambda t: None if t is None else t[:n])
    return LaneResults(make_lanes(n, res.lanes.seeds, res.lanes.lr_multipliers,
                                  res.lanes.base_lr),
                       res.final_loss[:n], res.diverged_step[:n], res.stopped_step[:n],
                       cut(res.curves), {k: v[:n] for k, v in res.hurdle_loss.items()},
                       res.denormal_step[:n])


def _split(programs, encoded, fits, task, seeds, mults, **kw) -> LaneResults:
    parts = []
    for ok, backend in ((True, "triton"), (False, "eager")):
        idx = [i for i, f in enumerate(fits) if f == ok]
        if idx:
            parts.append((idx, evaluate([programs[i] for i in idx], task, seeds, mults,
                                        backend=backend, encoded=[encoded[i] for i in idx], **kw)))
    return _concat(parts, len(programs))


def _concat(parts: list[tuple[list[int], LaneResults]], n_programs: int) -> LaneResults:
    """Results of disjoint groups of programs (their indices, their results) as one, in
    program order."""
    order = torch.tensor([i for idx, _ in parts for i in idx]).argsort()
    first = parts[0][1]

    def cat(get):
        vals = [get(r) for _, r in parts]
        return None if vals[0] is None else torch.cat(vals)[order]

    lanes = make_lanes(n_programs, first.lanes.seeds, first.lanes.lr_multipliers,
                       first.lanes.base_lr)
    hurdle = {k: cat(lambda r, k=k: r.hurdle_loss[k]) for k in first.hurdle_loss}
    return LaneResults(lanes, cat(lambda r: r.final_loss), cat(lambda r: r.diverged_step),
                       cat(lambda r: r.stopped_step), cat(lambda r: r.curves), hurdle,
                       cat(lambda r: r.denormal_step))


def _pick_backend(backend: str, device: torch.device) -> str:
    if backend not in ("auto", "eager", "triton"):
        raise ValueError(f"backend must be auto, eager or triton, got {backend!r}")
    if backend == "auto":
        if device.type != "cuda":
            return "eager"
        try:
            import triton  # noqa: F401
        except ImportError:
            return "eager"
        return "triton"
    if backend == "triton" and device.type != "cuda":
        raise ValueError("backend 'triton' needs a CUDA device")
    return backend


def _run_eager(task: Task, lanes: Lanes, encoded: list[Encoded], tables: list[Tensor],
               steps: int, hurdles: Sequence[tuple[int, float]], record_curves: bool,
               device: torch.device, dtype: torch.dtype) -> LaneResults:
    S, N, M, L = lanes.S, lanes.n_programs, lanes.M, lanes.count
    layout = task.layout(1)
    data = task.data(device)
    flat = initial_flat(task, lanes, 1, device, dtype).requires_grad_(True)
    idx = torch.stack([task.batch_indices(s, steps) for s in lanes.seeds]).to(device)
    update = EagerUpdate(encoded, tables, layout, S, M, device, dtype)
    active = torch.ones(S, N, M, dtype=torch.bool, device=device)
    diverged = torch.zeros(L, dtype=torch.int64, device=device)
    stopped = torch.zeros(L, dtype=torch.int64, device=device)
    denormal = torch.zeros(L, dtype=torch.int64, device=device)
    final = torch.full((L,), float("nan"), dtype=torch.float64, device=device)
    curves = torch.empty(L, steps, dtype=dtype, device=device) if record_curves else None
    hurdle_at = dict(hurdles)
    hurdle_loss: dict[int, Tensor] = {}
    for step in range(steps):
        x, y = task.batch(data, idx[:, step])
        loss = task.loss(layout.views(flat), x, y)
        (grad,) = torch.autograd.grad(loss.sum(), flat)
        with torch.no_grad():
            bad = update(flat.data, grad, step, active)
            bad |= active & ~torch.isfinite(loss).view(S, N, M)
            diverged[bad.view(-1)] = step + 1
            active &= ~bad
            if curves is not None:
                curves[:, step] = loss.detach()
        if step + 1 in hurdle_at:
            _mark_subnormal(task, flat.detach(), active.view(-1), denormal, step + 1)
            vl = val_losses(task, layout, flat.detach(), data)
            act = active.view(-1)
            hurdle_loss[step + 1] = torch.where(act, vl.double(), float("nan"))
            stop = act & ~(vl <= hurdle_at[step + 1])
            final[stop] = vl[stop].double()
            stopped[stop] = step + 1
            active &= ~stop.view(S, N, M)
    _mark_subnormal(task, flat.detach(), active.view(-1), denormal, steps)
    vl = val_losses(task, layout, flat.detach(), data).double()
    act = active.view(-1)
    final[act] = vl[act]
    return _results(lanes, final, diverged, stopped, curves, hurdle_loss, denormal)


def _mark_subnormal(task: Task, flat: Tensor, active: Tensor, denormal: Tensor, step: int) -> None:
    """Active lanes with subnormal parameters: record ``step`` and take them out
    (``active`` is a bool or int32 ``[L]`` view, updated in place)."""
    found = subnormal_lanes(task, flat) & active.bool()
    denormal.masked_fill_(found, step)          # masks, not indexing: no host sync
    active.masked_fill_(found, 0)


def _results(lanes: Lanes, final: Tensor, diverged: Tensor, stopped: Tensor,
             curves: Tensor | None, hurdle_loss: dict[int, Tensor],
             denormal: Tensor) -> LaneResults:
    diverged, denormal = diverged.cpu(), denormal.cpu()
    final = torch.where((diverged > 0) | (denormal > 0), float("nan"), final.cpu())
    return LaneResults(
        lanes, lanes.to_psm(final), lanes.to_psm(diverged), lanes.to_psm(stopped.cpu()),
        lanes.to_psm(curves.cpu()) if curves is not None else None,
        {k: lanes.to_psm(v.cpu()) for k, v in hurdle_loss.items()}, lanes.to_psm(denormal))
