"""GPU path: interpreter-kernel update inside a compiled, CUDA-graphed training step.

:class:`KernelUpdate` holds every lane's program as tensors (instructions, scalar columns)
and applies one step with one launch of the interpreter kernel per lane group (register
count x block kind), plus one per whole-tensor reduction pass for the lanes that need it.
:func:`run_graphed` trains all lanes: the forward/backward is ``torch.compile``d, the whole
step (batch gather, forward, backward, update, divergence bookkeeping) is captured once in
a CUDA graph and replayed; the step counter lives on the device, so nothing syncs with
the host except at hurdles.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from optsearch.evaluate.encode import N_REG, Encoded, EncodeError
from optsearch.evaluate.gpu_encode import OP_RED, OP_ROWDOT, OP_SEGC, GpuProgram, lower_cached
from optsearch.evaluate.gpu_kernel import INSTR_SHIFTS, LANE_INFO, load_kernel, reg_bucket
from optsearch.evaluate.lanes import Lanes
from optsearch.evaluate.scalars import ColumnData, column_data, column_tables
from proxy_tasks.base import Layout

SEG_BLOCK, SEG_WARPS = 512, 4      # lanes whose programs need per-tensor information
FLAT_BLOCK, FLAT_WARPS = 1024, 4   # elementwise-only lanes: blocks over the whole row
RPB = 32           # rows per block at most (rowdot sums rows inside a block)
ROW_ALIGN = 16     # row stride multiple (aligned, vectorisable loads)
FINAL_PASS = 1 << 20
SEGMENT_OPS = frozenset((OP_RED, OP_ROWDOT, OP_SEGC))


def block_table(layout: Layout) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, int]:
    """Blocks that never straddle tensors and hold whole rows; per-segment info."""
    starts, counts, segs, segi, segf = [], [], [], [], []
    maxb = 1
    for si, s in enumerate(layout.segments):
        rows = s.shape[0] if s.shape else 1
        cols = s.numel // max(rows, 1)
        if cols > SEG_BLOCK:
            raise ValueError(f"parameter {s.name!r} has rows of {cols} > {SEG_BLOCK} elements")
        per = SEG_BLOCK if cols == 1 else min(SEG_BLOCK // cols, RPB) * cols
        first = len(starts)
        for lo in range(0, s.numel, per):
            starts.append(s.offset + lo)
            counts.append(min(per, s.numel - lo))
            segs.append(si)
        nb = len(starts) - first
        maxb = max(maxb, nb)
        segi.append([first, nb, cols, 0])
        segf.append([float(s.numel), float(rows), float(cols), float(len(s.shape))])
    i32 = torch.int32
    return (torch.tensor(starts, dtype=i32), torch.tensor(counts, dtype=i32),
            torch.tensor(segs, dtype=i32), torch.tensor(segi, dtype=i32),
            torch.tensor(segf, dtype=torch.float32), triton_pow2(maxb))


def triton_pow2(n: int) -> int:
    p = 1
    while p < n:
        p *= 2
    return p


class KernelUpdate:
    """One update step for all lanes with the interpreter kernel (see module docstring).

    Raises EncodeError listing programs the kernel cannot run (the caller falls back).
    """

    def __init__(self, encoded: Sequence[Encoded] | None, lanes: Lanes, layout: Layout,
                 steps: int, device: torch.device, tables: ProgramTables | None = None) -> None:
        t = program_tables(encoded, lanes.lrs, steps) if tables is None else tables
        S, M = lanes.S, lanes.M
        self.L = L = lanes.count
        self.ns, self.nred = t.ns, t.nred
        nr, ni, ncol = max(1, t.nred), t.instr.shape[1], t.ncol
        dev = device

        self.instr = per_lane(t.instr, S, M, dev)
        self.lanei = per_lane(t.lanei, S, M, dev)
        self.redpos = per_lane(t.redpos, S, M, dev)
        self.scal = lane_scalars(t.columns, len(t.instr), M, steps, ncol, S, dev)
        seg_lane = np.tile(np.repeat(t.segmented, M), S)
        reg_lane = np.tile(np.repeat(t.regs, M), S)
        # one launch group per (segmented?, register count): (lane map, registers, segmented)
        self.groups: list[tuple[Tensor, int, bool]] = []
        for seg in (False, True):
            for regs in np.unique(reg_lane):
                ids = np.nonzero((seg_lane == seg) & (reg_lane == regs))[0]
                if len(ids):
                    self.groups.append((torch.from_numpy(ids.astype(np.int32)).to(dev),
                                        int(regs), seg))
        self.ni, self.ncol, self.steps = ni, ncol, steps
        bstart, bcount, bseg, segi, segf, self.maxb = block_table(layout)
        self.bstart, self.bcount, self.bseg = bstart.to(dev), bcount.to(dev), bseg.to(dev)
        self.segi, self.segf = segi.to(dev), segf.to(dev)
        self.nblk = int(bstart.numel())
        self.numel = layout.size
        self.p_row = row_stride(layout)
        self.nblk_flat = -(-layout.size // FLAT_BLOCK)
        self.state = torch.zeros(L, self.ns, self.p_row, device=dev)
        self.part = torch.zeros(L, nr, self.nblk, device=dev)
        self.bad = torch.zeros(L, dtype=torch.int32, device=dev)
        self.kernels = {r: load_kernel(r) for _, r, _ in self.groups}

    def __call__(self, flat: Tensor, grad: Tensor, t_dev: Tensor, active: Tensor) -> Tensor:
        """Update ``flat`` in place at step ``t_dev`` (0-based, device); returns bad lanes."""
        self.bad.zero_()
        common = (self.state, self.part, self.scal, self.instr, self.lanei, self.redpos, active,
                  self.bad)
        tail = (self.p_row, self.numel, self.steps, self.ncol, self.ni, max(1, self.nred))
        blocks = (self.bstart, self.bcount, self.bseg, self.segi, self.segf, t_dev)
        for lane_map, regs, seg in self.groups:
            kernel = self.kernels[regs]
            if not seg:
                kernel[(lane_map.numel(), self.nblk_flat)](
                    flat, grad, *common, lane_map, *blocks, FINAL_PASS, *tail,
                    self.nblk_flat, FINAL=True, SEGMENTED=False, NS=self.ns, BLOCK=FLAT_BLOCK,
                    MAXB=self.maxb, RPB=RPB, num_warps=FLAT_WARPS, enable_fp_fusion=False)
                continue
            for p in list(range(self.nred)) + [FINAL_PASS]:
                kernel[(lane_map.numel(), self.nblk)](
                    flat, grad, *common, lane_map, *blocks, p, *tail, self.nblk,
                    FINAL=p == FINAL_PASS, SEGMENTED=True, NS=self.ns, BLOCK=SEG_BLOCK,
                    MAXB=self.maxb, RPB=RPB, num_warps=SEG_WARPS, enable_fp_fusion=False)
        return self.bad


def row_stride(layout: Layout) -> int:
    return -(-layout.size // ROW_ALIGN) * ROW_ALIGN


@dataclass(frozen=True)
class ProgramTables:
    """Per-program kernel inputs (host arrays; :class:`KernelUpdate` repeats them per lane)."""

    instr: np.ndarray           # int64 [N, ni]: packed instruction words
    lanei: np.ndarray           # int32 [N, LANE_INFO + ns]
    redpos: np.ndarray          # int32 [N, max(1, nred)], -1 padded
    segmented: np.ndarray       # bool [N]: needs blocks that respect tensor boundaries
    columns: ColumnData
    ns: int
    nred: int
    ncol: int
    regs: np.ndarray            # int [N]: the kernel variant (registers) each program runs in

    def payload(self) -> dict:
        """Arrays and ints only (forked.pack sends it from a child process)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "columns"}
        out.update({"columns." + f.name: getattr(self.columns, f.name)
                    for f in fields(ColumnData)})
        return out

    @classmethod
    def from_payload(cls, d: dict) -> ProgramTables:
        cols = ColumnData(**{f.name: d["columns." + f.name] for f in fields(ColumnData)})
        rest = {f.name: d[f.name] for f in fields(cls) if f.name != "columns"}
        return cls(columns=cols, **rest)


