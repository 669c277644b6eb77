"""The search configuration: small frozen dataclasses, one per TOML section.

A run is fully described by a :class:`RunConfig`; it is stored as JSON in the run store,
so ``optsearch resume`` needs nothing but the run directory. Every field can come from a
``run.toml`` file or a command-line flag (see ``optsearch search --help``); unknown keys are
an error that names the key, the section and the valid keys.

Example ``run.toml``::

    seed = 1
    [search]
    population = 64
    generations = 50
    warm_start = "sgd"
    [eval]
    tasks = ["quadratic", "digits_mlp"]
    device = "cuda"
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optsearch.errors import ConfigError


def _f(default: Any, help: str, **extra: Any) -> Any:
    """A dataclass field carrying its help text (used for the CLI flags and the docs)."""
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"help": help, **extra})
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True)
class SearchSection:
    """How programs are bred."""

    algorithm: str = _f("regularized", "regularized (Lion: tournament, oldest dies), "
                        "mu_plus_lambda (DEAP eaMuPlusLambda) or random (random-search control)",
                        choices=("regularized", "mu_plus_lambda", "random"))
    population: int = _f(16, "population size P (mu for mu_plus_lambda)")
    tournament: int = _f(2, "tournament size T (< P)")
    children: int = _f(8, "new programs per generation (lambda; evaluated as one batch)")
    generations: int = _f(30, "generations to run (0 = until another limit)")
    time_budget: float = _f(150.0, "stop after the generation that passes this many seconds "
                            "(0 = no limit; the default keeps the CPU demo near 3 minutes)")
    max_evaluations: int = _f(0, "stop after this many trained programs (0 = no limit)")
    warm_start: str = _f("adamw", "initial program: a known rule, a .opt file, RUN:ID, or 'random'")
    restart_after: int = _f(0, "restart after this many generations without a new best (0 = never)")
    restart_from: str = _f("best", "restart the population from the 'initial' program(s) or the 'best'",
                           choices=("initial", "best"))
    cxpb: float = _f(0.0, "mu_plus_lambda: probability that a child comes from crossover")
    islands: int = _f(1, "island model: this many populations of `population` programs, each "
                      "breeding `children` per generation (1 = off; e.g. one per GPU)")
    migrate_every: int = _f(0, "islands: every this many generations the best of each island "
                            "join the next one (ring; 0 = never)")
    migrants: int = _f(1, "islands: how many best programs migrate each time")


@dataclass(frozen=True)
class MutationSection:
    """What a mutation may do, and limits against bloat."""

    weights: dict = _f({"insert": 1.0, "delete": 1.0, "modify": 1.0, "constant": 1.0,
                        "hyperparam": 0.5, "crossover": 0.0},
                       "relative weights of the mutation kinds (insert delete modify constant "
                       "hyperparam crossover); e.g. constant=1,hyperparam=1 tunes constants only")
    primitives: dict = _f({}, "sampling weight per primitive for new statements "
                          "(overrides the registry's; 0 disables one), e.g. sign=2,exp=0")
    max_statements: int = _f(12, "no insertion into a program of this many statements "
                             "(raised to the initial program's length if that is longer)")
    max_depth: int = _f(8, "reject children with an expression deeper than this "
                        "(raised to the initial program's depth if that is deeper)")
    new_depth: int = _f(2, "maximum depth of a newly drawn expression")
    const_prob: float = _f(0.15, "probability that a new leaf is a constant rather than a name")


@dataclass(frozen=True)
class EvalSection:
    """How a program is scored (passed to the evaluator; None = the evaluator's default)."""

    tasks: list = _f([], "proxy tasks to train on (empty = the evaluator's default set)")
    size: str = _f("small", "task size knob of the evaluator")
    seeds: int = _f(1, "training seeds per program")
    lr_multipliers: list = _f([], "learning-rate multipliers tried per program (empty = default)")
    device: str = _f("cpu", "torch device for training: cpu, cuda, cuda:1 ...")
    baseline_dir: str = _f("", "where tuned-AdamW baselines are cached (empty = default)")
    options: dict = _f({}, "extra EvalConfig fields, e.g. steps=200")
    factory: str = _f("optsearch.search.backends.work:default_evaluator",
                      "module:function building the evaluator from the options (for plug-ins)")
    validity: bool = _f(True, "drop programs that give NaN, a zero update, or ignore g, before training")
    cache: bool = _f(True, "do not train a program functionally equal to one already trained")


@dataclass(frozen=True)
class FunnelSection:
    """Re-evaluation of the best new programs on larger tasks before the hall of fame."""

    k: int = _f(1, "best new programs per generation re-trained on the larger tasks (0 = off)")
    size: str = _f("auto", "task size for the funnel; auto = large on a GPU, the search's "
                   "size on CPU (a large tuned-AdamW baseline takes many minutes on CPU)")
    seeds: int = _f(2, "training seeds for the funnel (fresh ones: 100, 101, ...)")
    min_fitness: float = _f(0.0, "only programs above this search fitness enter the funnel")
    hall_of_fame: int = _f(10, "size of the hall of fame")


@dataclass(frozen=True)
class WorkersSection:
    """Where evaluations run."""

    backend: str = _f("local", "local (in process), pool (multiprocess, CPU), ray (one actor "
                      "per GPU, this machine or a cluster; docs/cluster.md), or a plug-in "
                      "module in optsearch/search/backends/")
    workers: int = _f(1, "worker processes (pool backend)")
    host_workers: int = _f(1, "processes for the per-child host work (fingerprint, validity "
                           "filter; results are identical). On a many-core GPU machine this "
                           "work, not training, limits the search: try 8-16 there")
    chunk: int = _f(0, "programs per evaluation batch (0 = split a generation evenly over workers)")
    pad: bool = _f(False, "fill every batch up to `chunk` programs (repeating its last one) so "
                   "a compiling GPU evaluator sees one batch shape; needs chunk > 0")
    address: str = _f("", "ray backend: the cluster to join, 'auto' (the `ray start` of this "
                      "machine) or HOST:PORT; empty = start a private Ray on this machine")
    gpus: int = _f(0, "ray backend: GPUs to use, one evaluator actor each (0 = every GPU Ray "
                   "sees; with no GPU, `workers` CPU actors)")


SECTIONS: dict[str, type] = {
    "search": SearchSection, "mutation": MutationSection, "eval": EvalSection,
    "funnel": FunnelSection, "workers": WorkersSection,
}
TOP_LEVEL: dict[str, str] = {
    "seed": "random seed of the search (same seed, same run)",
    "runs_dir": "folder holding the runs",
    "name": "run name (the run id is NAME-sSEED-DATE; empty = the warm start's name)",
}


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run."""

    seed: int = 0
    runs_dir: str = "runs"
    name: str = ""
    search: SearchSection = field(default_factory=SearchSection)
    mutation: MutationSection = field(default_factory=MutationSection)
    eval: EvalSection = field(default_factory=EvalSection)
    funnel: FunnelSection = field(default_factory=FunnelSection)
    workers: WorkersSection = field(default_factory=WorkersSection)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> "RunConfig":
        """Build and validate; ``where`` names the source in error messages."""
        return merge(cls(), data, where)

    def replace(self, **sections: dict[str, Any]) -> "RunConfig":
        """Copy with some keys changed: ``cfg.replace(search={"generations": 5}, seed=2)``."""
        return merge(self, sections, "override")


def load_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as e:
        raise ConfigError(f"{p}: cannot read config: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None


def _unknown(key: str, valid: list[str], where: str) -> ConfigError:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"{where}: unknown key {key!r}{hint} (valid keys: {', '.join(valid)})")


def merge(base: RunConfig, data: dict[str, Any], where: str = "config") -> RunConfig:
    """``base`` with the keys of ``data`` (nested by section) applied and validated."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table of keys, got {type(data).__name__}")
    top: dict[str, Any] = {}
    sections = {name: getattr(base, name) for name in SECTIONS}
    for key, value in data.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [{key}] must be a table of keys")
            sections[key] = _merge_section(sections[key], value, f"{where} [{key}]")
        elif key in TOP_LEVEL:
            top[key] = _coerce(key, value, RunConfig.__dataclass_fields__[key], where)
        else:
            raise _unknown(key, list(TOP_LEVEL) + [f"[{s}]" for s in SECTIONS], where)
    cfg = dataclasses.replace(base, **top, **sections)
    validate(cfg, where)
    return cfg


