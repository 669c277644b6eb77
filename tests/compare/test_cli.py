"""`optsearch compare` from the command line: outputs, exit codes, --replot, --help."""

from __future__ import annotations

import json

from optsearch.cli import build_parser, main


def test_compare_writes_table_plots_and_results(files, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["compare", "adamw", "lion", "nosuch", "--steps", "8", "--seeds", "2",
                 "--points", "2", "--out", str(out)])
    assert code == 1  # something was left out, the rest compared
    text = capsys.readouterr().out
    assert "unknown rule 'nosuch'" in text and "digits_mlp" in text
    data = json.loads((out / "results.json").read_text())
    assert {c["label"] for c in data["cells"]} == {"adamw", "lion"}
    table = (out / "table.md").read_text()
    assert "| adamw |" in table and "| lion |" in table and "nosuch" in table
    for name in ("digits_mlp_curves.png", "digits_mlp_lr.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = (out / "table.md").read_text()
    (out / "table.md").unlink()
    assert main(["compare", "--replot", "--out", str(out)]) == 1
    assert (out / "table.md").read_text() == before


def test_nothing_comparable_exits_2(tmp_path, capsys):
    assert main(["compare", "nosuch", "--steps", "4", "--out", str(tmp_path)]) == 2
    assert "nothing could be compared" in capsys.readouterr().out


def test_bad_arguments_are_clear_errors(tmp_path, capsys):
    assert main(["compare", "--out", str(tmp_path)]) == 2
    assert "name at least one OPTIMIZER" in capsys.readouterr().err
    assert main(["compare", "--replot", "--out", str(tmp_path / "none")]) == 2
    assert "results.json not found" in capsys.readouterr().err


def test_help_documents_inputs_and_task_files():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["compare"]
    text = sub.format_help()
    for needle in ("RUN:ID", ".opt", "optsearch export", "its code runs", "make_model(seed)",
                   "make_data()", "loss(model, x, y)", "--lrs", "--seeds", "--workers",
                   "digits_mlp", "gpt_stdlib"):
        assert needle in text, needle
