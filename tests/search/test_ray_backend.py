"""The Ray backend on CPU: same results as in process, faults survived, versions checked.

One Ray session (2 CPUs) and one 2-actor backend serve the whole module, because starting
actors is the slow part; searches borrow that backend instead of starting their own.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from optsearch.errors import ConfigError  # noqa: E402
from optsearch.search import RunConfig, Search  # noqa: E402
from optsearch.search import evolution  # noqa: E402
from optsearch.search.backends import get_backend  # noqa: E402
from optsearch.search.backends.ray import (BackendError, RayBackend, VersionMismatch,  # noqa: E402
                                           check_identity, function_path, identity,
                                           import_ray, is_device_fault)
from tests.search.standin import make as make_standin  # noqa: E402

REPO = str(Path(__file__).resolve().parents[2])


# ----- job functions and evaluators the actors import from this module ---------------
def square_job(job: int) -> int:
    return job * job


def failing_job(job: int) -> int:
    raise ValueError(f"bad job {job}")


def cuda_fault_once(job: tuple[str, int]) -> int:
    """Fails like a poisoned CUDA context the first time it runs (a marker file says so)."""
    marker, value = job
    if value == 1 and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        raise RuntimeError("CUDA error: an illegal memory access was encountered")
    return value * 10


class Announcing:
    """The stand-in evaluator, writing its pid to ``starts`` as each batch begins, so a
    test knows which actor is busy; ``delay`` keeps it busy long enough to be killed."""

    def __init__(self, options: dict) -> None:
        options = dict(options)
        self.starts = options.pop("starts")
        self.inner = make_standin(options)

    def score(self, programs):
        with open(self.starts, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
        return self.inner.score(programs)


def make_announcing(options: dict) -> Announcing:
    return Announcing(options)


# ----- fixtures ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_session():
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False,
             logging_level="warning", runtime_env={"env_vars": {"PYTHONPATH": REPO}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def backend(ray_session):
    b = RayBackend(workers=2, start_timeout=120)
    yield b
    b.close()


class Borrowed:
    """The module's backend lent to one search: the search's close() must not kill it."""

    name = "ray"

    def __init__(self, inner: RayBackend) -> None:
        self.inner, self.workers = inner, inner.workers

    def map(self, fn, jobs):
        return self.inner.map(fn, jobs)

    def close(self) -> None:
        pass


def config(tmp: Path, backend: str = "local", factory: str = "tests.search.standin:make",
           options: dict | None = None, **search) -> RunConfig:
    return RunConfig.from_dict({
        "seed": 5, "runs_dir": str(tmp),
        "search": {"population": 6, "tournament": 2, "children": 4, "generations": 4, **search},
        "eval": {"factory": factory, "options": options or {}},
        "funnel": {"k": 1, "size": "small", "seeds": 1},
        "workers": {"backend": backend, "workers": 2}})


def run_search(cfg: RunConfig, lend: RayBackend | None = None, monkeypatch=None) -> Search:
    """Run to the end; ``search.rows`` holds every stored program (id, text, scores)."""
    if lend is not None:
        monkeypatch.setattr(evolution, "get_backend", lambda *a, **k: Borrowed(lend))
    search = Search.create(cfg)
    try:
        search.run()
        search.rows = [(r.id, r.text, r.fitness, r.per_task, r.failure, r.cached_from)
                       for r in search.store.programs(order="id")]
    finally:
        search.close()
    return search


# ----- no Ray needed -------------------------------------------------------------------
def test_identity_mismatch_names_host_and_versions():
    mine = identity()
    check_identity({**mine, "host": "n1", "pid": 7}, mine)
    with pytest.raises(VersionMismatch, match=r"n1 \(pid 7\) runs optsearch 9\.9 but this "
                                              r"driver runs .*same optsearch version"):
        check_identity({**mine, "version": "9.9", "host": "n1", "pid": 7}, mine)
    with pytest.raises(VersionMismatch, match="primitive set"):
        check_identity({**mine, "primitives": "0" * 16}, mine)


def test_only_module_level_functions_travel():
    assert function_path(square_job) == f"{__name__}:square_job"
    with pytest.raises(ConfigError, match="module-level"):
        function_path(lambda job: job)


def test_device_faults_are_told_from_program_errors():
    assert is_device_fault(RuntimeError("CUDA error: an illegal memory access"))
    assert is_device_fault(RuntimeError("CUBLAS_STATUS_EXECUTION_FAILED when calling x"))
    assert is_device_fault(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert not is_device_fault(ValueError("bad job 3"))
    assert not is_device_fault(RuntimeError("Expected all tensors to be on the same device, "
                                            "but found cuda:0 and cpu"))


def test_missing_ray_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r"pip install 'optsearch\[ray\]'"):
        import_ray()


def test_ray_options_rejected_by_other_backends():
    with pytest.raises(ConfigError, match="address is not an option of the 'local' backend"):
        get_backend("local", 1, address="auto")


# ----- with Ray (the test with its own backend first: the shared actors take both CPUs) -
def test_worker_of_another_version_is_refused(ray_session):
    with pytest.raises(VersionMismatch, match=r"runs optsearch 0\.1\.0 but this driver runs "
                                              r"0\.0\.0-old"):
        RayBackend(workers=1, start_timeout=60,
                   expected={**identity(), "version": "0.0.0-old"})


def test_map_keeps_job_order_and_passes_program_errors(backend):
    assert list(backend.map(square_job, list(range(7)))) == [i * i for i in range(7)]
    with pytest.raises(ValueError, match="bad job [01]"):
        list(backend.map(failing_job, [0, 1]))
    assert len(backend.actors()) == 2 and backend.deaths == 0


@pytest.mark.parametrize("islands", [1, 2])
def test_same_logbook_as_in_process(tmp_path, backend, monkeypatch, islands):
    extra = {"islands": islands, "migrate_every": 2} if islands > 1 else {}
    local = run_search(config(tmp_path / "local", **extra))
    remote = run_search(config(tmp_path / "ray", backend="ray", **extra), backend, monkeypatch)
    assert len(local.logbook) == 5
    assert list(remote.logbook) == list(local.logbook)
    assert remote.rows == local.rows
    assert remote.funnel.entries() == local.funnel.entries()


def test_cuda_error_restarts_the_actor_and_requeues(tmp_path, backend):
    deaths, requeued = backend.deaths, backend.requeued
    marker = str(tmp_path / "faulted")
    jobs = [(marker, v) for v in range(4)]
    assert list(backend.map(cuda_fault_once, jobs)) == [0, 10, 20, 30]
    assert Path(marker).exists()
    assert backend.deaths == deaths + 1 and backend.requeued == requeued + 1


def test_killed_actor_mid_run_loses_nothing(tmp_path, backend, monkeypatch):
    reference = run_search(config(tmp_path / "local"))
    starts = tmp_path / "starts"
    starts.touch()
    cfg = config(tmp_path / "ray", backend="ray", factory=f"{__name__}:make_announcing",
                 options={"delay": 0.15, "starts": str(starts)})
    actor_pids = {a["pid"] for a in backend.actors()}
    deaths, requeued = backend.deaths, backend.requeued
    killed: list[int] = []

    def kill_a_busy_actor() -> None:  # mid-run: once five batches have begun
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pids = [int(x) for x in starts.read_text().split()]
            if len(pids) >= 5 and pids[-1] in actor_pids:
                os.kill(pids[-1], signal.SIGKILL)
                killed.append(pids[-1])
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_a_busy_actor)
    killer.start()
    remote = run_search(cfg, backend, monkeypatch)
    killer.join()
    assert killed, "the run ended before an actor could be killed"
    assert backend.deaths == deaths + 1 and backend.requeued >= requeued + 1
    assert killed[0] not in {a["pid"] for a in backend.actors()}
    rows = remote.rows
    assert [r[0] for r in rows] == list(range(remote.next_id))  # every program once
    assert rows == reference.rows
    assert list(remote.logbook) == list(reference.logbook)
    assert len(backend.wait_ready()) == 2  # the dead actor was replaced


def test_all_actors_lost_is_a_clear_error(backend):
    """Last, as it uses up the shared actors (a later map would start new ones)."""
    backend.max_restarts = 0
    for actor in backend.wait_ready():
        os.kill(actor["pid"], signal.SIGKILL)
    with pytest.raises(BackendError, match="all 2 Ray evaluator actors died"):
        list(backend.map(square_job, [1, 2, 3]))
