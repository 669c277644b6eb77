"""Encoding on worker processes, so the GPU pipeline is not bound by one slow host core.

On an H100 the GPU trains 4,096 programs in ~0.75 s, and encoding them takes 0.25-0.7 s of
pure Python depending on the host's CPU: on a slow host the pipelined evaluator waits on
the host (train._pipelined). Encoding is a pure function of the program, so the parts
after the first are encoded on forked workers while the GPU trains; the main process only
unpickles the results and re-interns their scalar columns (equal columns of different
programs must be one object: the column tables dedupe by identity).

Workers: ``$OPTSEARCH_ENCODE_WORKERS`` (0 or 1 = off), else half the cores up to 8 on
hosts with at least 8 cores, else off. They are forked once, on first use, and never
touch CUDA (as torch's DataLoader workers).
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Sequence

import numpy as np

from optsearch.evaluate.encode import _LR, _T, Encoded, EncodeError, _intern, encode_unchecked
from optsearch.program import Call, Expr, Program, Var

ENV = "OPTSEARCH_ENCODE_WORKERS"
_POOL: list = []              # [(workers, pool)] once started


def workers_wanted() -> int:
    """Encoding processes to use (see module docstring)."""
    env = os.environ.get(ENV)
    if env is not None and env.strip():
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"${ENV}={env!r} is not a whole number of processes") from None
        if n < 0:
            raise ValueError(f"${ENV}={env!r} must be >= 0")
        return n
    cpus = os.cpu_count() or 1
    return min(8, cpus // 2) if cpus >= 8 else 0


def pool():
    """The worker pool, started on first use; None when encoding stays in process."""
    n = workers_wanted()
    if n < 2:
        return None
    if not _POOL or _POOL[0][0] != n:
        from optsearch.search.hostpool import process_pool

        shutdown()
        _POOL.append((n, process_pool(n)))
    return _POOL[0][1]


def shutdown() -> None:
    """Stop the workers (a later call starts new ones)."""
    while _POOL:
        _, p = _POOL.pop()
        p.terminate()
        p.join()


def _encode_chunk(programs: Sequence[Program]) -> list[Encoded | str]:
    """Worker side: each program's encoding, or its EncodeError message."""
    out: list[Encoded | str] = []
    with np.errstate(all="ignore"):
        for p in programs:
            try:
                out.append(encode_unchecked(p))
            except EncodeError as exc:
                out.append(str(exc))
    return out


def submit(workers_pool, programs: Sequence[Program]):
    """Start encoding ``programs`` on the workers; :func:`receive` collects them."""
    n = len(programs)
    k = max(1, _POOL[0][0] if _POOL else 1)
    size = -(-n // k)
    chunks = [list(programs[i:i + size]) for i in range(0, n, size)]
    return workers_pool.map_async(_encode_chunk, chunks)


def receive(pending, programs: Sequence[Program]) -> list[Encoded]:
    """The encodings started by :func:`submit`, re-interned and entered in the encoding
    cache (a program whose encoding failed is encoded here, which raises its error)."""
    from optsearch.evaluate.train import ENCODINGS, encode_all

    got = [e for chunk in pending.get() for e in chunk]
    out: list[Encoded] = []
    for p, e in zip(programs, got):
        if isinstance(e, str):
            out.extend(encode_all([p]))      # raises the EncodeError as in process
            continue
        e = replace(e, columns=tuple([_reintern(c) for c in e.columns]))
        out.append(ENCODINGS.get_or_make(p, lambda _, e=e: e))
    return out


def _reintern(e: Expr | float) -> Expr | float:
    if type(e) is Call:
        return _intern(e.op, tuple([_reintern(a) for a in e.args]))
    if type(e) is Var:
        return _LR if e.name == "lr" else _T
    return e