def program_tables(encoded: Sequence[Encoded], lrs: Sequence[float], steps: int) -> ProgramTables:
    """Instruction tables and scalar columns for ``encoded``, built with whole-array numpy
    ops (raises EncodeError listing the programs the kernel cannot run)."""
    progs: list[GpuProgram] = []
    bad = []
    for i, e in enumerate(encoded):
        try:
            progs.append(lower_cached(e))
        except EncodeError as exc:
            bad.append(f"#{i}: {exc}")
    if bad:
        raise EncodeError("; ".join(bad))
    N = len(progs)
    i64 = np.int64
    n_rows = np.fromiter((len(p.rows) for p in progs), i64, N)
    n_reds = np.fromiter((len(p.red_pos) for p in progs), i64, N)
    n_state = np.fromiter((p.n_state for p in progs), i64, N)
    ns = max(1, int(n_state.max()))
    ni = max(1, int(n_rows.max()))
    nred = int(n_reds.max())
    ncol = max(1, max(p.n_columns for p in progs))
    if ncol + N_REG > 255:           # operands are 8-bit fields
        raise EncodeError(f"a program needs {ncol} scalar columns; the kernel allows {255 - N_REG}")

    rows = np.array([r for p in progs for r in p.rows], dtype=i64).reshape(-1, len(INSTR_SHIFTS))
    if rows.size and (rows.min() < 0 or rows.max() >= 256):
        v = rows[(rows < 0) | (rows >= 256)][0]
        raise ValueError(f"instruction field {v} does not fit the kernel's 8 bits")
    words = np.bitwise_or.reduce(rows << np.array(INSTR_SHIFTS, dtype=i64), axis=1) \
        if rows.size else np.zeros(0, i64)
    instr = np.zeros((N, ni), dtype=i64)
    r_prog, r_pos = _ragged(n_rows)
    instr[r_prog, r_pos] = words
    segmented = np.zeros(N, dtype=bool)
    segmented[r_prog[np.isin(rows[:, 0], list(SEGMENT_OPS))]] = True

    lanei = np.zeros((N, LANE_INFO + ns), dtype=np.int32)
    lanei[:, 0], lanei[:, 1], lanei[:, 3] = n_rows, n_reds, n_state
    lanei[:, 2] = np.fromiter((p.update for p in progs), i64, N)
    s_prog, s_pos = _ragged(n_state)
    lanei[s_prog, LANE_INFO + s_pos] = np.fromiter((o for p in progs for o in p.state_out), i64,
                                                   len(s_prog))
    redpos = np.full((N, max(1, nred)), -1, dtype=np.int32)
    d_prog, d_pos = _ragged(n_reds)
    redpos[d_prog, d_pos] = np.fromiter((o for p in progs for o in p.red_pos), i64, len(d_prog))
    regs = np.fromiter((reg_bucket(e.n_regs) for e in encoded), i64, N)
    return ProgramTables(instr, lanei, redpos, segmented, column_data(encoded, lrs, steps),
                         ns, nred, ncol, regs)


