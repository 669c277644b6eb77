"""scripts/discover.py: the held-out re-test on fresh seeds and the figures from saved JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def discover():
    spec = importlib.util.spec_from_file_location("discover", ROOT / "scripts" / "discover.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_discovered_program_is_sign_based_after_simplification(discover):
    from optsearch.parse import parse_file

    (simple,) = parse_file(ROOT / "docs" / "discovered" / "discovery4_194534_simplified.opt")
    assert discover.uses_sign_or_second_moment(simple) == ["sign"]
    import optsearch

    for name in optsearch.known_names():       # the detector on the rules we know
        got = discover.uses_sign_or_second_moment(optsearch.known(name))
        if name in ("sgd", "sgd_momentum", "nesterov"):
            assert got == [], name
        elif name in ("lion", "signum", "signsgd", "addsign", "powersign"):
            assert got == ["sign"], name
        else:                                  # Adam's family, through bias corrections too
            assert len(got) == 1 and got[0].startswith("second-moment"), name


def test_verify_scores_a_program_and_its_simplified_form_alike(discover, capsys, tmp_path,
                                                               monkeypatch):
    monkeypatch.setenv("OPTSEARCH_CACHE", str(tmp_path))
    d = ROOT / "docs" / "discovered"
    files = f"{d / 'discovery4_194534.opt'},{d / 'discovery4_194534_simplified.opt'}"
    discover.main(["verify", "--programs", files, "--tasks", "quadratic", "--size", "small",
                   "--seeds", "1", "--first-seed", "10", "--device", "cpu"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    row = out["results"]["small"]["quadratic"]
    assert out["seeds"] == [10]
    assert row["p194534"] == row["p194534_simplified"]       # simplification kept the rule
    assert row["adamw"][0] <= 1e-9 and row["sgd"][0] < row["adamw"][0] + 1e-9


def test_figures_from_saved_json(discover, tmp_path):
    report = {"heldout": ["a", "b"], "programs": [{"id": 7, "heldout": {"a": 0.1, "b": -10.0}}],
              "references": {"adamw": {"a": 0.0, "b": 0.0}}}
    (tmp_path / "r.json").write_text(json.dumps(report))
    lines = [{"seeds": [s, s + 1], "results": {"large": {"a": {"p": [0.02, 1.0],
                                                                "sgd": [-1.0, 8.0]}}}}
             for s in (10, 20)]
    (tmp_path / "v.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    prefix = tmp_path / "fig"
    out = discover.cmd_figures(type("A", (), {"report": str(tmp_path / "r.json"),
                                              "verify": str(tmp_path / "v.jsonl"),
                                              "task": "a", "size": "large",
                                              "prefix": str(prefix)})())
    assert [Path(p).name for p in out["written"]] == ["fig_heldout.png", "fig_verify_a_large.png"]
    assert all(Path(p).stat().st_size > 1000 for p in out["written"])
