"""`optsearch report` / `optsearch plot` on a small hand-made run store."""

from __future__ import annotations

import base64
import re

import pytest

import optsearch
from optsearch.cli import main
from optsearch.printer import to_text
from optsearch.report.latex import program_latex
from optsearch.store.runs import FunnelRow, ProgramRow, RunStore


@pytest.fixture
def run_dir(tmp_path):
    store = RunStore.create(tmp_path, "demo", {"search": {"warm_start": "adamw"}})
    texts = [to_text(optsearch.known("adamw")), to_text(optsearch.known("lion")),
             "def p2(w, g, lr):\n    d = g * 1.0\n    return lr * sign(d)\n"]
    rows = [ProgramRow(i, i, 0, t, f"fp{i}", None, None, "init", 0.1 * i, [], 1.0, None, None)
            for i, t in enumerate(texts)]
    rows.append(ProgramRow(3, 2, 1, texts[0], "fp0", 0, None, "insert", 0.0, [], 0.0, None, 0))
    store.add_programs(rows)
    store.add_funnel([FunnelRow(2, 2, 0.05, [], 1.0, None, None)])
    for g in range(3):
        record = {"gen": g, "programs": 2 if g else 1, "trained": 1, "hits": 1 if g else 0,
                  "invalid": 0, "hit_rate": 0.3 * g / 2, "max": 0.1 * g, "median": 0.05 * g,
                  "best": 0.1 * g, "hof": 0.05 if g == 2 else None}
        store.finish_generation(g, record, 2.0 * (g + 1), [(2, 0.05, None)] if g == 2 else [])
    store.close()
    return tmp_path


def test_plot_writes_png(run_dir):
    assert main(["plot", "demo", "--runs-dir", str(run_dir)]) == 0
    assert (run_dir / "demo" / "progress.png").read_bytes()[:4] == b"\x89PNG"


def test_report_is_self_contained_html(run_dir, tmp_path):
    out = tmp_path / "r.html"
    assert main(["report", "demo", "--runs-dir", str(run_dir), "-o", str(out), "--top", "1",
                 "--steps", "6", "--seeds", "1"]) == 0
    page = out.read_text()
    assert "<h2>Hall of fame</h2>" in page and "demo:2" in page
    assert "Compare against AdamW and Lion" in page and "<td>adamw</td>" in page
    assert "\\operatorname{sign}" in page          # the LaTeX source of the listed program
    assert "src=\"http" not in page and "<script" not in page  # nothing fetched from outside
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) >= 4  # progress, equations, compare curves, lr sensitivity
    assert all(base64.b64decode(i)[:4] == b"\x89PNG" for i in images)


def test_report_without_hall_of_fame_lists_best_by_fitness(tmp_path):
    store = RunStore.create(tmp_path, "nohof", {})
    store.add_programs([ProgramRow(0, 0, 0, to_text(optsearch.known("sgd")), "f", None, None,
                                   "init", 0.2, [], 1.0, None, None)])
    store.finish_generation(0, {"gen": 0, "programs": 1, "trained": 1, "hits": 0}, 1.0, [])
    store.close()
    out = tmp_path / "r.html"
    assert main(["report", "nohof", "--runs-dir", str(tmp_path), "-o", str(out),
                 "--no-compare"]) == 0
    page = out.read_text()
    assert "hall of fame is empty" in page and "nohof:0" in page
    assert "Compare against" not in page


def test_unknown_run_is_a_clear_error(tmp_path, capsys):
    assert main(["report", "nope", "--runs-dir", str(tmp_path), "--no-compare"]) == 2
    assert "no run 'nope'" in capsys.readouterr().err


def test_latex_reads_like_the_program():
    lines = program_latex(optsearch.known("lion"))
    assert lines[0] == r"c \leftarrow \left(1 - \beta_{1}\right)\,g + \beta_{1}\,m"
    assert lines[1] == r"\mathrm{update} \leftarrow \operatorname{sign}\left(c\right) + \lambda\,w"
    assert lines[-1] == r"\Delta w = \eta\,\mathrm{update}"
    adam = program_latex(optsearch.known("adamw"))
    assert r"\frac{m}{1 - \beta_{1}^{t}}" in adam[2]
