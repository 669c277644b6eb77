#!/usr/bin/env python
"""Benchmark the batched evaluator: candidate-trainings per second. Prints one JSON line.

A candidate-training is one lane: one model trained for the task's full step budget by one
program at one lr multiplier. For each task and each N, N distinct random programs (up to
``--statements`` statements over the full primitive set) each train at every lr
multiplier (lanes = N x multipliers), with NaN freezing on, through ``evaluate`` (host
encoding, tables, warm-up, graph capture and validation included in the time; the first
call per shape, which compiles, is timed apart as ``compile_s``; ``seconds`` is the median
of ``--repeats`` timed calls; host caches are cleared before every timed call, so each
counts as a batch of never-seen programs). The host part is also timed alone:
``host_encode_s`` (Program -> register code), ``host_tables_s`` (instruction tables,
scalar columns, upload), ``host_prep_s`` (their sum) and ``host_prep_warm_s`` (the same
with the programs already cached); on CUDA a batch of more than one part
(``pipeline_sizes``) hides all but the first part's host work behind training, so
``trainings_per_s_excl_prep`` then undercounts. Compared with
(a) the naive loop: one model per candidate, ``optsearch.optimizer(program)``, and
(b) the ceiling: the same fixed rule (AdamW) in every lane -- on CUDA a torch.compile'd
fused update inside the same CUDA-graphed step, on CPU one eager group.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import optsearch  # noqa: E402
from optsearch.evaluate import (encode, evaluate, gpu, gpu_kernel, random_program,  # noqa: E402
                                train)
from optsearch.evaluate.reference import train_alone  # noqa: E402
from optsearch.evaluate.train import clear_host_caches  # noqa: E402
from proxy_tasks import make_task  # noqa: E402


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: str) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def fixed_adamw_update(lanes: int, size: int, lrs: torch.Tensor, device: str, compile: bool):
    """AdamW in every lane, as one fused update over the flat [lanes, size] rows."""
    m = torch.zeros(lanes, size, device=device)
    v = torch.zeros(lanes, size, device=device)
    zeros = torch.zeros(lanes, dtype=torch.int32, device=device)
    b1, b2, eps, wd = 0.9, 0.999, 1e-8, 0.01

    def adamw(w, g, m, v, t, lr):
        t1 = (t + 1).to(torch.float32)
        m.mul_(b1).add_(g * (1 - b1))
        v.mul_(b2).add_(g * g * (1 - b2))
        denom = v.sqrt() / torch.sqrt(1 - b2 ** t1) + eps
        w.sub_(lr * (m / (1 - b1 ** t1) / denom + wd * w))

    fn = torch.compile(adamw, dynamic=False) if compile else adamw

    def update(flat, grad, t_dev, active):
        fn(flat, grad, m, v, t_dev, lrs)
        return zeros

    return update


def ceiling(task, n_lanes: int, steps: int, device: str, mults) -> float:
    """Seconds to train n_lanes lanes of AdamW (the same rule everywhere)."""
    if device == "cpu":
        lane_mults = [mults[i % len(mults)] for i in range(n_lanes)]
        return timed(lambda: evaluate([optsearch.known("adamw")], task, (0,), lane_mults,
                                      steps=steps, backend="eager"), device)
    go = ceiling_run(task, n_lanes, steps, mults)
    go()  # compile
    return timed(go, device)


def ceiling_run(task, n_lanes: int, steps: int, mults, graph: bool = True):
    """A call that trains n_lanes lanes of the CUDA ceiling: one compiled, fused AdamW
    update inside the same (CUDA-graphed unless ``graph`` is False) step as the kernel's."""
    from optsearch.evaluate.lanes import make_lanes

    adamw = optsearch.known("adamw")
    lanes = make_lanes(1, (0,), [mults[i % len(mults)] for i in range(n_lanes)], task.lr)
    lrs = torch.tensor(lanes.lrs, device="cuda").view(-1, 1)
    size = gpu.row_stride(task.layout(1))

    def go():
        upd = fixed_adamw_update(n_lanes, size, lrs, "cuda", compile=True)
        gpu.run_graphed(task, lanes, [encode(adamw)], steps, (), False, torch.device("cuda"),
                        torch.float32, update=upd, graph=graph)

    return go


