"""Live progress of a search (rich), and the end-of-run report.

On a terminal a rich ``Live`` panel shows generation, evaluations/s, cache hit rate, best
fitness and the current best program; when output is piped (logs, CI, ``scripts/demo``)
one plain line per generation is printed instead.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:+.4f}"


class SearchDisplay:
    """A progress callback for :meth:`optsearch.search.Search.run` (use as a context manager)."""

    def __init__(self, limit: str = "", quiet: bool = False, console: Console | None = None) -> None:
        self.console = console or Console()
        self.limit = limit
        self.quiet = quiet
        self.live: Live | None = None
        self.last: dict[str, Any] = {}
        self.trained_in_jobs = 0
        self._t0 = time.perf_counter()

    def __enter__(self) -> "SearchDisplay":
        if not self.quiet and self.console.is_terminal:
            self.live = Live(self._render(), console=self.console, refresh_per_second=4,
                             transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)
            self.live = None

    def __call__(self, event: dict[str, Any]) -> None:
        if event["event"] == "job":
            self.trained_in_jobs += event["trained"]
        else:
            self.last = event
        if self.live is not None:
            self.live.update(self._render())
        elif not self.quiet and event["event"] == "generation":
            r = event["record"]
            print(f"gen {r['gen']:>4}{self.limit}  programs {r['total_programs']:>6}  "
                  f"trained {r['total_trained']:>5}  {self._rate():6.1f} evals/s  "
                  f"hit rate {r['hit_rate']:6.1%}  best {_fmt(r['best'])}  "
                  f"hall of fame {_fmt(r['hof'])}", flush=True)

    def _rate(self) -> float:
        e = self.last
        seconds = e.get("session_seconds") or (time.perf_counter() - self._t0)
        return (e.get("trained_session", self.trained_in_jobs)) / max(seconds, 1e-9)

    def _render(self) -> Panel:
        e = self.last
        r = e.get("record", {})
        table = Table.grid(padding=(0, 2))
        for _ in range(4):
            table.add_column()
        table.add_row("generation", f"{r.get('gen', 0)}{self.limit}",
                      "evaluations/s", f"{self._rate():.1f}")
        table.add_row("programs", str(r.get("total_programs", 0)),
                      "trained", str(r.get("total_trained", 0)))
        table.add_row("cache hit rate", f"{r.get('hit_rate', 0.0):.1%}",
                      "elapsed", f"{e.get('elapsed', 0.0):.0f} s")
        table.add_row("best fitness", _fmt(r.get("best")),
                      "hall of fame best", _fmt(r.get("hof")))
        body = [table]
        if e.get("best_text"):
            body.append(Syntax(e["best_text"], "python", theme="ansi_dark", word_wrap=True))
        return Panel(Group(*body), title=f"optsearch search  {e.get('run_id', '')}")


def print_summary(summary: dict[str, Any], top: int = 3, file: Any = None) -> None:
    """The best programs and the hall of fame of a finished run, as plain text."""
    out = file or sys.stdout
    run = summary["run_id"]
    print(f"\nrun {run}: {summary['generations']} generations, {summary['programs']} programs, "
          f"{summary['trained']} trained, cache hit rate {summary['hit_rate']:.1%}", file=out)
    print(f"\nbest programs by search fitness (log AdamW-loss ratio; > 0 beats tuned AdamW):",
          file=out)
    for pid, fitness, text in summary["best"][:top]:
        print(f"\n# {run}:{pid}  fitness {fitness:+.4f}", file=out)
        print(text, end="", file=out)
    hof = summary["hall_of_fame"]
    if hof:
        print(f"\nhall of fame (passed the funnel: beats tuned AdamW on the larger tasks):",
              file=out)
        for pid, fitness, simplified in hof[:top]:
            print(f"  {run}:{pid}  funnel fitness {fitness:+.4f}", file=out)
            if simplified:
                print("    simplified: " + simplified.strip().replace("\n", "\n    "), file=out)
    else:
        print("\nhall of fame: empty (no program beat tuned AdamW on the funnel tasks yet)",
              file=out)
    print(f"\nshow a program: optsearch show {run}:ID    continue: optsearch resume {run} "
          f"--generations N", file=out)
