#!/usr/bin/env python
"""GPU kernel time per training step: interpreter path vs the same-rule ceiling. One JSON line.

Trains N distinct random programs (x the lr multipliers) with ``gpu.run_graphed`` and the
fixed-AdamW ceiling (bench_eval.ceiling_run) on the same lanes, each under ``torch.profiler``
with CUDA graphs off (so every kernel is seen; launch gaps are not counted), and sums
kernel durations by name. Shows which kernels separate the two: the update (interpreter
vs fused AdamW), the forward/backward GEMMs, and the step's bookkeeping.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch.autograd import DeviceType  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from optsearch.evaluate import gpu, random_program  # noqa: E402
from optsearch.evaluate.lanes import make_lanes  # noqa: E402
from optsearch.evaluate.train import encode_all  # noqa: E402
from proxy_tasks import make_task  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_eval import ceiling_run  # noqa: E402


def kernel_times(fn, steps: int) -> dict[str, float]:
    """ms per step by kernel name (sum of device time over the run / steps)."""
    fn()                                                  # compile, warm
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    out: dict[str, float] = defaultdict(float)
    for ev in prof.key_averages():
        if ev.device_type != DeviceType.CUDA:
            continue
        t = getattr(ev, "device_time_total", None) or getattr(ev, "cuda_time_total", 0)
        if t:
            out[ev.key[:80]] += t / 1000 / steps
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="digits_mlp", help="proxy task")
    ap.add_argument("--n", type=int, default=1664, help="distinct random programs")
    ap.add_argument("--mults", default="0.3,1,3", help="lr multipliers")
    ap.add_argument("--steps", type=int, default=50, help="profiled steps")
    ap.add_argument("--top", type=int, default=14, help="kernels listed per side")
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        ap.error("needs CUDA")
    dev = torch.device("cuda")
    task = make_task(args.task)
    mults = tuple(float(m) for m in args.mults.split(","))
    rng = random.Random(0)
    programs = [random_program(rng, 8, name=f"r{i}") for i in range(args.n)]
    enc = encode_all(programs)
    lanes = make_lanes(args.n, (0,), mults, task.lr)

    def ours():
        gpu.run_graphed(task, lanes, enc, args.steps, (), False, dev, torch.float32, graph=False)

    ceiling = ceiling_run(task, lanes.count, args.steps, mults, graph=False)
    rows = {}
    for name, fn in (("ours", ours), ("ceiling", ceiling)):
        k = kernel_times(fn, args.steps)
        rows[name] = {"total_ms_per_step": round(sum(k.values()), 4),
                      "kernels": {n: round(v, 4) for n, v in list(k.items())[:args.top]}}
        print(json.dumps({name: rows[name]}), file=sys.stderr, flush=True)
    print(json.dumps({"profile": "kernels", "task": args.task, "card": torch.cuda.get_device_name(),
                      "programs": args.n, "lanes": lanes.count, "steps": args.steps, **rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