def prepare(programs, task, mults, steps: int, device: str, cold: bool = True) -> tuple[float, float]:
    """The host-side work of one evaluation: (encoding seconds, tables seconds).

    ``cold`` first clears the host caches (encodings, lowerings, interned columns and
    their values), so the programs count as never seen before."""
    from optsearch.evaluate.lanes import make_lanes
    from optsearch.evaluate.train import clear_host_caches, encode_all

    if cold:
        clear_host_caches()
    t0 = time.perf_counter()
    encoded = encode_all(programs)
    t_enc = time.perf_counter() - t0
    lanes = make_lanes(len(programs), (0,), mults, task.lr)
    if device == "cuda":
        from optsearch.evaluate.gpu import KernelUpdate

        KernelUpdate(encoded, lanes, task.layout(1), steps, torch.device(device))
    else:
        from optsearch.evaluate.scalars import column_tables

        column_tables(encoded, lanes.lrs, steps)
    sync(device)
    return t_enc, time.perf_counter() - t0 - t_enc


def naive(task, programs, steps: int, device: str, mults) -> float:
    """Seconds per candidate-training, one model at a time."""
    times = []
    for i, p in enumerate(programs):
        lr = task.lr * mults[i % len(mults)]
        times.append(timed(lambda: train_alone(p, task, 0, lr, steps, device), device))
    return statistics.mean(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="where to train (cuda uses the Triton kernel and CUDA graphs)")
    ap.add_argument("--tasks", default="digits_mlp",
                    help="comma-separated proxy tasks (e.g. digits_mlp,bytes_lm)")
    ap.add_argument("--n", default="64,256",
                    help="comma-separated numbers of distinct programs")
    ap.add_argument("--mults", default="0.3,1,3",
                    help="lr multipliers: each program trains once per multiplier")
    ap.add_argument("--statements", type=int, default=8, help="statements per random program")
    ap.add_argument("--steps", type=int, default=None, help="steps (default: the task's budget)")
    ap.add_argument("--naive", type=int, default=4,
                    help="candidates the naive loop trains (its rate is their mean)")
    ap.add_argument("--no-ceiling", action="store_true", help="skip the same-rule ceiling")
    ap.add_argument("--repeats", type=int, default=3,
                    help="timed evaluate calls per row (after the compiling one); the row "
                         "reports their median (``seconds``) and each (``seconds_each``)")
    ap.add_argument("--seed", type=int, default=0, help="random-program seed")
    ap.add_argument("--head", default="",
                    help="CUDA tuning: comma-separated sizes of a pipelined batch's first part "
                         "(evaluate's PIPELINE_HEAD; one row per value; 0 = no pipeline; "
                         "default: the module's)")
    switch(ap, "--capture-sync", "captures each part's graph with torch.cuda.graph, which "
           "synchronises the device first (gpu.SYNC_CAPTURE)", 0)
    switch(ap, "--fork-prep", "prepares a pipelined batch's later parts (encoding, tables) "
           "in forked children (train.FORK_PREP)", 1)
    ap.add_argument("--reg-buckets", default="",
                    help="CUDA tuning: '/'-separated register-count sets for the kernel "
                         "variants, e.g. '12/4,8,12' (one row per set; default: the "
                         "module's gpu_kernel.REG_BUCKETS)")
    ap.add_argument("--flat-block", default="",
                    help="CUDA tuning: comma-separated elements per kernel program for "
                         "elementwise-only lanes (one row per value; default: the module's)")
    ap.add_argument("--flat-warps", default="",
                    help="CUDA tuning: warps per kernel program, one per --flat-block value")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device here")
    mults = tuple(float(m) for m in args.mults.split(","))
    configs: list[tuple[int, int] | None] = [None]
    if args.flat_block:
        blocks = [int(b) for b in args.flat_block.split(",")]
        warps = [int(w) for w in args.flat_warps.split(",")] if args.flat_warps else [8] * len(blocks)
        if len(warps) != len(blocks):
            ap.error("--flat-warps needs one value per --flat-block value")
        configs = list(zip(blocks, warps))
    out: dict = {"bench": "eval", "device": args.device,
                 "card": torch.cuda.get_device_name() if args.device == "cuda" else platform.processor(),
                 "torch": torch.__version__, "threads": torch.get_num_threads(),
                 "mults": mults, "statements": args.statements, "results": []}
    for name in args.tasks.split(","):
        task = make_task(name)
        steps = args.steps or task.steps
        rng = random.Random(args.seed)
        pool = [random_program(rng, args.statements, name=f"r{i}")
                for i in range(max(int(n) for n in args.n.split(",")))]
        live = [len(encode(p).instrs) for p in pool]
        t_naive = naive(task, pool[:args.naive], steps, args.device, mults) if args.naive else None
        for n in (int(x) for x in args.n.split(",")):
            programs = pool[:n]
            lanes = n * len(mults)

            def run():          # cold host caches: every program encoded as if new
                clear_host_caches()
                return evaluate(programs, task, (0,), mults, steps=steps, device=args.device)

            tc = None

            def set_flat(config):
                gpu.FLAT_BLOCK, gpu.FLAT_WARPS = config

            knobs = [   # (setter, values): one row per combination; None keeps the module's
                (set_flat, configs),
                (lambda v: setattr(train, "PIPELINE_HEAD", v or 10**9), values(args.head, int)),
                (lambda v: setattr(gpu, "SYNC_CAPTURE", v), values(args.capture_sync, on)),
                (lambda v: setattr(gpu_kernel, "REG_BUCKETS", v),
                 values(args.reg_buckets, lambda b: tuple(int(r) for r in b.split(",")), "/")),
                (lambda v: setattr(train, "FORK_PREP", v), values(args.fork_prep, on)),
            ]
            for combo in itertools.product(*(vals for _, vals in knobs)):
                for (setter, _), value in zip(knobs, combo):
                    if value is not None:
                        setter(value)
                config = combo[0]
                first = timed(run, args.device)
                times = [timed(run, args.device) for _ in range(args.repeats)]
                t = statistics.median(times)
                t_enc, t_tab = prepare(programs, task, mults, steps, args.device)
                prep = t_enc + t_tab
                warm = sum(prepare(programs, task, mults, steps, args.device, cold=False))
                if tc is None and not args.no_ceiling:
                    tc = ceiling(task, lanes, steps, args.device, mults)
                row = one_row(name, task, steps, n, lanes, t, first, prep, live, t_naive, tc)
                row["host_encode_s"] = round(t_enc, 3)
                row["host_tables_s"] = round(t_tab, 3)
                row["host_prep_warm_s"] = round(warm, 3)
                row["seconds_each"] = [round(x, 3) for x in times]
                row["flat_config"] = config
                row["head"] = train.PIPELINE_HEAD
                row["capture_sync"] = gpu.SYNC_CAPTURE
                row["reg_buckets"] = gpu_kernel.REG_BUCKETS
                row["fork_prep"] = train.FORK_PREP
                from optsearch.evaluate.train import pipeline_sizes

                row["pipeline_sizes"] = pipeline_sizes(n, "triton" if args.device == "cuda"
                                                       else "eager")
                out["results"].append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    print(json.dumps(out))
    return 0


