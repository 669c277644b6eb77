"""`optsearch search / runs / show RUN[:ID] / resume` from the command line (in process)."""

from __future__ import annotations

import json

from optsearch.cli import main

STANDIN = "tests.search.standin:make"


def test_search_runs_show_resume(tmp_path, capsys):
    runs = str(tmp_path / "runs")
    code = main(["search", "--runs-dir", runs, "--evaluator", STANDIN, "--generations", "3",
                 "--population", "8", "--children", "6", "--run-id", "demo", "--seed", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "best programs by search fitness" in out and "# demo:" in out
    assert "gen    3/3" in out  # plain progress lines when output is not a terminal

    assert main(["runs", "--runs-dir", runs, "--json"]) == 0
    (listed,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert listed["run"] == "demo" and listed["status"] == "finished"
    assert listed["generations"] == 3 and listed["seed"] == 2

    assert main(["show", "demo", "--runs-dir", runs]) == 0
    out = capsys.readouterr().out
    assert "regularized search from 'adamw'" in out and "best programs" in out

    assert main(["show", "demo:best", "--runs-dir", runs]) == 0
    out = capsys.readouterr().out
    lineage = out.split("lineage (newest first")[1].strip().splitlines()[1:]
    assert lineage[-1].split()[:4] == ["0", "gen", "0", "init"]  # back to the warm start
    assert any(line.strip().startswith(("+ ", "- ")) for line in lineage)  # what each step changed
    assert "fitness" in out and "def p" in out

    assert main(["resume", "demo", "--runs-dir", runs, "--generations", "4", "--quiet"]) == 0
    assert "resuming run demo after generation 3" in capsys.readouterr().out
    assert main(["show", "demo:99999", "--runs-dir", runs]) == 2
    assert "no program 99999" in capsys.readouterr().err


def test_live_display_renders_on_a_terminal(config_factory):
    import io

    from rich.console import Console

    from optsearch.search import Search
    from optsearch.search.display import SearchDisplay

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, color_system=None, width=100)
    search = Search.create(config_factory(search={"generations": 2}), "live")
    try:
        with SearchDisplay("/2", console=console) as display:
            search.run(display)
    finally:
        search.close()
    text = buf.getvalue()
    for label in ("generation", "evaluations/s", "cache hit rate", "best fitness", "def p"):
        assert label in text
