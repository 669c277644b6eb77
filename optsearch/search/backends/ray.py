"""Ray backend: one evaluator actor per GPU (or per CPU slot), on this machine or a cluster.

Each actor is a long-lived process that builds the batched evaluator for a spec once (see
:func:`optsearch.search.backends.work.evaluator_for`) and reuses it for every batch. The
driver (the process running the search) keeps the run store and hands out jobs: only
program text, the evaluator spec (JSON) and the scoring function's import path travel to
the actors, and plain dicts of scores come back.

Faults: an actor that dies (its process killed, its node lost, a CUDA error that poisons
its context) has its batch put back at the head of the queue for the next free actor, and
a replacement actor is started in its slot. Results are still yielded in job order, so the
search records every evaluation exactly once. An actor whose optsearch version (or
primitive set) differs from the driver's is refused at start, with the host named.

Usage: ``optsearch search --backend ray [--address auto|HOST:PORT] [--gpus N]``; see
docs/cluster.md.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from optsearch.errors import ConfigError, OptsearchError

START_TIMEOUT = 300.0
"""Seconds an actor may take to be placed and answer its handshake (a cluster may need
to start a node, and a first CUDA context takes a while)."""

MAX_ATTEMPTS = 3
"""A job whose actor died this many times is not bad luck but a program or a node that
kills workers; the run stops rather than losing actors forever."""

_DEVICE_FAULT = re.compile(r"CUDA error|CUDA out of memory|CUBLAS_STATUS|CUDNN_STATUS|"
                           r"cuDNN error|device-side assert|NCCL error|AcceleratorError|"
                           r"OutOfMemoryError")
"""Messages (and torch error types) of faults that leave a GPU process unusable, as
opposed to ordinary errors that would fail the same way anywhere."""


class BackendError(OptsearchError):
    """The Ray backend cannot go on (no actor left, refused worker, cluster too small)."""


class VersionMismatch(BackendError):
    """A Ray worker runs another optsearch than the driver."""


def import_ray() -> Any:
    """``ray``, or a ConfigError saying how to install it (Ray is an optional extra)."""
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray backend needs Ray, which is not installed: "
                          "pip install 'optsearch[ray]'") from None
    return ray


def identity() -> dict[str, str]:
    """What driver and workers must agree on: the optsearch version and the primitive set
    (a development checkout can change primitives without changing the version)."""
    import optsearch
    from primitives import REGISTRY

    names = ",".join(sorted(REGISTRY))
    return {"version": optsearch.__version__,
            "primitives": hashlib.sha256(names.encode()).hexdigest()[:16]}


def check_identity(worker: dict[str, Any], expected: dict[str, str]) -> None:
    """Raise :class:`VersionMismatch` naming the worker if it differs from ``expected``."""
    where = f"Ray worker on {worker.get('host', '?')} (pid {worker.get('pid', '?')})"
    if worker.get("version") != expected["version"]:
        raise VersionMismatch(
            f"{where} runs optsearch {worker.get('version')} but this driver runs "
            f"{expected['version']}: install the same optsearch version on every node")
    if worker.get("primitives") != expected["primitives"]:
        raise VersionMismatch(
            f"{where} has another primitive set than this driver (same version "
            f"{expected['version']}, different checkout): install the same optsearch on "
            "every node")


def function_path(fn: Callable) -> str:
    """``module:qualname`` of a module-level function, the only form a job's function
    travels in (so no code is pickled to the workers)."""
    module, name = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or "<" in name or "." in name:
        raise ConfigError(f"the ray backend runs module-level functions only, got {fn!r}")
    return f"{module}:{name}"


def resolve_function(path: str) -> Callable:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def is_device_fault(error: BaseException) -> bool:
    """A task error that leaves the actor's GPU unusable (restart the actor, retry the job)."""
    return bool(_DEVICE_FAULT.search(f"{type(error).__name__}: {error}"))


class EvalActor:
    """The worker side: one per GPU or CPU slot (wrapped with ``ray.remote`` on start)."""

    def __init__(self, threads: int = 1) -> None:
        import torch

        torch.set_num_threads(max(1, threads))

    def hello(self) -> dict[str, Any]:
        """The handshake: who this worker is and what it runs."""
        import ray
        import torch

        cuda = torch.cuda.is_available()
        return {**identity(), "pid": os.getpid(), "host": socket.gethostname(),
                "gpus": [str(g) for g in ray.get_gpu_ids()], "cuda": cuda,
                "device": torch.cuda.get_device_name(0) if cuda else "cpu"}

    def run(self, path: str, job: Any) -> Any:
        return resolve_function(path)(job)