def switch(ap: argparse.ArgumentParser, flag: str, what: str, default: int) -> None:
    """An on/off setting to compare (A/B), one row per value."""
    ap.add_argument(flag, default="", help=f"CUDA A/B: comma-separated 0/1 (one row per "
                    f"value): 1 {what}; default: the module's ({default})")


def values(text: str, parse, sep: str = ",") -> list:
    """The values a flag asks to compare, one row each, or [None] (the module's setting)."""
    return [parse(x) for x in text.split(sep)] if text else [None]


def on(text: str) -> bool:
    return bool(int(text))


def one_row(name, task, steps, n, lanes, t, first, prep, live, t_naive, tc) -> dict:
    row = {"task": name, "steps": steps, "batch": task.batch_size, "programs": n,
           "lanes": lanes, "seconds": round(t, 3), "compile_s": round(first - t, 2),
           "trainings_per_s": round(lanes / t, 1), "host_prep_s": round(prep, 3),
           "trainings_per_s_excl_prep": round(lanes / max(t - prep, 1e-9), 1),
           "mean_live_instructions": round(statistics.mean(live[:n]), 2)}
    if t_naive:
        row["naive_trainings_per_s"] = round(1 / t_naive, 3)
        row["speedup_vs_naive"] = round(t_naive * lanes / t, 1)
    if tc:
        row["ceiling_trainings_per_s"] = round(lanes / tc, 1)
        row["fraction_of_ceiling"] = round(tc / t, 3)
    return row


if __name__ == "__main__":
    raise SystemExit(main())
