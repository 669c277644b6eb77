"""`optsearch report`: one self-contained HTML page for a search run.

Sections: run summary, search progress (fitness over generations, evaluations/s, cache hit
rate), the hall of fame (each program simplified when the simplifier is installed, shown
as typeset equations, LaTeX source and program text), and a compare of the top programs
against AdamW and Lion. Images are embedded as base64 PNGs: the file can be mailed or
archived alone.
"""

from __future__ import annotations

import html
import json
import tempfile
from pathlib import Path
from typing import Callable

from optsearch.report.figures import data_uri, equations_png, file_uri
from optsearch.report.latex import program_latex
from optsearch.report.progress import progress_figure
from optsearch.report.runinfo import Entry, RunInfo

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; font-size: .85em; }
table { border-collapse: collapse; font-size: .9em; margin: .5em 0; }
td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; } .note { color: #666; font-size: .9em; }
details { margin: .4em 0; } .failed { color: #b00; }
"""


def _esc(text: object) -> str:
    return html.escape(str(text))


def simplified_program(entry: Entry):
    """``(Program, how)``: the stored simplified text, else simplify now, else the original."""
    from optsearch.parse import parse

    original = parse(entry.text)
    if entry.simplified and not entry.simplified.startswith("#"):
        try:
            return parse(entry.simplified), "simplified (stored with the run)"
        except Exception:  # noqa: BLE001 - a bad stored text falls back to simplifying now
            pass
    try:
        from optsearch.simplify import simplify
    except ImportError:
        return original, "as found (simplifier not installed)"
    try:
        return simplify(original), "simplified"
    except Exception as e:  # noqa: BLE001 - a simplifier bug must not break the report
        return original, f"as found (simplify failed: {type(e).__name__})"


def _entry_html(rank: int, entry: Entry, run_id: str) -> str:
    program, how = simplified_program(entry)
    lines = program_latex(program)
    png = equations_png(lines)
    funnel = "" if entry.funnel_fitness is None else f", funnel fitness {entry.funnel_fitness:+.4f}"
    tasks = ", ".join(f"{t.get('task')}: loss {t.get('loss', float('nan')):.4g}"
                      for t in entry.per_task if isinstance(t, dict))
    parts = [f"<h3>#{rank} &nbsp; {_esc(run_id)}:{entry.id}</h3>",
             f"<p>search fitness {entry.fitness:+.4f}{funnel}; generation {entry.generation}"
             f"{'; ' + _esc(tasks) if tasks else ''}</p>",
             f"<p class=note>{_esc(how)}; update w &larr; w &minus; &Delta;w</p>"]
    hyper = ", ".join(f"{k} = {v:g}" for k, v in program.hyperparams)
    if png is not None:
        parts.append(f'<img alt="update rule of {_esc(run_id)}:{entry.id}" src="{data_uri(png)}">')
    if hyper:
        parts.append(f"<p>hyperparameters: {_esc(hyper)} (&eta; = lr, &lambda; = wd, "
                     f"&epsilon; = eps)</p>")
    parts.append("<details><summary>LaTeX</summary><pre>"
                 + _esc("\\begin{aligned}\n" + " \\\\\n".join(
                     line.replace(r" \leftarrow ", r" &\leftarrow ").replace(" = ", " &= ", 1)
                     for line in lines) + "\n\\end{aligned}") + "</pre></details>")
    parts.append(f"<details open><summary>program ({_esc(how.split(' (')[0])})</summary>"
                 f"<pre>{_esc(str(program))}</pre></details>")
    if str(program) != entry.text:
        parts.append(f"<details><summary>program as found</summary><pre>{_esc(entry.text)}"
                     f"</pre></details>")
    return "\n".join(parts)


def _compare_html(result, out: Path) -> str:
    from optsearch.compare.plots import write_plots
    from optsearch.compare.table import COLUMNS, caption, ordered_cells, row

    parts = []
    files = {p.name: p for p in write_plots(result, out)}
    for info in result.tasks:
        if info.error:
            parts.append(f"<p class=failed>{_esc(info.name)}: skipped: {_esc(info.error)}</p>")
            continue
        parts.append(f"<h3>{_esc(info.name)}</h3><table><tr>"
                     + "".join(f"<th>{_esc(c)}</th>" for c in COLUMNS) + "</tr>")
        for cell in ordered_cells(result, info):
            cls = " class=failed" if cell.error else ""
            parts.append(f"<tr{cls}>" + "".join(f"<td>{_esc(v)}</td>" for v in row(cell, info))
                         + "</tr>")
        parts.append(f"</table><p class=note>{_esc(caption(result, info))}</p>")
        for suffix in ("_curves.png", "_lr.png"):
            name = next((n for n in files if n.endswith(suffix) and n.startswith(
                "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in info.name))), None)
            if name:
                parts.append(f'<img alt="{_esc(name)}" src="{file_uri(files[name])}">')
    failures = [f"{c['ref']}: {c['error']}" for c in result.candidates if c["error"]]
    failures += [f"{c.label} on {c.task}: {c.error}" for c in result.cells if c.error]
    if failures:
        parts.append("<p class=failed>Not compared:</p><ul>"
                     + "".join(f"<li>{_esc(f)}</li>" for f in failures) + "</ul>")
    return "\n".join(parts)


def write_report(info: RunInfo, path: Path,
                 compare: Callable[[list[str]], object] | None = None) -> Path:
    """Write the HTML page for ``info`` to ``path``.

    Args:
        compare: given the listed programs' references (``RUNDIR:ID``), returns a
            CompareResult of them against AdamW and Lion; None leaves the section out.
    """
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        progress = progress_figure(info, tmpdir / "progress.png")
        cfg = info.config
        search = cfg.get("search", {})
        tasks = cfg.get("eval", {}).get("tasks") or ["(default proxy tasks)"]
        title = f"optsearch report: {info.run_id}"
        body = [f"<h1>{_esc(title)}</h1>",
                f"<p>created {_esc(info.meta.get('created', '?'))}, status "
                f"{_esc(info.meta.get('status', '?'))}; warm start "
                f"{_esc(search.get('warm_start', '?'))}, {search.get('algorithm', '?')} "
                f"evolution, population {search.get('population', '?')}; proxy tasks "
                f"{_esc(', '.join(map(str, tasks)))}; {len(info.generations)} generations, "
                f"{info.programs} programs ({info.trained} trained, {info.cache_hits} cache hits, "
                f"{info.invalid} rejected as invalid).</p>",
                "<h2>Search progress</h2>",
                f'<img alt="search progress" src="{file_uri(progress)}">']
        heading = ("Hall of fame" if info.from_hall_of_fame else
                   "Best programs by search fitness (the hall of fame is empty: no program "
                   "beat tuned AdamW on the funnel tasks yet)")
        body.append(f"<h2>{_esc(heading)}</h2>")
        if not info.entries:
            body.append("<p>No scored program yet.</p>")
        for rank, entry in enumerate(info.entries, 1):
            body.append(_entry_html(rank, entry, info.run_id))
        if compare is not None and info.entries:
            body.append("<h2>Compare against AdamW and Lion</h2>")
            result = compare([f"{info.path}:{e.id}" for e in info.entries])
            body.append(_compare_html(result, tmpdir))
        body.append("<h2>Configuration</h2><pre>" + _esc(json.dumps(cfg, indent=1, sort_keys=True))
                    + "</pre>")
        page = ("<!doctype html><html><head><meta charset=utf-8>"
                f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
                + "\n".join(body) + "</body></html>\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