@dataclass
class Slot:
    """A place for one actor (a GPU or a CPU slot); its actor may be replaced."""

    index: int
    actor: Any = None
    info: dict[str, Any] = field(default_factory=dict)  # handshake reply
    alive: bool = False
    restarts: int = 0


class RayBackend:
    """Ordered ``map`` over Ray actors (see the module docstring)."""

    name = "ray"

    def __init__(self, workers: int = 1, address: str = "", gpus: int = 0, *,
                 max_restarts: int = 3, start_timeout: float = START_TIMEOUT,
                 expected: dict[str, str] | None = None) -> None:
        self._ray = import_ray()
        self.address, self.gpus = address, gpus
        self.max_restarts, self.start_timeout = max_restarts, start_timeout
        self.expected = expected or identity()
        self.requested_workers = max(1, workers)
        self.deaths = self.requeued = self.restarted = 0
        self.last_error = ""
        self._owns_ray = False
        self._slots: list[Slot] = []
        self._starting: dict[Any, tuple[Slot, float]] = {}  # hello ref -> (slot, deadline)
        self._start()
        self.workers = len(self._slots)

    # ----- start / stop ------------------------------------------------------------
    def _connect(self) -> None:
        ray = self._ray
        if ray.is_initialized():
            return
        quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": "warning"}
        if self.address:
            ray.init(address=self.address, **quiet)
        else:
            import torch

            visible = torch.cuda.device_count()
            if self.gpus > visible:
                raise ConfigError(f"workers.gpus = {self.gpus} but this machine has {visible} "
                                  "visible GPU(s)")
            use = self.gpus or visible
            # Only our actors run on this Ray: one CPU each is all it needs.
            ray.init(num_cpus=max(1, use or self.requested_workers), num_gpus=use, **quiet)
        self._owns_ray = True

    def _start(self) -> None:
        self._connect()
        total_gpus = int(self._ray.cluster_resources().get("GPU", 0))
        if self.gpus > total_gpus:
            raise ConfigError(f"workers.gpus = {self.gpus} but the Ray cluster has "
                              f"{total_gpus} GPU(s)")
        self.uses_gpus = total_gpus > 0
        n = (self.gpus or total_gpus) if self.uses_gpus else self.requested_workers
        self._slots = [Slot(i) for i in range(n)]
        for slot in self._slots:
            self._spawn(slot)
        refs = list(self._starting)
        ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=self.start_timeout)
        if len(ready) < len(refs):
            self.close()
            need = "1 GPU" if self.uses_gpus else "1 CPU"
            raise BackendError(f"Ray placed only {len(ready)} of {n} evaluator actors "
                               f"(needing {need} each) within {self.start_timeout:.0f} s; "
                               f"cluster resources: {self._ray.cluster_resources()}")
        try:
            for ref in refs:
                self._greet(ref, restart=False)
        except BaseException:
            self.close()
            raise
        failed = [s for s in self._slots if not s.alive]
        if failed:  # a node that cannot even start a worker is misconfigured: say so now
            self.close()
            raise BackendError(f"{len(failed)} of {n} Ray evaluator actors failed to start "
                               f"(is optsearch installed on every node?): {self.last_error}")

    def _spawn(self, slot: Slot) -> None:
        remote = self._ray.remote(EvalActor)
        resources = {"num_cpus": 1, "num_gpus": 1 if self.uses_gpus else 0}
        slot.actor = remote.options(max_restarts=0, **resources).remote(threads=1)
        slot.alive = False
        self._starting[slot.actor.hello.remote()] = (slot, time.monotonic() + self.start_timeout)

    def _greet(self, ref: Any, restart: bool = True) -> None:
        """Finish a handshake: the slot's actor is usable, or refused, or dead."""
        slot, _ = self._starting.pop(ref)
        try:
            info = self._ray.get(ref)
        except self._ray.exceptions.RayError as e:
            self._lost(slot, e, restart)
            return
        try:
            check_identity(info, self.expected)
        except VersionMismatch:
            self._ray.kill(slot.actor)
            slot.actor = None
            raise
        slot.info, slot.alive = info, True

    def _lost(self, slot: Slot, error: BaseException, restart: bool = True) -> None:
        """An actor died: count it and start a replacement while restarts remain."""
        self.deaths += 1
        self.last_error = f"{type(error).__name__}: {error}"[:1000]
        slot.alive = False
        try:
            self._ray.kill(slot.actor)
        except Exception:  # already gone
            pass
        slot.actor = None
        slot.info = {}
        if restart and slot.restarts < self.max_restarts:
            slot.restarts += 1
            self.restarted += 1
            self._spawn(slot)

    def close(self) -> None:
        """Kill the actors, and stop Ray if this backend started it (idempotent)."""
        for slot in self._slots:
            if slot.actor is not None:
                try:
                    self._ray.kill(slot.actor)
                except Exception:
                    pass
                slot.actor, slot.alive = None, False
        self._starting.clear()
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns_ray = False

    # ----- work --------------------------------------------------------------------
    def wait_ready(self, timeout: float | None = None) -> list[dict[str, Any]]:
        """Finish pending actor start-ups (replacements of dead actors), then :meth:`actors`.

        Replacements otherwise finish their handshake during the next ``map``.
        """
        end = time.monotonic() + (self.start_timeout if timeout is None else timeout)
        while self._starting and time.monotonic() < end:
            ready, _ = self._ray.wait(list(self._starting), num_returns=1,
                                      timeout=max(0.0, end - time.monotonic()))
            for ref in ready:
                self._greet(ref)
        return self.actors()

    def actors(self) -> list[dict[str, Any]]:
        """Handshake info of the live actors (pid, host, gpus, version)."""
        return [dict(s.info, slot=s.index) for s in self._slots if s.alive]

    def map(self, fn: Callable, jobs: Sequence) -> Iterator:
        path = function_path(fn)
        if not any(s.actor is not None for s in self._slots):  # closed, then used again
            self._start()
        return self._run(path, list(jobs))

    def _run(self, path: str, jobs: list) -> Iterator:
        ray = self._ray
        queue = deque(range(len(jobs)))
        attempts = [0] * len(jobs)
        done: dict[int, Any] = {}
        running: dict[Any, tuple[Slot, int]] = {}  # task ref -> (slot, job index)
        idle = deque(s for s in self._slots if s.alive)
        next_out = 0
        while next_out < len(jobs):
            if next_out in done:
                yield done.pop(next_out)
                next_out += 1
                continue
            while queue and idle:
                slot, index = idle.popleft(), queue.popleft()
                if not slot.alive:
                    queue.appendleft(index)
                    continue
                attempts[index] += 1
                running[slot.actor.run.remote(path, jobs[index])] = (slot, index)
            if not running and not self._starting:
                raise BackendError(f"all {len(self._slots)} Ray evaluator actors died and "
                                   f"could not be restarted; last error: {self.last_error}")
            ready, _ = ray.wait(list(running) + list(self._starting), num_returns=1,
                                timeout=5.0)
            if not ready:
                self._expire_starts()
                continue
            ref = ready[0]
            if ref in self._starting:
                slot = self._starting[ref][0]
                self._greet(ref)
                if slot.alive:
                    idle.append(slot)
                continue
            slot, index = running.pop(ref)
            try:
                done[index] = ray.get(ref)
                idle.append(slot)
                continue
            except self._lost_worker_errors() as e:
                error: BaseException = e
            except ray.exceptions.RayTaskError as e:
                cause = e.cause if e.cause is not None else e
                if isinstance(cause, OptsearchError):  # bad input: its own clear message
                    raise cause from None
                if not is_device_fault(cause):
                    raise e.as_instanceof_cause() from None
                error = cause
            self._lost(slot, error)
            if attempts[index] >= MAX_ATTEMPTS:
                raise BackendError(f"job {index} lost its Ray actor {attempts[index]} times; "
                                   f"last error: {error}")
            self.requeued += 1
            queue.appendleft(index)

    def _lost_worker_errors(self) -> tuple[type[BaseException], ...]:
        """Ray's errors for a task whose worker process or node went away."""
        names = ("RayActorError", "WorkerCrashedError", "OutOfMemoryError", "NodeDiedError")
        return tuple(getattr(self._ray.exceptions, n) for n in names
                     if hasattr(self._ray.exceptions, n))

    def _expire_starts(self) -> None:
        """Give up on replacement actors that Ray could not place in time."""
        now = time.monotonic()
        for ref, (slot, deadline) in list(self._starting.items()):
            if now > deadline:
                del self._starting[ref]
                self._lost(slot, BackendError("replacement actor not placed in time"))


def make_backend(workers: int = 1, address: str = "", gpus: int = 0) -> RayBackend:
    return RayBackend(workers, address, gpus)
