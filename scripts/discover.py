"""Discovery run: from plain SGD to a rule that beats tuned AdamW on a task it never saw.

Two steps, each safe to repeat (the run store makes the search resumable):

    # search for up to N minutes more (creates the run, or resumes it where it stopped)
    python scripts/discover.py search --run discovery --minutes 8.5 --config scripts/discovery.toml

    # simplify the hall of fame, score it on held-out tasks against tuned AdamW, write
    # docs/discovery.md and its figures
    python scripts/discover.py report --run discovery --heldout mnist1d_mlp,teacher_student

On a device with a per-command time limit, run ``search`` in several calls, carrying the
runs folder from one call to the next: each call resumes the last and demonstrates resume.
Prints one JSON line per step.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cmd_search(args: argparse.Namespace) -> dict:
    from optsearch.search import RunConfig, Search, load_toml
    from optsearch.search.display import SearchDisplay
    from optsearch.store import RunStore

    path = Path(args.runs_dir) / args.run
    if (path / "run.sqlite").exists():
        with RunStore.open(args.run, args.runs_dir) as store:
            spent = store.elapsed()
        budget = spent + args.minutes * 60
        search = Search.resume(args.run, args.runs_dir,
                               {"search": {"time_budget": budget, "generations": 0}})
        action = "resumed"
    else:
        cfg = RunConfig.from_dict(load_toml(args.config), where=args.config)
        cfg = cfg.replace(runs_dir=args.runs_dir, search={"time_budget": args.minutes * 60,
                                                         "generations": 0})
        search = Search.create(cfg, args.run)
        action = "created"
    start_gen, start_trained = search.generation, search.totals.trained
    t0 = time.perf_counter()
    try:
        with SearchDisplay(f" (budget {search.config.search.time_budget:.0f} s)",
                           quiet=False) as display:
            search.run(display)
        summary = search.summary(3)
    finally:
        search.close()
    return {"step": "search", "run": args.run, "action": action,
            "generations": [start_gen, summary["generations"]],
            "trained": [start_trained, summary["trained"]],
            "seconds": round(time.perf_counter() - t0, 1), "hit_rate": round(summary["hit_rate"], 4),
            "best": summary["best"][0][1] if summary["best"] else None,
            "hall_of_fame": [[pid, round(f, 4)] for pid, f, _ in summary["hall_of_fame"]]}


def uses_sign_or_second_moment(program) -> list[str]:
    """What in ``program`` is sign-based or a second-moment normalisation (may be empty).

    Second moment: a state variable updated from the square (``square``, ``x*x``,
    ``abs``) of something computed from ``g``, whose value reaches ``sqrt`` / ``rsqrt`` /
    ``pow`` / a division (directly or through temporaries, as Adam's bias correction).
    """
    from optsearch.analysis import state_vars
    from optsearch.program import Call, Var, walk

    found = []
    exprs = [s.value for s in program.body] + [program.ret]
    ops = {n.op for e in exprs for n in walk(e) if isinstance(n, Call)}
    if "sign" in ops:
        found.append("sign")

    def names_in(e) -> set[str]:
        return {m.name for m in walk(e) if isinstance(m, Var)}

    deps: dict[str, set[str]] = {}          # name -> names it is computed from (closure)
    for st in program.body:
        direct = names_in(st.value)
        deps[st.target] = direct.union(*(deps.get(n, set()) for n in direct)) | \
            deps.get(st.target, set())

    def closure(e) -> set[str]:
        direct = names_in(e)
        return direct.union(*(deps.get(n, set()) for n in direct))

    def squares_g(e) -> bool:
        for n in walk(e):
            if isinstance(n, Call) and (n.op in ("square", "abs")
                                        or (n.op == "mul" and n.args[0] == n.args[1])):
                if "g" in closure(n.args[0]):
                    return True
        return False

    moments = {s.target for s in program.body
               if s.target in state_vars(program) and squares_g(s.value)}
    for e in exprs:
        for n in walk(e):
            if isinstance(n, Call) and n.op in ("sqrt", "rsqrt", "pow", "div"):
                reads = set().union(*(closure(a) for a in n.args)) & moments
                if reads:
                    found.append(f"second-moment normalisation ({', '.join(sorted(reads))})")
                    return found
    return found


REFERENCES = ("sgd", "adamw", "adam", "lion", "signum")


def heldout_scores(programs, tasks, size: str, seeds: tuple[int, ...], device: str):
    """Fitness of every program on every task, each tuned over AdamW's whole lr grid.

    Returns ({task: [fitness per program]}, {task: [best lr multiplier per program]}).
    """
    from optsearch.evaluate import EvalConfig, Evaluator

    scores: dict[str, list[float]] = {}
    best_mult: dict[str, list[float | None]] = {}
    for task in tasks:
        # Every rule gets AdamW's whole lr grid (edge-extended): both are tuned alike.
        probe = Evaluator(EvalConfig(tasks=(task,), size=size, seeds=seeds, device=device))
        t0_task = probe.tasks[0]
        grid = tuple(sorted({round(lr / t0_task.lr, 10) for lr in probe.baseline(t0_task).lrs}))
        # per_lr: an lr at which a rule diverges is dropped, as it is for AdamW's grid;
        # no hurdles: every lane trains the whole budget.
        ev = Evaluator(EvalConfig(tasks=(task,), size=size, seeds=seeds, device=device,
                                  lr_multipliers=grid, nan_policy="per_lr", hurdles=False))
        res = ev.score(programs)
        scores[task] = [s.fitness for s in res]
        best_mult[task] = [s.per_task[0].best_lr_multiplier for s in res]
    return scores, best_mult


def cmd_verify(args: argparse.Namespace) -> dict:
    """Re-test programs (files) on tasks with fresh seeds, at one or more sizes: the
    held-out result of `report` picked the best of several programs on seeds 0.., so it is
    optimistic; fresh seeds are not."""
    from optsearch import known
    from optsearch.parse import parse_file

    files = [f for f in args.programs.split(",") if f]
    programs = [p for f in files for p in parse_file(f)]
    names = [p.name for p in programs] + list(REFERENCES)
    seeds = tuple(range(args.first_seed, args.first_seed + args.seeds))
    out: dict = {"step": "verify", "seeds": list(seeds), "device": args.device, "results": {}}
    for size in args.size.split(","):
        scores, mult = heldout_scores(programs + [known(n) for n in REFERENCES],
                                      args.tasks.split(","), size, seeds, args.device)
        out["results"][size] = {t: {n: [round(scores[t][i], 4), mult[t][i]]
                                    for i, n in enumerate(names)} for t in scores}
    return out


def cmd_report(args: argparse.Namespace) -> dict:
    from optsearch import known, parse
    from optsearch.printer import to_text
    from optsearch.search.funnel import simplifier
    from optsearch.store import RunStore

    with RunStore.open(args.run, args.runs_dir) as store:
        config = store.config()
        log = store.logbook()
        hof = store.hall_of_fame()
        rows = {pid: store.program(pid) for pid, _, _ in hof}
        if not hof:  # fall back to the best by search fitness
            best = store.programs("cached_from IS NULL", order="fitness DESC, id", limit=args.top)
            rows = {r.id: r for r in best}
            hof = [(r.id, float("nan"), None) for r in best]
    search_tasks = config["eval"]["tasks"] or ["digits_mlp"]
    heldout = [t for t in args.heldout.split(",") if t and t not in search_tasks]
    simplify = simplifier()
    found = []
    for pid, funnel_fitness, _ in hof[: args.top]:
        original = parse(rows[pid].text)
        simple = simplify(original) if simplify is not None else original
        found.append({"id": pid, "funnel_fitness": funnel_fitness,
                      "search_fitness": rows[pid].fitness, "text": to_text(original),
                      "simplified": to_text(simple), "features": uses_sign_or_second_moment(simple),
                      "program": simple})
    refs = {name: known(name) for name in REFERENCES}
    programs = [f["program"] for f in found] + list(refs.values())
    t0 = time.perf_counter()
    scores, best_mult = heldout_scores(programs, heldout, args.size, tuple(range(args.seeds)),
                                       args.device)
    for i, f in enumerate(found):
        f["heldout"] = {t: scores[t][i] for t in heldout}
        f["heldout_lr_multiplier"] = {t: best_mult[t][i] for t in heldout}
        f["beats_adamw_on"] = [t for t in heldout if scores[t][i] > 0]
    ref_scores = {name: {t: scores[t][len(found) + j] for t in heldout}
                  for j, name in enumerate(refs)}
    _figures(log, found, ref_scores, heldout, Path(args.figures))
    _write_doc(args, config, log, found, ref_scores, heldout)
    return {"step": "report", "run": args.run, "heldout": heldout, "size": args.size,
            "seconds": round(time.perf_counter() - t0, 1),
            "programs": [{k: v for k, v in f.items() if k not in ("program", "text")}
                         for f in found], "references": ref_scores}


def _figures(log, found, refs, heldout, prefix: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prefix.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
    gens = [r["gen"] for r in log]
    ax.plot(gens, [r["best"] for r in log], label="best search fitness")
    ax.plot(gens, [r["median"] for r in log], label="population median", alpha=0.7)
    hof = [r["hof"] if r["hof"] is not None else float("nan") for r in log]
    ax.plot(gens, hof, label="hall of fame best (funnel)")
    ax.axhline(0.0, color="k", lw=0.8, ls="--")
    ax.set_xlabel("generation")
    ax.set_ylabel("fitness (log AdamW-loss ratio)")
    ax.set_ylim(bottom=max(-4.0, min(r["median"] for r in log) - 0.2))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(f"{prefix}_progress.png")
    plt.close(fig)
    if heldout:
        heldout_figure({f"#{f['id']}": f["heldout"] for f in found}, refs, heldout,
                       f"{prefix}_heldout.png")


FLOOR = -1.0
"""Held-out bars are drawn down to this; lower values (divergence is -10) are marked."""


def heldout_figure(found: dict, refs: dict, tasks, png: str) -> None:
    """Grouped bars: per program (found, then references), its fitness on each task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(found) + list(refs)
    rows = {**found, **refs}
    fig, ax = plt.subplots(figsize=(7.2, 3.8), dpi=120)
    width = 0.8 / len(tasks)
    for k, task in enumerate(tasks):
        xs = [i + k * width for i in range(len(names))]
        vals = [rows[n][task] for n in names]
        ax.bar(xs, [max(v, FLOOR) for v in vals], width, label=task)
        for x, v in zip(xs, vals):
            if v < FLOOR:
                ax.annotate(f"{v:.0f}", (x, FLOOR), ha="center", va="bottom", fontsize=6,
                            rotation=90)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_ylim(FLOOR - 0.05, None)
    ax.set_xticks([i + width * (len(tasks) - 1) / 2 for i in range(len(names))], names,
                  rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("held-out fitness vs tuned AdamW")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def verify_figure(results: list[dict], task: str, size: str, png: str) -> None:
    """Fitness on ``task`` at ``size`` per verify call (one seed set each), per program."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = [r for r in results if task in r["results"].get(size, {})]
    names = [n for n in sets[0]["results"][size][task]       # in every set; sgd is off scale
             if n != "sgd" and all(n in r["results"][size][task] for r in sets)]
    fig, ax = plt.subplots(figsize=(6.4, 3.4), dpi=120)
    width = 0.8 / len(sets)
    for k, r in enumerate(sets):
        row = r["results"][size][task]
        seeds = r["seeds"]
        ax.bar([i + k * width for i in range(len(names))], [row[n][0] for n in names], width,
               label=f"seeds {seeds[0]}-{seeds[-1]}")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xticks([i + width * (len(sets) - 1) / 2 for i in range(len(names))], names)
    ax.set_ylabel("fitness vs tuned AdamW")
    ax.set_title(f"{task} ({size}): fresh seed sets", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def cmd_figures(args: argparse.Namespace) -> dict:
    """Figures from saved JSON: a report's held-out bars and verify calls' seed sets."""
    out = {"step": "figures", "written": []}
    if args.report:
        rep = json.loads(Path(args.report).read_text())
        found = {f"#{p['id']}": p["heldout"] for p in rep["programs"]}
        heldout_figure(found, rep["references"], rep["heldout"], f"{args.prefix}_heldout.png")
        out["written"].append(f"{args.prefix}_heldout.png")
    if args.verify:
        results = [json.loads(line) for f in args.verify.split(",")
                   for line in Path(f).read_text().splitlines() if line.strip()]
        png = f"{args.prefix}_verify_{args.task}_{args.size}.png"
        verify_figure(results, args.task, args.size, png)
        out["written"].append(png)
    return out


def _write_doc(args, config, log, found, refs, heldout) -> None:
    last = log[-1] if log else {}
    lines = [f"<!-- written by scripts/discover.py report --run {args.run} -->",
             "## Result", "",
             f"Search: warm start `{config['search']['warm_start']}`, tasks "
             f"{config['eval']['tasks']}, population {config['search']['population']}, "
             f"{config['search']['children']} children per generation, device "
             f"{config['eval']['device']}; {last.get('gen')} generations, "
             f"{last.get('total_programs')} programs, {last.get('total_trained')} trained, "
             f"cache hit rate {last.get('hit_rate', 0):.1%}.", "",
             f"Held-out tasks (never used by the search): {', '.join(heldout) or 'none'}; "
             f"size {args.size}, seeds 0..{args.seeds - 1}. Fitness is log(tuned-AdamW loss / "
             "loss): > 0 beats tuned AdamW. Every rule, AdamW included, is tuned over the "
             "same lr grid (AdamW's grid, extended past a winning edge).", "",
             "| program | search | funnel | " + " | ".join(heldout) + " | sign / 2nd moment |",
             "| --- | ---: | ---: | " + " | ".join("---:" for _ in heldout) + " | --- |"]
    for f in found:
        lines.append(f"| {args.run}:{f['id']} | {f['search_fitness']:+.4f} | "
                     f"{f['funnel_fitness']:+.4f} | "
                     + " | ".join(f"{f['heldout'][t]:+.4f}" for t in heldout)
                     + f" | {', '.join(f['features']) or '-'} |")
    for name, s in refs.items():
        lines.append(f"| {name} (reference) | | | " + " | ".join(f"{s[t]:+.4f}" for t in heldout)
                     + " | |")
    lines += ["", "Programs as found, and simplified:", ""]
    for f in found:
        lines += [f"### {args.run}:{f['id']}", "", "```python", f["text"].rstrip(), "```", "",
                  "simplified:", "", "```python", f["simplified"].rstrip(), "```", ""]
    Path(args.result).write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="step", required=True)
    s = sub.add_parser("search", help="create or resume the discovery run for some minutes")
    s.add_argument("--run", default="discovery", help="run id")
    s.add_argument("--runs-dir", default="runs", help="runs folder")
    s.add_argument("--config", default="scripts/discovery.toml", help="run config (new runs)")
    s.add_argument("--minutes", type=float, default=8.5, help="search minutes in this call")
    r = sub.add_parser("report", help="held-out evaluation, docs/discovery.md figures")
    r.add_argument("--run", default="discovery", help="run id")
    r.add_argument("--runs-dir", default="runs", help="runs folder")
    r.add_argument("--heldout", default="mnist1d_mlp,teacher_student",
                   help="comma-separated tasks for the held-out test (search tasks are skipped)")
    r.add_argument("--size", default="small", help="task size for the held-out test")
    r.add_argument("--seeds", type=int, default=3, help="training seeds for the held-out test")
    r.add_argument("--device", default="cuda", help="torch device")
    r.add_argument("--top", type=int, default=5, help="hall-of-fame programs to test")
    r.add_argument("--figures", default="docs/discovery", help="figure path prefix")
    r.add_argument("--result", default="docs/discovery_result.md", help="Markdown result file")
    v = sub.add_parser("verify", help="re-test program files on tasks with fresh seeds")
    v.add_argument("--programs", required=True, help="comma-separated .opt files")
    v.add_argument("--tasks", default="mnist1d_cnn,teacher_student", help="comma-separated tasks")
    v.add_argument("--size", default="small,large", help="comma-separated task sizes")
    v.add_argument("--seeds", type=int, default=5, help="training seeds")
    v.add_argument("--first-seed", type=int, default=10,
                   help="first seed (fresh ones: report used 0, 1, ...)")
    v.add_argument("--device", default="cuda", help="torch device")
    f = sub.add_parser("figures", help="figures from saved report / verify JSON")
    f.add_argument("--report", default="", help="a report's JSON line (held-out bars)")
    f.add_argument("--verify", default="", help="comma-separated files of verify JSON lines")
    f.add_argument("--task", default="mnist1d_cnn", help="verify figure: the task")
    f.add_argument("--size", default="large", help="verify figure: the task size")
    f.add_argument("--prefix", default="docs/discovery", help="figure path prefix")
    args = p.parse_args(argv)
    out = {"search": cmd_search, "report": cmd_report, "verify": cmd_verify,
           "figures": cmd_figures}[args.step](args)
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
