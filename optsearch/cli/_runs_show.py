"""``optsearch show RUN`` and ``optsearch show RUN:ID`` (called by cli/show.py).

RUN: the run's settings, progress, best programs and hall of fame. RUN:ID (or RUN:best):
the program, its scores per task, its funnel score, and its lineage back to the initial
program, one mutation per line.
"""

from __future__ import annotations

from optsearch.errors import OptsearchError


def show(target: str, runs_dir: str) -> int:
    from optsearch.store import RunStore, split_ref

    ref = split_ref(target)
    run = ref[0] if ref else target
    try:
        store = RunStore.open(run, runs_dir)
    except OptsearchError as e:
        raise OptsearchError(f"{target!r} is not a known rule, a file, or a run: {e}") from None
    with store:
        if ref is None:
            _show_run(store)
        else:
            _show_program(store, ref[1])
    return 0


def _show_run(store) -> None:
    config = store.config()
    s, e = config.get("search", {}), config.get("eval", {})
    log = store.logbook()
    last = log[-1] if log else {}
    print(f"run {store.run_id}  status {store.meta('status')}  created {store.meta('created')}")
    print(f"  {s.get('algorithm')} search from {s.get('warm_start')!r}, seed {config.get('seed')}, "
          f"population {s.get('population')}, tournament {s.get('tournament')}, "
          f"{s.get('children')} children/generation")
    print(f"  tasks {e.get('tasks') or '(evaluator default)'}, size {e.get('size')}, "
          f"device {e.get('device')}")
    if last:
        print(f"  generation {last['gen']}: {last['total_programs']} programs, "
              f"{last['total_trained']} trained, cache hit rate {last['hit_rate']:.1%}, "
              f"best fitness {last['best']:+.4f}")
    print("\nbest programs by search fitness:")
    for r in store.programs("cached_from IS NULL", order="fitness DESC, id", limit=5):
        print(f"\n# {store.run_id}:{r.id}  fitness {r.fitness:+.4f}  (generation {r.generation}, "
              f"{r.mutation})")
        print(r.text, end="")
    hof = store.hall_of_fame()
    print("\nhall of fame (funnel fitness: larger tasks, > 0 beats tuned AdamW):" if hof else
          "\nhall of fame: empty")
    for pid, fitness, simplified in hof:
        print(f"  {store.run_id}:{pid}  {fitness:+.4f}")
        if simplified:
            print("    " + simplified.strip().replace("\n", "\n    "))


def _show_program(store, ident: str) -> None:
    from optsearch.store import lookup_program

    row = lookup_program(store, ident)
    print(f"# {store.run_id}:{row.id}  generation {row.generation}  made by {row.mutation}")
    print(row.text, end="")
    print(f"# fitness {row.fitness:+.4f}" + (f"  failure: {row.failure}" if row.failure else "")
          + (f"  (score of equal program {row.cached_from})" if row.cached_from is not None else ""))
    for t in row.per_task:
        loss = t.get("loss")
        print(f"#   {t.get('task')}: loss {'-' if loss is None else format(loss, '.4g')}, "
              f"fitness {t.get('fitness', 0.0):+.4f}, best lr x{t.get('best_lr_multiplier')}"
              + (f", {t['failure']}" if t.get("failure") else ""))
    funnel = store.funnel("program_id = ?", (row.id,))
    if funnel:
        print(f"# funnel fitness {funnel[0].fitness:+.4f}")
    print("\nlineage (newest first; each step's change to its parent):")
    seen = set()
    current = row
    while current is not None and current.id not in seen:
        seen.add(current.id)
        extra = f" x {current.parent2_id}" if current.parent2_id is not None else ""
        print(f"  {current.id:>6}  gen {current.generation:>4}  {current.mutation:<10} "
              f"fitness {current.fitness:+.4f}{extra}")
        parent = store.program(current.parent_id) if current.parent_id is not None else None
        if parent is not None:
            for line in _changes(parent.text, current.text):
                print(f"{'':>16}{line}")
        current = parent


def _changes(before: str, after: str) -> list[str]:
    """Changed lines between two program texts (signature: hyperparameters only)."""
    import difflib

    def lines(text: str) -> list[str]:
        from optsearch.parse import parse

        p = parse(text)
        hp = [f"{k}={v!r}" for k, v in p.hyperparams]
        return [", ".join(hp)] + [ln.strip() for ln in text.splitlines()
                                  if ln.startswith("    ") and not ln.strip().startswith(('"', "'"))
                                  and "=" in ln or ln.strip().startswith("return")]

    return [ln for ln in difflib.ndiff(lines(before), lines(after)) if ln[:1] in "+-"]
