"""Run host-side preparation in forked child processes, in parallel with the parent.

Preparing a pipelined batch's part (encoding its programs, kernel tables, scalar columns)
is pure Python, ~0.1 ms a program depending on the host's single-core speed: about as long
as the GPU's training of it, so on a slow host the pipeline (train.evaluate) would wait on
it. A forked child sees the parent's programs without copying them (pickling a Program
costs as much as encoding it) and sends back its result, which is numpy arrays that
travel at memory speed.

:class:`ForkedCalls` forks one *spawner* child, which forks one worker per call but the
last (which it runs itself): the parent pays for one fork (tens of ms for a process with
torch and a CUDA context mapped) and goes on with its own work. Children run no CUDA and
leave by ``os._exit``; they inherit the parent's CUDA context without touching it, as
DataLoader workers do, and run torch's CPU ops on one thread (the parent's OpenMP pool
does not survive a fork; the caller should also warm caches that take heavy torch work,
such as a task's data and memory footprint, before forking). Only where ``os.fork``
exists. A call whose child fails for any reason returns None from
:meth:`ForkedCalls.result`, and the caller runs it itself (same result). Results travel as
numpy arrays and JSON (:func:`pack`), never pickles: nothing that crosses a process
boundary here can run code when read.
"""

from __future__ import annotations

import io
import json
import os
import sys
import warnings
from typing import Any, Callable, Sequence

import numpy as np

MIN_PROGRAMS = 4096
"""Batches smaller than this are prepared in-process. A fork costs the parent tens of ms
(page tables, then copy-on-write faults on every page it touches while children live):
on an H100 host, digits, forked/in-process were 0.54/0.64 of the ceiling at 1,024
programs, 0.63/0.72 at 2,048, 0.83/0.80 at 4,096 (0.71/0.66 on a slower H200 host with a
first part of 512)."""


def available() -> bool:
    return hasattr(os, "fork")


Payload = dict[str, Any]
"""What a call returns: numpy arrays and JSON values (numbers, strings, lists, None)."""


def pack(payload: Payload) -> bytes:
    """``payload`` as bytes: its arrays in an ``.npz``, everything else as JSON inside it."""
    arrays = {k: v for k, v in payload.items() if isinstance(v, np.ndarray)}
    meta = {k: v for k, v in payload.items() if not isinstance(v, np.ndarray)}
    buf = io.BytesIO()
    np.savez(buf, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    return buf.getvalue()


def unpack(data: bytes) -> Payload:
    """:func:`pack`'s inverse (``allow_pickle=False``: object arrays are refused)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        out: Payload = {k: z[k] for k in z.files if k != "__meta__"}
        out.update(json.loads(z["__meta__"].tobytes().decode()))
    return out


class ForkedCalls:
    """``fn(*args)`` for each ``args`` in ``calls``, each in its own forked child; ``fn``
    returns a :data:`Payload`.

    ``result(i)`` waits for call i and returns its value, or None if its child failed.
    ``close()`` (or leaving the ``with`` block) reaps the children.
    """

    def __init__(self, fn: Callable[..., Any], calls: Sequence[tuple]) -> None:
        self._fds: list[int | None] = []
        pipes = [os.pipe() for _ in calls]
        self._pid = _fork()
        if self._pid == 0:                       # the spawner
            _spawner(fn, list(calls), pipes)     # never returns
        for r, w in pipes:
            os.close(w)
            self._fds.append(r)
        if self._pid is None:                    # no fork: every call fails over to the caller
            self.close()

    def result(self, i: int) -> Any | None:
        r, self._fds[i] = self._fds[i], None
        return None if r is None else _read(r)

    def close(self) -> None:
        for i, r in enumerate(self._fds):
            if r is not None:
                self._fds[i] = None
                os.close(r)                      # a writer still running gets EPIPE and exits
        if self._pid:
            os.waitpid(self._pid, 0)
            self._pid = None

    def __enter__(self) -> ForkedCalls:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _fork() -> int | None:
    """``os.fork()``, or None where it fails."""
    try:
        with warnings.catch_warnings():          # "multi-threaded, fork may deadlock": the
            warnings.simplefilter("ignore", DeprecationWarning)   # children take no locks
            return os.fork()                     # that other threads hold (pure Python work)
    except OSError:
        return None


def _spawner(fn, calls: list[tuple], pipes: list[tuple[int, int]]) -> None:
    """Fork a worker per call but the last, run the last here, reap the workers, exit."""
    code = 1
    try:
        for r, _ in pipes:
            os.close(r)
        _single_threaded()
        kids = []
        for i in range(len(calls) - 1):
            pid = _fork()
            if pid == 0:
                for _, w in pipes[i + 1:]:       # EOF on a pipe must mean its writer is done
                    os.close(w)
                _work(fn, calls[i], pipes[i][1])            # never returns
            if pid is not None:
                kids.append(pid)
            os.close(pipes[i][1])                # no fork: the parent reads EOF, runs it
        if calls:
            _run_and_write(fn, calls[-1], pipes[-1][1])
        for pid in kids:
            os.waitpid(pid, 0)
        code = 0
    finally:
        os._exit(code)


def _single_threaded() -> None:
    """The parent's OpenMP thread pool does not survive a fork, and a parallel torch op in
    the child can hang on it: children run torch ops on one thread (their work is small)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _work(fn, args: tuple, w: int) -> None:
    code = 1
    try:
        _run_and_write(fn, args, w)
        code = 0
    finally:
        os._exit(code)


def _run_and_write(fn, args: tuple, w: int) -> None:
    try:
        view = memoryview(pack(fn(*args)))
        while view:
            view = view[os.write(w, view):]
    except Exception:                            # the parent reads a short payload: None
        pass
    finally:
        os.close(w)


def _read(r: int) -> Any | None:
    chunks = []
    try:
        while True:
            b = os.read(r, 1 << 20)
            if not b:
                break
            chunks.append(b)
    finally:
        os.close(r)
    try:
        return unpack(b"".join(chunks)) if chunks else None
    except Exception:                            # truncated: the child failed midway
        return None
