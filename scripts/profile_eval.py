#!/usr/bin/env python
"""Where the time of one GPU ``evaluate`` call goes, phase by phase. Prints one JSON line.

Wraps the phases of ``gpu.run_graphed`` (program tables, initial parameters, batch
indices, eager warm-up steps, graph capture, replays, validation, results) with
synchronising timers, for N distinct random programs on a task. The synchronisation makes
the total a little slower than ``bench_eval.py``'s; use this to see proportions and the
fixed (per call) cost, and bench_eval.py for throughput figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from optsearch.evaluate import evaluate, forked, gpu, random_program, train  # noqa: E402
from optsearch.evaluate.train import clear_host_caches  # noqa: E402
from proxy_tasks import make_task  # noqa: E402

TIMES: dict[str, float] = defaultdict(float)
EVENTS: list[tuple[str, float, float]] = []
SYNC = True
T0 = 0.0


PID = os.getpid()


def timer(name: str, fn):
    def wrapped(*a, **k):
        sync = SYNC and os.getpid() == PID       # forked encoders must not touch CUDA
        if sync:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn(*a, **k)
        if sync:
            torch.cuda.synchronize()
        t1 = time.perf_counter()
        TIMES[name] += t1 - t0
        EVENTS.append((name, round(t0 - T0, 4), round(t1 - T0, 4)))
        return out
    return wrapped


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="digits_mlp", help="proxy task")
    ap.add_argument("--n", default="1024,2048,4096", help="comma-separated program counts")
    ap.add_argument("--mults", default="0.3,1,3", help="lr multipliers")
    ap.add_argument("--repeats", type=int, default=2, help="timed calls per N (after one untimed)")
    ap.add_argument("--timeline", action="store_true",
                    help="no synchronising timers: record when each host phase starts and ends "
                         "(shows what the pipeline overlaps)")
    ap.add_argument("--head", type=int, default=-1,
                    help="programs in a pipelined batch's first part (0: no pipeline; "
                         "default: the module's PIPELINE_HEAD)")
    args = ap.parse_args(argv)
    global SYNC, T0
    SYNC = not args.timeline
    if args.head >= 0:
        train.PIPELINE_HEAD = args.head or 10**9
    if not torch.cuda.is_available():
        ap.error("needs CUDA")
    mults = tuple(float(m) for m in args.mults.split(","))
    task = make_task(args.task)
    rng = random.Random(0)
    ns = [int(n) for n in args.n.split(",")]
    pool = [random_program(rng, 8, name=f"r{i}") for i in range(max(ns))]
    gpu.KernelUpdate.__init__ = timer("tables", gpu.KernelUpdate.__init__)
    train.initial_flat = timer("initial_flat", train.initial_flat)
    gpu._capture = timer("capture", gpu._capture)
    train.val_losses = timer("validation", train.val_losses)
    train._mark_subnormal = timer("subnormal", train._mark_subnormal)
    train._results = timer("results", train._results)
    type(task).batch_indices = timer("batch_indices", type(task).batch_indices)
    train.encode_all = timer("encode", train.encode_all)
    gpu.Pending.result = timer("collect", gpu.Pending.result)
    gpu.launch_graphed = timer("launch", gpu.launch_graphed)
    train.plan_chunks = timer("plan", train.plan_chunks)
    forked.ForkedCalls.__init__ = timer("fork", forked.ForkedCalls.__init__)
    forked.ForkedCalls.result = timer("forked_result", forked.ForkedCalls.result)
    train._prepare_part = timer("prepare", train._prepare_part)
    rows = []
    for n in ns:
        progs = pool[:n]
        for r in range(args.repeats + 1):
            TIMES.clear()
            EVENTS.clear()
            clear_host_caches()
            torch.cuda.synchronize()
            t0 = T0 = time.perf_counter()
            evaluate(progs, task, (0,), mults, device="cuda")
            torch.cuda.synchronize()
            total = time.perf_counter() - t0
            if r == 0:
                continue          # compiles
            row = {"programs": n, "lanes": n * len(mults), "total_s": round(total, 4)}
            row.update({k: round(v, 4) for k, v in TIMES.items()})
            row["other_s"] = round(total - sum(TIMES.values()), 4)
            if args.timeline:
                row["timeline"] = EVENTS[:]
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(json.dumps({"profile": "eval_phases", "task": args.task,
                      "card": torch.cuda.get_device_name(), "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
