"""Loading what `optsearch compare` compares: names, .opt files, .py files, run ids."""

from __future__ import annotations

import pytest
import torch

from optsearch.compare.candidates import CandidateError, load_candidate, unique_labels


def _one_step(candidate, lr=0.1):
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = candidate.make([w], lr)
    w.grad = torch.tensor([0.5, 0.5])
    opt.step()
    return w.detach()


def test_known_name_builds_a_working_optimizer():
    c = load_candidate("sgd")
    assert (c.label, c.kind) == ("sgd", "known")
    assert torch.allclose(_one_step(c), torch.tensor([0.95, -2.05]))


def test_unknown_name_is_a_clear_error_with_a_suggestion():
    with pytest.raises(CandidateError, match=r"unknown rule 'adamww'.*did you mean 'adamw'"):
        load_candidate("adamww")


def test_missing_files_are_named(tmp_path):
    with pytest.raises(CandidateError, match=r"program file '.*nope\.opt' not found"):
        load_candidate(str(tmp_path / "nope.opt"))
    with pytest.raises(CandidateError, match=r"optimizer file '.*nope\.py' not found"):
        load_candidate(str(tmp_path / "nope.py"))


def test_opt_file_and_picking_one_def(tmp_path):
    path = tmp_path / "rules.opt"
    path.write_text("def half(w, g, lr):\n    return 0.5 * lr * g\n\n"
                    "def double(w, g, lr):\n    return 2.0 * lr * g\n")
    with pytest.raises(CandidateError, match="holds 2 programs"):
        load_candidate(str(path))
    c = load_candidate(f"{path}:double")
    assert c.label == "double"
    assert torch.allclose(_one_step(c), torch.tensor([0.9, -2.1]))
    with pytest.raises(CandidateError, match=r"no program 'triple'.*half, double"):
        load_candidate(f"{path}:triple")


def test_py_file_is_loaded_by_path(files):
    c = load_candidate(files["good_opt"])
    assert (c.label, c.kind) == ("plain_sgd.py:PlainSGD", "py")
    assert torch.allclose(_one_step(c), torch.tensor([0.95, -2.05]))


def test_py_file_raising_at_import_names_file_and_line(files):
    with pytest.raises(CandidateError, match=r"raised while being imported: ValueError: "
                                             r"broken at import \(at raising_import\.py:4\)"):
        load_candidate(files["raising_import"])


def test_py_file_with_two_optimizers_needs_a_class_name(files):
    with pytest.raises(CandidateError, match=r"exactly one.*OtherSGD, PlainSGD"):
        load_candidate(files["two_classes"])
    assert load_candidate(files["two_classes"] + ":OtherSGD").label == "two.py:OtherSGD"
    with pytest.raises(CandidateError, match="no optimizer class 'Nope'"):
        load_candidate(files["two_classes"] + ":Nope")


def test_run_reference(tmp_path, monkeypatch):
    from optsearch.store.runs import ProgramRow, RunStore

    store = RunStore.create(tmp_path, "r0", {})
    store.add_programs([ProgramRow(0, 0, 0, "def found(w, g, lr):\n    return lr * sign(g)\n",
                                   "fp", None, None, "init", 0.5, [], 1.0, None, None)])
    store.close()
    monkeypatch.setenv("OPTSEARCH_RUNS_DIR", str(tmp_path))
    c = load_candidate("r0:0")
    assert (c.label, c.kind) == ("r0:0", "run")
    assert torch.allclose(_one_step(c), torch.tensor([0.9, -2.1]))
    with pytest.raises(CandidateError, match="no program 7"):
        load_candidate("r0:7")
    with pytest.raises(CandidateError, match="no run 'r9'"):
        load_candidate("r9:0")


def test_duplicate_labels_are_made_unique():
    labels = [c.label for c in unique_labels([load_candidate("lion"), load_candidate("lion")])]
    assert labels == ["lion", "lion#2"]


def test_exported_file_matches_the_rule(tmp_path):
    """A file written by `optsearch export` (a shared base class + the optimizer) loads by
    path and steps exactly like the rule it came from."""
    from optsearch.cli import main

    path = tmp_path / "lion_export.py"
    if main(["export", "lion", "-o", str(path)]) != 0:
        pytest.skip("optsearch export is not available")
    exported = load_candidate(str(path))
    assert exported.kind == "py" and exported.label.startswith("lion_export.py:")
    torch.manual_seed(0)
    w0, grads = torch.randn(5), [torch.randn(5) for _ in range(3)]
    out = []
    for cand in (exported, load_candidate("lion")):
        w = torch.nn.Parameter(w0.clone())
        opt = cand.make([w], 0.01)
        for g in grads:
            w.grad = g.clone()
            opt.step()
        out.append(w.detach())
    torch.testing.assert_close(out[0], out[1], rtol=0, atol=1e-7)
