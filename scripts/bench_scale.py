"""Evaluations per second of the Ray backend on 1, 2, ... GPUs of one machine.

Starts one private Ray on this machine. For each GPU count n: a Ray backend with n
evaluator actors (one per GPU, fresh processes); one untimed warm-up batch per actor
(evaluator build, tuned-AdamW baseline, kernel compilation); then ``rounds`` jobs per
actor of ``batch`` random programs, timed on the driver from submission to the last
result, as a search sees it. Job k holds the same programs for every n (n GPUs run jobs
0 .. n*rounds-1), so the counts train comparable work. Optionally also the in-process
backend on one GPU, the no-Ray reference. Prints one JSON line.

    python scripts/bench_scale.py --gpus 1,2,4 --batch 512 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optsearch.errors import ParseError  # noqa: E402
from optsearch.evaluate import random_program  # noqa: E402
from optsearch.parse import parse  # noqa: E402
from optsearch.printer import to_text  # noqa: E402
from optsearch.search.backends.local import LocalBackend  # noqa: E402
from optsearch.search.backends.ray import RayBackend, import_ray  # noqa: E402
from optsearch.search.backends.work import eval_spec, score_job  # noqa: E402

FACTORY = "optsearch.search.backends.work:default_evaluator"


def programs(seed: int, n: int) -> list[str]:
    """``n`` random programs (texts the parser accepts, as search children are)."""
    rng, out = random.Random(seed), []
    while len(out) < n:
        text = to_text(random_program(rng, n_statements=rng.randint(3, 8), name=f"r{len(out)}"))
        try:
            parse(text)
        except ParseError:
            continue
        out.append(text)
    return out


def make_jobs(seed: int, n_warm: int, n_timed: int, batch: int) -> tuple[list, list]:
    """Program lists of the warm-up and timed jobs, made in parallel before Ray starts
    (parsing thousands of random programs is slow in one process)."""
    seeds = [seed + 1 + 1000 * k for k in range(n_warm)] + \
        [seed + 1000 * k for k in range(n_timed)]
    with ProcessPoolExecutor(min(len(seeds), os.cpu_count() or 1),
                             mp_context=multiprocessing.get_context("fork")) as pool:
        lists = list(pool.map(programs, seeds, [batch] * len(seeds)))
    return lists[:n_warm], lists[n_warm:]


def timed_map(backend, spec: str, texts: list[list[str]]) -> dict:
    jobs = [(spec, t) for t in texts]
    evals = sum(len(t) for t in texts)
    start = time.perf_counter()
    results = list(backend.map(score_job, jobs))
    wall = time.perf_counter() - start
    busy = sum(seconds for _, seconds in results)
    failed = sum(s["failure"] is not None for scores, _ in results for s in scores)
    return {"evals": evals, "seconds": round(wall, 3), "evals_per_s": round(evals / wall, 1),
            "evaluator_seconds": round(busy, 3), "failed_programs": failed}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gpus", default="", help="GPU counts to time, e.g. 1,2,4 (default: 1 "
                   "and every power of two up to all visible GPUs)")
    p.add_argument("--batch", type=int, default=512, help="programs per job (one job = one "
                   "evaluator batch on one GPU)")
    p.add_argument("--rounds", type=int, default=3, help="timed jobs per GPU")
    p.add_argument("--tasks", default="digits_mlp", help="proxy tasks, comma-separated")
    p.add_argument("--steps", type=int, default=0, help="training steps (0 = task default)")
    p.add_argument("--device", default="cuda", help="evaluator device inside each actor")
    p.add_argument("--eval-backend", default="auto", choices=("auto", "eager", "triton"),
                   help="the evaluator's update path (EvalConfig.backend)")
    p.add_argument("--local", action=argparse.BooleanOptionalAction, default=True,
                   help="also time the in-process backend on one GPU (no Ray)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random programs")
    args = p.parse_args(argv)

    import torch

    visible = torch.cuda.device_count() if args.device.startswith("cuda") else 0
    counts = [int(x) for x in args.gpus.split(",") if x] or \
        [2 ** k for k in range(8) if 2 ** k <= max(1, visible)]
    if args.device.startswith("cuda") and max(counts) > visible:
        p.error(f"--gpus asks for {max(counts)} GPUs, {visible} visible")
    options: dict = {"tasks": args.tasks.split(","), "device": args.device, "seeds": [0],
                     "backend": args.eval_backend}
    if args.steps:
        options["steps"] = args.steps
    spec = eval_spec(FACTORY, options)

    warm_jobs, timed_jobs = make_jobs(args.seed, max(counts), max(counts) * args.rounds,
                                      args.batch)
    ray = import_ray()
    ray.init(num_cpus=max(counts) + 1, num_gpus=visible, include_dashboard=False,
             log_to_driver=False, logging_level="warning")
    out: dict = {"bench": "scale", "batch": args.batch, "rounds": args.rounds,
                 "tasks": options["tasks"], "steps": args.steps or None, "ray": ray.__version__,
                 "eval_backend": args.eval_backend, "gpus": {}}
    try:
        for n in counts:
            backend = RayBackend(workers=n, gpus=n if visible else 0)
            try:
                t0 = time.perf_counter()
                list(backend.map(score_job, [(spec, t) for t in warm_jobs[:n]]))
                warm = time.perf_counter() - t0
                row = timed_map(backend, spec, timed_jobs[:n * args.rounds])
                row.update(warmup_seconds=round(warm, 1), actors=len(backend.actors()),
                           devices=sorted({a.get("device", "?") for a in backend.actors()}))
            finally:
                backend.close()
            out["gpus"][str(n)] = row
            print(f"# {n} GPU(s): {row}", file=sys.stderr, flush=True)
    finally:
        ray.shutdown()
    base = out["gpus"].get("1", {}).get("evals_per_s")
    if base:
        out["speedup"] = {n: round(r["evals_per_s"] / base, 2) for n, r in out["gpus"].items()}
    if args.local:
        local = LocalBackend()
        list(local.map(score_job, [(spec, warm_jobs[0])]))
        out["local_1gpu"] = timed_map(local, spec, timed_jobs[:args.rounds])
    if visible:
        out["device"] = torch.cuda.get_device_name(0)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
