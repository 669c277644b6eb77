"""Encode a pipelined batch's later parts in forked child processes.

Encoding is pure Python, ~70-130 us a program depending on the host's single-core speed:
for 4,096 programs it is as long as the GPU's training of them, so on a slow host the
pipeline (train.evaluate) waits on it. A forked child sees the parent's programs without
any copying (pickling a Program costs as much as encoding it), encodes its slice, and
sends back the encodings, which pickle cheaply (plain tuples, ints and shared column
expressions: ~10 us a program to load). The parent encodes the first part itself meanwhile.

Only where ``os.fork`` exists; a child that fails for any reason makes the parent encode
that slice itself (same result). The children run no CUDA and leave by ``os._exit``, so
they inherit the parent's CUDA context without touching it (as DataLoader workers do).
The pickles are our own children's output over a pipe, never a file a user hands us.
"""

from __future__ import annotations

import os
import pickle
import warnings
from typing import Sequence

from optsearch.evaluate.encode import Encoded, intern_columns
from optsearch.program import Program

MIN_PROGRAMS = 1024
"""Batches smaller than this encode in-process (a fork costs milliseconds)."""


class ForkedEncoding:
    """Encodings of ``slices`` of ``programs``, each made by its own forked child.

    ``result(i)`` returns slice i's encodings (waiting for its child); ``close()`` reaps
    every child. Use as a context manager.
    """

    def __init__(self, programs: Sequence[Program], slices: Sequence[range]) -> None:
        self._programs = programs
        self._slices = list(slices)
        self._kids: list[tuple[int, int] | None] = []       # (pid, read fd) per slice
        for sl in self._slices:
            self._kids.append(_spawn(programs, sl))

    def result(self, i: int) -> list[Encoded]:
        kid, self._kids[i] = self._kids[i], None
        got = _collect(kid) if kid is not None else None
        if got is None or len(got) != len(self._slices[i]):
            from optsearch.evaluate.train import encode_all          # the child failed

            return encode_all([self._programs[j] for j in self._slices[i]])
        return intern_columns(got)

    def close(self) -> None:
        for i, kid in enumerate(self._kids):
            if kid is not None:
                self._kids[i] = None
                _collect(kid)

    def __enter__(self) -> ForkedEncoding:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def available() -> bool:
    return hasattr(os, "fork")


def _spawn(programs: Sequence[Program], sl: range) -> tuple[int, int] | None:
    if not available():
        return None
    r, w = os.pipe()
    try:
        with warnings.catch_warnings():          # "multi-threaded, fork may deadlock": the
            warnings.simplefilter("ignore", DeprecationWarning)    # child takes no locks
            pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return None
    if pid == 0:                                 # the child: encode, write, leave
        code = 1
        try:
            os.close(r)
            from optsearch.evaluate.train import encode_all

            data = pickle.dumps(encode_all([programs[j] for j in sl]),
                                protocol=pickle.HIGHEST_PROTOCOL)
            view = memoryview(data)
            while view:
                view = view[os.write(w, view):]
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    return pid, r


def _collect(kid: tuple[int, int]) -> list[Encoded] | None:
    """Read a child's encodings (None if it failed) and reap it."""
    pid, r = kid
    chunks = []
    try:
        while True:
            b = os.read(r, 1 << 20)
            if not b:
                break
            chunks.append(b)
    finally:
        os.close(r)
        _, status = os.waitpid(pid, 0)
    if status != 0 or not chunks:
        return None
    try:
        return pickle.loads(b"".join(chunks))
    except Exception:                            # a truncated pickle: encode here instead
        return None