def per_lane(a: np.ndarray, S: int, M: int, device: torch.device) -> Tensor:
    """``[N, ...]`` per program -> ``[L, ...]`` per lane (seed-major, see lanes.py), expanded
    on the device so only the per-program rows cross the bus."""
    x = torch.from_numpy(a).to(device).repeat_interleave(M, 0)
    return x.repeat(S, *([1] * (x.dim() - 1))) if S > 1 else x


def _ragged(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, position) of every item of ragged rows with these lengths, row-major."""
    prog = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.cumsum(lengths) - lengths
    return prog, np.arange(len(prog)) - starts[prog]


def lane_scalars(cols: ColumnData, N: int, M: int, steps: int, ncol: int, S: int,
                 device: torch.device) -> Tensor:
    """float32 ``[L, steps, ncol]`` scalar table, assembled on ``device`` from the distinct
    column values (uploads ~K x M x T values instead of the full L x T x C table)."""
    scal = torch.zeros(N, M, steps, ncol, dtype=torch.float32, device=device)
    if len(cols.src):
        idx = [torch.from_numpy(a).to(device) for a in (cols.prog, cols.col, cols.src)]
        vals = torch.from_numpy(cols.values).to(device)
        scal[idx[0], :, :, idx[1]] = vals[idx[2]]
    if len(cols.cprog):
        cp, cc = (torch.from_numpy(a).to(device) for a in (cols.cprog, cols.ccol))
        scal[cp, :, :, cc] = torch.from_numpy(cols.consts).to(device).view(-1, 1, 1)
    scal = scal.view(N * M, steps, ncol)               # lane (n, m) is row n * M + m
    return scal.repeat(S, 1, 1) if S > 1 else scal


def scalar_table(encoded: Sequence[Encoded], lrs: Sequence[float], steps: int,
                 ncol: int) -> np.ndarray:
    """float32 ``[N, M, steps, ncol]`` scalar columns on the host (tests and tools)."""
    t = lane_scalars(column_data(encoded, lrs, steps), len(encoded), len(lrs), steps, ncol, 1,
                     torch.device("cpu"))
    return t.view(len(encoded), len(lrs), steps, ncol).numpy()


UpdateFn = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]


def run_graphed(task, lanes: Lanes, encoded: Sequence[Encoded], steps: int,
                hurdles: Sequence[tuple[int, float]], record_curves: bool,
                device: torch.device, dtype: torch.dtype, *, update: UpdateFn | None = None,
                compile: bool = True, graph: bool = True, warmup: int = 3):
    """Train all lanes on the GPU (see module docstring); returns train.LaneResults.

    ``update(flat, grad, t_dev, active_i32) -> bad_i32`` replaces the interpreter kernel
    (the benchmark's same-rule ceiling). Programs the kernel can't run fall back to the
    eager path (no CUDA graph then).
    """
    return launch_graphed(task, lanes, encoded, steps, hurdles, record_curves, device, dtype,
                          update=update, compile=compile, graph=graph, warmup=warmup).result()


class Pending:
    """A training run whose steps are queued on the GPU; :meth:`result` waits for it."""

    def __init__(self, make: Callable[[], object], keep: tuple = ()) -> None:
        self._make = make
        self._keep = keep        # what queued work reads (graph, buffers): alive until then

    def result(self):
        """The run's train.LaneResults (copies to the host, so waits for the GPU)."""
        out = self._make()
        self._keep = ()
        return out


def launch_graphed(task, lanes: Lanes, encoded: Sequence[Encoded], steps: int,
                   hurdles: Sequence[tuple[int, float]], record_curves: bool,
                   device: torch.device, dtype: torch.dtype, *, update: UpdateFn | None = None,
                   compile: bool = True, graph: bool = True, warmup: int = 3,
                   prep_stream: torch.cuda.Stream | None = None,
                   tables: ProgramTables | None = None) -> Pending:
    """:func:`run_graphed` up to the last queued step: nothing waits for the GPU (the
    graph is captured without a device-wide synchronise, see :func:`_capture`). So the
    host can prepare and queue the next batch while this one trains (train.evaluate's
    pipeline).

    ``prep_stream``: build the tables and buffers (host work and uploads) on this stream,
    so their host-to-device copies do not wait behind training queued on the current one.
    ``tables``: :func:`program_tables` of ``encoded`` if already built (then ``encoded``
    may be None).
    """
    from optsearch.evaluate.train import (_mark_subnormal, _results, _run_eager, initial_flat,
                                          val_losses)

    if dtype != torch.float32:
        raise ValueError("the GPU kernel path runs float32 only")
    main = torch.cuda.current_stream(device)
    if update is None:
        try:
            with torch.cuda.stream(prep_stream or main):
                update = KernelUpdate(encoded, lanes, task.layout(1), steps, device,
                                      tables=tables)
        except EncodeError:                   # the kernel cannot run these: eagerly, now
            main.wait_stream(prep_stream or main)
            tables = column_tables(encoded, lanes.lrs, steps)
            res = _run_eager(task, lanes, list(encoded), tables, steps, hurdles,
                             record_curves, device, dtype)
            return Pending(lambda: res)
    with torch.cuda.stream(prep_stream or main):
        L = lanes.count
        layout = task.layout(1)
        data = task.data(device)
        flat = initial_flat(task, lanes, 1, device, dtype, row_stride(layout)).requires_grad_(True)
        idx = torch.stack([task.batch_indices(s, steps) for s in lanes.seeds]).to(device)
        t_dev = torch.zeros((), dtype=torch.int64, device=device)
        active = torch.ones(L, dtype=torch.int32, device=device)
        diverged = torch.zeros(L, dtype=torch.int64, device=device)
        curves = torch.zeros(L, steps, dtype=dtype, device=device) if record_curves else None
        stopped = torch.zeros(L, dtype=torch.int64, device=device)
        denormal = torch.zeros(L, dtype=torch.int64, device=device)
        final = torch.full((L,), float("nan"), dtype=torch.float64, device=device)
    if prep_stream is not None:
        main.wait_stream(prep_stream)

    def lane_loss(p: Tensor, x: Tensor, y: Tensor) -> Tensor:
        return task.loss(layout.views(p), x, y)

    if compile:
        # one compiled graph per (task, lane count): allow many before dynamo gives up
        cfg = torch._dynamo.config
        cfg.cache_size_limit = max(cfg.cache_size_limit, 64)
        loss_fn = torch.compile(lane_loss, dynamic=False)
    else:
        loss_fn = lane_loss

    def step() -> None:
        ids = idx.index_select(1, t_dev.view(1)).squeeze(1)
        x, y = task.batch(data, ids)
        loss = loss_fn(flat, x, y)
        (grad,) = torch.autograd.grad(loss.sum(), flat)
        with torch.no_grad():
            bad = update(flat.detach(), grad, t_dev, active).bool()
            bad |= ~torch.isfinite(loss)
            bad &= active.bool()
            diverged.copy_(torch.where(bad, t_dev + 1, diverged))
            active.mul_((~bad).to(torch.int32))
            if curves is not None:
                curves.index_copy_(1, t_dev.view(1), loss.detach().view(L, 1))
            t_dev.add_(1)

    hurdle_at = dict(hurdles)
    hurdle_loss: dict[int, Tensor] = {}
    replay: Callable[[], None] = step
    done = 0
    while done < steps:
        if graph and replay is step and done >= min(warmup, steps):
            replay = _capture(step)
        replay()
        done += 1
        if done in hurdle_at:          # no host sync: masks, not boolean indexing
            _mark_subnormal(task, flat.detach(), active, denormal, done)
            vl = val_losses(task, layout, flat.detach(), data)
            act = active.bool()
            hurdle_loss[done] = torch.where(act, vl.double(), float("nan"))
            stop = act & ~(vl <= hurdle_at[done])
            final.copy_(torch.where(stop, vl.double(), final))
            stopped.masked_fill_(stop, done)
            active.mul_((~stop).to(torch.int32))
    _mark_subnormal(task, flat.detach(), active, denormal, steps)
    vl = val_losses(task, layout, flat.detach(), data).double()
    final.copy_(torch.where(active.bool(), vl, final))
    # Copies to pinned host memory queued right behind this run, and an event after them:
    # the results can be read when this run is done, not when work queued later is.
    host = [None if t is None else t.to("cpu", non_blocking=True)
            for t in (final, diverged, stopped, curves, denormal)]
    host_hurdles = {k: v.to("cpu", non_blocking=True) for k, v in hurdle_loss.items()}
    ready = torch.cuda.Event()
    ready.record(main)

    def results():
        ready.synchronize()
        f, d, s, c, dn = host
        return _results(lanes, f, d, s, c, host_hurdles, dn)

    # Everything the queued steps touch stays alive until then: buffers made on
    # prep_stream and freed early would be handed to the next part's uploads.
    return Pending(results, keep=(replay, update, flat, idx, data, t_dev, active, diverged,
                                  stopped, denormal, final, curves, hurdle_loss))


SYNC_CAPTURE = False
"""True: capture with ``torch.cuda.graph``, which synchronises the device and empties the
allocator caches first (the GPU then idles at every part boundary). For A/B timing."""

_STREAMS: dict[tuple[str, int], torch.cuda.Stream] = {}


def process_stream(purpose: str, device: torch.device | None = None) -> torch.cuda.Stream:
    """One stream per purpose ("prep", "capture") and device for the process: the caching
    allocator keeps a pool per stream, so a new stream per call would strand the previous
    calls' cached memory."""
    index = None if device is None else device.index
    dev = torch.cuda.current_device() if index is None else index
    stream = _STREAMS.get((purpose, dev))
    if stream is None:
        stream = _STREAMS[(purpose, dev)] = torch.cuda.Stream(dev)
    return stream


def _capture(step: Callable[[], None]) -> Callable[[], None]:
    """Capture one training step in a CUDA graph (after eager warm-up steps).

    Capturing records kernels without running them, so it needs no device-wide
    synchronise: the previous part keeps training meanwhile, and the replays, launched on
    the current stream, run after everything already queued there. (``torch.cuda.graph``
    synchronises and flushes the allocator caches before every capture: with a part
    captured while another trains, that was an idle GPU at each part boundary.)
    """
    g = torch.cuda.CUDAGraph()
    if SYNC_CAPTURE:
        torch.cuda.synchronize()
        with torch.cuda.graph(g):
            step()
        return g.replay
    with torch.cuda.stream(process_stream("capture")):
        g.capture_begin()
        try:
            step()
        finally:
            g.capture_end()
    return g.replay
