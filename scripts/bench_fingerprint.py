"""Time optsearch.fingerprint (the search's behaviour cache key); prints one JSON line.

    python scripts/bench_fingerprint.py [--n 200]
"""

from __future__ import annotations

import argparse
import json
import random
import time

import torch

import optsearch
from optsearch.evaluate.random_programs import random_program
from optsearch.fingerprint import fingerprint


def per_call(program, n: int) -> float:
    fingerprint(program)  # warm-up
    start = time.perf_counter()
    for _ in range(n):
        fingerprint(program)
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="calls timed per program")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = random.Random(0)
    programs = {"lion": optsearch.known("lion"), "adamw": optsearch.known("adamw"),
                "random_8_statements": random_program(rng, 8)}
    ms = {name: round(per_call(p, args.n) * 1e3, 3) for name, p in programs.items()}
    print(json.dumps({"bench": "fingerprint", "device": "cpu", "threads": 1, "n": args.n,
                      "ms_per_fingerprint": ms}))


if __name__ == "__main__":
    main()