def _merge_section(section: Any, values: dict[str, Any], where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(section)}
    changes = {}
    for key, value in values.items():
        if key not in fields:
            raise _unknown(key, list(fields), where)
        changes[key] = _coerce(key, value, fields[key], where)
    return dataclasses.replace(section, **changes)


def _coerce(key: str, value: Any, f: dataclasses.Field, where: str) -> Any:
    kind = f.type if isinstance(f.type, type) else field_type(f.type)
    bad = ConfigError(f"{where}: {key} = {value!r} must be {kind.__name__}")
    if kind is bool:
        if not isinstance(value, bool):
            raise bad
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise bad
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad
        value = float(value)
    elif kind is str:
        if not isinstance(value, str):
            raise bad
    elif kind is list:
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise bad
    elif kind is dict:
        if not isinstance(value, dict):
            raise bad
        value = dict(value)
    choices = f.metadata.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"{where}: {key} = {value!r} is not one of {', '.join(choices)}")
    return value


def field_type(name: str) -> type:
    """The builtin type named by a postponed annotation string (``from __future__``)."""
    return {"int": int, "float": float, "str": str, "bool": bool, "list": list,
            "dict": dict}[str(name)]


def validate(cfg: RunConfig, where: str = "config") -> None:
    """Cross-field checks, so a bad run fails before it starts rather than mid-run."""
    s, m, f, w = cfg.search, cfg.mutation, cfg.funnel, cfg.workers

    def need(ok: bool, message: str) -> None:
        if not ok:
            raise ConfigError(f"{where}: {message}")

    need(s.population >= 1, f"search.population must be >= 1, got {s.population}")
    need(1 <= s.tournament <= s.population,
         f"search.tournament must be in [1, population={s.population}], got {s.tournament}")
    need(s.children >= 1, f"search.children must be >= 1, got {s.children}")
    need(s.generations >= 0 and s.time_budget >= 0 and s.max_evaluations >= 0,
         "search.generations, time_budget and max_evaluations must be >= 0")
    need(s.generations or s.time_budget or s.max_evaluations,
         "set at least one of search.generations, search.time_budget, search.max_evaluations")
    need(0.0 <= s.cxpb <= 1.0, f"search.cxpb must be in [0, 1], got {s.cxpb}")
    need(s.restart_after >= 0, "search.restart_after must be >= 0")
    valid_kinds = ("insert", "delete", "modify", "constant", "hyperparam", "crossover")
    for k, v in m.weights.items():
        if k not in valid_kinds:
            raise _unknown(k, list(valid_kinds), f"{where} [mutation] weights")
        need(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
             f"mutation.weights.{k} must be a number >= 0, got {v!r}")
    need(any(v > 0 for k, v in m.weights.items() if k != "crossover") or
         s.algorithm == "random", "mutation.weights: at least one mutation kind needs weight > 0")
    from primitives import REGISTRY

    for k, v in m.primitives.items():
        if k not in REGISTRY:
            raise _unknown(k, sorted(REGISTRY), f"{where} [mutation] primitives")
        need(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
             f"mutation.primitives.{k} must be a number >= 0, got {v!r}")
    need(m.max_statements >= 1 and m.max_depth >= 2 and m.new_depth >= 1,
         "mutation.max_statements >= 1, max_depth >= 2 and new_depth >= 1 are required")
    need(0.0 <= m.const_prob <= 1.0, "mutation.const_prob must be in [0, 1]")
    need(cfg.eval.seeds >= 1 and f.seeds >= 1, "eval.seeds and funnel.seeds must be >= 1")
    need(":" in cfg.eval.factory, "eval.factory must read 'module:function'")
    need(f.k >= 0 and f.hall_of_fame >= 1, "funnel.k must be >= 0 and funnel.hall_of_fame >= 1")
    need(w.workers >= 1 and w.chunk >= 0, "workers.workers must be >= 1 and workers.chunk >= 0")
    need(not w.pad or w.chunk > 0, "workers.pad needs workers.chunk > 0 (the batch size to pad to)")
    need(w.backend.isidentifier(), f"workers.backend {w.backend!r} is not a backend name")
    need(not (w.backend == "pool" and cfg.eval.device.startswith("cuda")),
         "workers.backend 'pool' is for CPU workers; on one GPU use 'local' (it batches the "
         "whole generation on the GPU)")
    need(w.gpus >= 0, f"workers.gpus must be >= 0, got {w.gpus}")
    need(s.islands >= 1 and s.migrate_every >= 0,
         "search.islands must be >= 1 and search.migrate_every >= 0")
    need(0 <= s.migrants < s.population,
         f"search.migrants must be in [0, population={s.population}), got {s.migrants}")


def section_fields() -> list[tuple[str, dataclasses.Field]]:
    """``(section, field)`` for every configurable key, in declaration order (CLI flags)."""
    return [(name, f) for name, cls in SECTIONS.items() for f in dataclasses.fields(cls)]

