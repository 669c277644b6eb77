"""The unit of work every backend runs: score a list of program texts.

``score_job((spec_json, texts))`` parses the texts, builds (once per process and spec)
the evaluator the spec names, scores the programs in one batch and returns plain dicts,
so results travel as easily as jobs do.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import time
from typing import Any, Callable

from optsearch.parse import parse
from optsearch.search.individual import WORST_FITNESS

_EVALUATORS: dict[str, Any] = {}
"""Per-process evaluators by spec: building one can load data and baselines, so it is
done once per worker, not once per job."""


def eval_spec(factory: str, options: dict[str, Any]) -> str:
    """The JSON spec a job carries: which evaluator factory, with which options."""
    return json.dumps({"factory": factory, "options": options}, sort_keys=True)


def load_factory(path: str) -> Callable[[dict[str, Any]], Any]:
    """``module:function`` -> the function (modules are imported, never exec'd)."""
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr)
    except (ImportError, AttributeError) as e:
        from optsearch.errors import ConfigError

        raise ConfigError(f"eval.factory {path!r} cannot be loaded: {e}") from None


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def default_evaluator(options: dict[str, Any]) -> Any:
    """The batched evaluator of :mod:`optsearch.evaluate` for ``EvalConfig(**options)``
    (JSON lists become the tuples EvalConfig holds; bad options name the field)."""
    import dataclasses as dc

    from optsearch.errors import ConfigError
    from optsearch.evaluate import EvalConfig, Evaluator

    valid = [f.name for f in dc.fields(EvalConfig)]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(f"[eval] options: unknown EvalConfig field(s) {unknown} "
                          f"(valid: {', '.join(valid)})")
    try:
        return Evaluator(EvalConfig(**{k: _tuples(v) for k, v in options.items()}))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"[eval]: {e}") from None


def evaluator_for(spec_json: str) -> Any:
    ev = _EVALUATORS.get(spec_json)
    if ev is None:
        spec = json.loads(spec_json)
        ev = load_factory(spec["factory"])(spec["options"])
        if len(_EVALUATORS) >= 4:  # search + funnel specs, with room to spare
            _EVALUATORS.pop(next(iter(_EVALUATORS)))
        _EVALUATORS[spec_json] = ev
    return ev


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return _clean(value.item())
    return value


def score_to_dict(score: Any) -> dict[str, Any]:
    """An evaluator ``Score`` as JSON-ready data (non-finite numbers become null)."""
    fitness = float(score.fitness)
    per_task = [_clean(dataclasses.asdict(t) if dataclasses.is_dataclass(t) else dict(t))
                for t in score.per_task]
    failure = score.failure
    if not math.isfinite(fitness):
        fitness, failure = WORST_FITNESS, failure or "non-finite fitness"
    return {"fitness": fitness, "per_task": per_task, "failure": failure}


def score_job(job: tuple[str, list[str]]) -> tuple[list[dict[str, Any]], float]:
    """Score the programs of one job; returns ``(scores, wall seconds)``.

    If the batch raises, each program is scored alone: one that still raises scores worst
    with the error as its failure (so a single pathological program cannot stop a search
    for ever), and if every program raises the original error propagates (the evaluator
    or the device is broken, and the run should stop, resumable, rather than score
    everything worst).
    """
    spec_json, texts = job
    evaluator = evaluator_for(spec_json)
    start = time.perf_counter()
    parsed: dict[str, Any] = {}   # padded jobs repeat one text many times
    programs = [parsed[t] if t in parsed else parsed.setdefault(t, parse(t)) for t in texts]
    try:
        scores = [score_to_dict(s) for s in _checked(evaluator.score(programs), len(texts))]
    except Exception as batch_error:  # noqa: BLE001 - see the docstring
        if len(programs) == 1:
            raise
        scores, failed = [], 0
        for program in programs:
            try:
                scores.append(score_to_dict(_checked(evaluator.score([program]), 1)[0]))
            except Exception as e:  # noqa: BLE001
                failed += 1
                scores.append({"fitness": WORST_FITNESS, "per_task": [],
                               "failure": f"evaluator error: {type(e).__name__}: {e}"[:500]})
        if failed == len(programs):
            raise batch_error
    return scores, time.perf_counter() - start


def _checked(scores: list, n: int) -> list:
    if len(scores) != n:
        raise RuntimeError(f"evaluator returned {len(scores)} scores for {n} programs")
    return scores
