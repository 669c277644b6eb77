"""The search loop: regularized evolution (Lion paper), eaMuPlusLambda, or random search.

One generation, readable like DEAP's ``eaSimple``::

    children = breed(population)         # uses the run's rng only; ids in creation order
    scorer.score(children)               # store lookup, cache, validity filter, training
    population = replace(population, children)   # oldest die (regularized) / best mu
    funnel.run(generation)               # larger tasks -> hall of fame
    logbook row, checkpoint              # JSON, written atomically

Everything random happens in ``breed``, before any training, and depends only on the
checkpointed state, so re-running a generation after a kill makes exactly the same
children; their finished evaluations are found in the store by id. That is what makes
``optsearch resume`` reproduce an uninterrupted run of the same seed.
"""

from __future__ import annotations

import random
import time
from typing import Any, Callable

import numpy as np
from deap import tools

from optsearch.parse import parse
from optsearch.printer import to_text
from optsearch.program import Program
from optsearch.search.backends import get_backend
from optsearch.search.hostpool import HostPool
from optsearch.search.backends.work import eval_spec
from optsearch.search.cache import FingerprintCache
from optsearch.search.config import RunConfig
from optsearch.search.funnel import Funnel
from optsearch.search.individual import WORST_FITNESS, Individual
from optsearch.search.scoring import Counts, Scorer
from optsearch.search.toolbox import build_toolbox
from optsearch.store.runs import RunStore, new_run_id

CHECKPOINT_VERSION = 1
Progress = Callable[[dict[str, Any]], None]


def eval_options(config: RunConfig, funnel: bool = False) -> dict[str, Any]:
    """Keyword arguments for the evaluator's EvalConfig (empty values = its defaults)."""
    e = config.eval
    # Search seeds are 0..n-1; the funnel re-trains on fresh seeds (100..), so a program
    # that was lucky with its initialisations does not pass on luck twice.
    seeds = list(range(100, 100 + config.funnel.seeds)) if funnel else list(range(e.seeds))
    size = e.size
    if funnel:
        size = config.funnel.size
        if size == "auto":
            size = "large" if e.device.startswith("cuda") else e.size
    opts: dict[str, Any] = {"size": size, "seeds": seeds, "device": e.device}
    if e.tasks:
        opts["tasks"] = list(e.tasks)
    if e.lr_multipliers:
        opts["lr_multipliers"] = list(e.lr_multipliers)
    if e.baseline_dir:
        opts["baseline_dir"] = e.baseline_dir
    opts.update(e.options)
    return opts


def initial_program(warm_start: str) -> Program:
    from optsearch import resolve

    return resolve(warm_start)


class Search:
    """A run in progress. Make one with :meth:`create` or :meth:`resume`, then :meth:`run`."""

    def __new__(cls, config: RunConfig, store: RunStore) -> "Search":
        """``Search(...)`` (so also create/resume) is an IslandSearch when islands > 1."""
        if cls is Search and config.search.islands > 1:
            from optsearch.search.islands import IslandSearch

            return super().__new__(IslandSearch)
        return super().__new__(cls)

    def __init__(self, config: RunConfig, store: RunStore) -> None:
        self.config = config
        self.store = store
        self.rng = random.Random(config.seed)
        self.warm = None if config.search.warm_start == "random" else \
            initial_program(config.search.warm_start)
        self.toolbox = build_toolbox(config, self.rng, self.warm)
        w = config.workers
        self.backend = get_backend(w.backend, w.workers, address=w.address, gpus=w.gpus)
        self.toolbox.register("map", self.backend.map)
        self.cache = FingerprintCache(config.eval.cache)
        factory = config.eval.factory
        self.host = HostPool(w.host_workers).start()
        self.scorer = Scorer(store, self.backend, self.cache,
                             eval_spec(factory, eval_options(config)), config.workers.chunk,
                             config.eval.validity, config.workers.pad, host=self.host)
        self.funnel = Funnel.build(store, self.backend, eval_spec(factory, eval_options(config, True)),
                                   config.funnel.k, config.funnel.min_fitness,
                                   config.funnel.hall_of_fame, config.workers.pad)
        self.stats = tools.Statistics(key=lambda ind: ind.score)
        for name, fn in (("max", np.max), ("mean", np.mean), ("median", np.median)):
            self.stats.register(name, fn)
        self.logbook = tools.Logbook()
        self.generation = -1  # last finished generation
        self.next_id = 0
        self.population: list[Individual] = []
        self.initial: list[Individual] = []
        self.best: Individual | None = None
        self.stagnation = 0
        self.restarts = 0
        self.totals = Counts()
        self.elapsed_before = 0.0
        self._t0 = time.perf_counter()
        self._gen_counts = Counts()  # counts of the generation being finished
        self._improved = False  # did the generation being finished find a new best?
        self._trained_at_start = 0  # for evaluations/s of this session

    # ----- construction ------------------------------------------------------------
    @classmethod
    def create(cls, config: RunConfig, run_id: str | None = None) -> "Search":
        """A new run in ``config.runs_dir`` (resolving the warm start first, so a bad one
        fails before any folder is made)."""
        if config.search.warm_start != "random":
            initial_program(config.search.warm_start)
        name = config.name or config.search.warm_start.rsplit("/", 1)[-1].removesuffix(".opt")
        run_id = run_id or new_run_id(config.runs_dir, name.replace(":", "-"), config.seed)
        store = RunStore.create(config.runs_dir, run_id, config.to_dict())
        return cls(config, store)

    @classmethod
    def resume(cls, target: str, runs_dir: str = "runs",
               changes: dict[str, Any] | None = None) -> "Search":
        """Reopen a run (taking its lock) at its last checkpoint; ``changes`` may extend
        the stopping limits or change the workers."""
        store = RunStore.open(target, runs_dir, writable=True)
        try:
            config = RunConfig.from_dict(store.config(), where=f"run {store.run_id}")
            if changes:
                config = config.replace(**changes)
                store.set_config(config.to_dict())
            search = cls(config, store)
            checkpoint = store.load_checkpoint()
            if checkpoint is not None:
                search._restore(checkpoint)
        except BaseException:
            store.close()
            raise
        return search

    # ----- the loop ----------------------------------------------------------------
    def run(self, progress: Progress | None = None) -> "Search":
        """Run generations until a limit is reached; returns self (see :meth:`summary`)."""
        self.scorer.on_job = (lambda ev: progress({"event": "job", **ev})) if progress else None
        self.store.set_meta("status", "running")
        try:
            if self.generation < 0:
                self._initial_generation()
                self._finish_generation(progress)
            while not self._should_stop():
                self._generation()
                self._finish_generation(progress)
            self.store.set_meta("status", "finished")
        except BaseException:
            self.store.set_meta("status", "interrupted")
            raise
        finally:
            self.backend.close()
            self.host.close()
        return self

    def close(self) -> None:
        self.backend.close()
        self.host.close()
        self.store.close()

    def _should_stop(self) -> bool:
        s = self.config.search
        return bool((s.generations and self.generation >= s.generations)
                    or (s.time_budget and self.elapsed() >= s.time_budget)
                    or (s.max_evaluations and self.totals.trained >= s.max_evaluations))

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self._t0

    def _new(self, program: Program, parents: tuple[int, ...], mutation: str) -> Individual:
        pid = self.next_id
        self.next_id += 1
        if mutation != "init":
            program = Program(f"p{pid}", program.hyperparams, program.body, program.ret)
        return Individual(program, pid, generation=self.generation + 1, parents=parents,
                          mutation=mutation)

    def _initial_generation(self) -> None:
        s = self.config.search
        if s.warm_start == "random":
            firsts = [self._new(self.toolbox.random_program(name="p0"), (), "random")
                      for _ in range(s.population)]
        else:
            assert self.warm is not None
            firsts = [self._new(self.warm, (), "init")]
        self._score(firsts)
        self.initial = firsts
        self.population = [firsts[i % len(firsts)] for i in range(s.population)]

    def _generation(self) -> None:
        children = self._breed()
        self._score(children)
        self.population = self._replace(self.population, children)

    def _replace(self, population: list[Individual],
                 newcomers: list[Individual]) -> list[Individual]:
        """The population after ``newcomers`` (children, or migrants between islands) arrive."""
        s = self.config.search
        if s.algorithm == "mu_plus_lambda":
            return self.toolbox.select_best(population + newcomers, s.population)
        population = list(population)
        for child in newcomers:  # regularized and random: the child joins, the oldest dies
            population.append(child)
            population.pop(0)
        return population

    def _breed(self) -> list[Individual]:
        """The generation's children; all randomness of a generation happens here."""
        s, tb = self.config.search, self.toolbox
        weights = self.config.mutation.weights
        total = sum(weights.values())
        p_cx = s.cxpb if s.algorithm == "mu_plus_lambda" else \
            (weights.get("crossover", 0.0) / total if total else 0.0)
        children = []
        for _ in range(s.children):
            if s.algorithm == "random":
                children.append(self._new(tb.random_program(), (), "random"))
                continue
            pick = tb.select if s.algorithm == "regularized" else tb.select_random
            parent = pick(self.population)
            if p_cx > 0 and self.rng.random() < p_cx:
                other = pick(self.population)
                program = tb.mate(parent.program, other.program)
                if program is not None:
                    children.append(self._new(program, (parent.id, other.id), "crossover"))
                    continue
            program, kind = tb.mutate(parent.program)
            children.append(self._new(program, (parent.id,), kind))
        return children

    def _score(self, children: list[Individual]) -> None:
        counts = self.scorer.score(children, self.generation + 1)
        self._gen_counts = counts
        self.totals.add(counts)
        for child in children:
            if self.best is None or child.score > self.best.score:
                self.best = child
                self._improved = True

    def _finish_generation(self, progress: Progress | None) -> None:
        self.generation += 1
        g = self.generation
        if self._improved or g == 0:
            self.stagnation = 0
        else:
            self.stagnation += 1
        self._improved = False
        self.funnel.run(g)
        s = self.config.search
        restarted = bool(g > 0 and s.restart_after and self.stagnation >= s.restart_after)
        if restarted:
            self._restart()
        c, t = self._gen_counts, self.totals
        record = {"gen": g, "programs": c.programs, "trained": c.trained, "hits": c.hits,
                  "invalid": c.invalid, "total_programs": t.programs,
                  "total_trained": t.trained,
                  "hit_rate": round(t.hits / t.programs, 6) if t.programs else 0.0,
                  **{k: float(v) for k, v in self.stats.compile(self.population).items()},
                  "best": self.best.score if self.best else WORST_FITNESS,
                  "best_id": self.best.id if self.best else None,
                  "hof": self.funnel.hof[0].score if len(self.funnel.hof) else None,
                  "restarts": self.restarts}
        self.logbook.record(**record)
        elapsed = self.elapsed()
        self.store.finish_generation(g, record, elapsed, self.funnel.table())
        self.store.save_checkpoint(self._checkpoint(elapsed))
        if progress is not None:
            progress({"event": "generation", "record": record, "elapsed": elapsed,
                      "trained_session": t.trained - self._trained_at_start,
                      "session_seconds": time.perf_counter() - self._t0,
                      "best_text": to_text(self.best.program) if self.best else "",
                      "run_id": self.store.run_id})

    def _restart(self) -> None:
        """Lion's restarts: from the initial program(s) (exploration) or the best (exploitation)."""
        s = self.config.search
        source = self.initial if s.restart_from == "initial" or self.best is None else [self.best]
        self.population = [source[i % len(source)] for i in range(s.population)]
        self.restarts += 1
        self.stagnation = 0

    # ----- checkpoint --------------------------------------------------------------
    def _checkpoint(self, elapsed: float) -> dict[str, Any]:
        version, internal, gauss = self.rng.getstate()
        t = self.totals
        return {"version": CHECKPOINT_VERSION, "generation": self.generation,
                "next_id": self.next_id, "rng": [version, list(internal), gauss],
                "population": [i.id for i in self.population],
                "initial": [i.id for i in self.initial],
                "best": self.best.id if self.best else None,
                "stagnation": self.stagnation, "restarts": self.restarts,
                "totals": {"programs": t.programs, "trained": t.trained, "hits": t.hits,
                           "invalid": t.invalid},
                "hall_of_fame": self.funnel.entries(), "elapsed": elapsed}

    def _restore(self, ck: dict[str, Any]) -> None:
        from optsearch.errors import StoreError

        if ck.get("version") != CHECKPOINT_VERSION:
            raise StoreError(f"run {self.store.run_id}: checkpoint version {ck.get('version')} "
                             f"is not {CHECKPOINT_VERSION}")
        self.generation = ck["generation"]
        self.next_id = ck["next_id"]
        version, internal, gauss = ck["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        ids = set(ck["population"]) | set(ck["initial"]) | ({ck["best"]} - {None})
        rows = {r.id: r for r in self.store.programs(
            f"id IN ({', '.join(str(int(i)) for i in sorted(ids))})")}
        made: dict[int, Individual] = {}

        def ind(pid: int) -> Individual:
            if pid not in made:
                r = rows[pid]
                parents = tuple(p for p in (r.parent_id, r.parent2_id) if p is not None)
                made[pid] = Individual(parse(r.text), pid, r.fingerprint, r.generation, parents,
                                       r.mutation).scored(r.fitness)
            return made[pid]

        self.population = [ind(i) for i in ck["population"]]
        self.initial = [ind(i) for i in ck["initial"]]
        self.best = ind(ck["best"]) if ck["best"] is not None else None
        self.stagnation, self.restarts = ck["stagnation"], ck["restarts"]
        t = ck["totals"]
        self.totals = Counts(programs=t["programs"], trained=t["trained"], hits=t["hits"],
                             invalid=t["invalid"])
        self._trained_at_start = self.totals.trained
        self.elapsed_before = float(ck["elapsed"])
        for r in self.store.programs("generation <= ? AND cached_from IS NULL",
                                     (self.generation,)):
            self.cache.add(r.fingerprint, r.id)
        self.funnel.restore([(int(i), float(f)) for i, f in ck["hall_of_fame"]])
        self.store.truncate_logbook(self.generation)
        for record in self.store.logbook():
            self.logbook.record(**record)

    # ----- results -----------------------------------------------------------------
    def summary(self, top: int = 5) -> dict[str, Any]:
        """Best programs by search fitness and the hall of fame, for printing."""
        best = self.store.programs("cached_from IS NULL", order="fitness DESC, id", limit=top)
        return {"run_id": self.store.run_id, "generations": self.generation,
                "trained": self.totals.trained, "programs": self.totals.programs,
                "hit_rate": self.totals.hits / self.totals.programs if self.totals.programs else 0,
                "best": [(r.id, r.fitness, r.text) for r in best],
                "hall_of_fame": self.store.hall_of_fame()}
