"""``optsearch export``: a standalone file that trains in a fresh interpreter with only torch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import torch

import optsearch
from optsearch.cli import main
from optsearch.compile.export_py import export_source
from tests.compile._helpers import SHAPES, initial, run_optimizer

TRAIN = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {folder!r})
    import importlib
    import torch
    out = {{}}
    for module, foreach in {cases!r}:
        cls = importlib.import_module(module).MyOpt
        shapes = {shapes!r}
        gen = torch.Generator().manual_seed(1)
        params = [torch.nn.Parameter(torch.randn(s, generator=gen, dtype=torch.float64))
                  for s in shapes]
        gen = torch.Generator().manual_seed(0)
        opt = cls(params, lr=0.01, foreach=foreach)
        for _ in range({steps}):
            grads = [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]
            for p, g in zip(params, grads):
                p.grad = g
            opt.step()
        torch.manual_seed(0)  # and a model trains: the loss goes down
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        mopt = cls(model.parameters(), lr=0.01)
        x, y = torch.randn(64, 4), torch.randn(64, 1)
        losses = []
        for _ in range(60):
            mopt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            mopt.step()
            losses.append(loss.item())
        out[module] = {{"params": [p.detach().reshape(-1).tolist() for p in params],
                       "first": losses[0], "last": losses[-1]}}
    assert not any(m.startswith(("optsearch", "primitives")) for m in sys.modules)
    print(json.dumps(out))
""")
CASES = [("lion", True), ("adamw", False), ("lamb", True), ("adamp", True)]


def _grads_like_subprocess(steps: int):
    gen = torch.Generator().manual_seed(0)
    return [[torch.randn(s, generator=gen, dtype=torch.float64) for s in SHAPES] for _ in range(steps)]


def test_exported_files_train_in_a_fresh_interpreter(tmp_path):
    """Exported files import with only torch (isolated mode, no optsearch) and train."""
    cases = []
    for rule, foreach in CASES:
        path = tmp_path / f"my_{rule}.py"
        assert main(["export", rule, "-o", str(path), "--class-name", "MyOpt"]) == 0
        cases.append((path.stem, foreach))
    code = TRAIN.format(folder=str(tmp_path), cases=cases, shapes=SHAPES, steps=20)
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    for rule, foreach in CASES:
        result = results[f"my_{rule}"]
        assert result["last"] < result["first"], rule
        ours, _ = run_optimizer(optsearch.known(rule), initial(SHAPES, torch.float64, seed=1),
                                _grads_like_subprocess(20), 0.01, foreach=foreach)
        for got, want in zip(result["params"], ours):  # the same code: the same numbers
            assert torch.equal(torch.tensor(got, dtype=torch.float64), want.reshape(-1)), rule


def test_exported_text_is_readable_and_shows_the_rule():
    text = export_source(optsearch.known("adamw"), "AdamWExported", origin="adamw")
    assert text.startswith('"""AdamWExported: the optimizer rule `adamw`')
    assert "        m = interp(g, m, beta1)\n" in text  # the rule, in the docstring
    assert "class AdamWExported(GeneratedOptimizer):" in text
    assert "import optsearch" not in text and "from optsearch" not in text
    assert "torch._foreach_lerp_(m, g, 1.0 - beta1)" in text
    compile(text, "x.py", "exec")


def test_cli_errors(tmp_path, capsys):
    path = tmp_path / "a.py"
    assert main(["export", "lion", "-o", str(path)]) == 0
    assert "class Lion(GeneratedOptimizer)" in path.read_text()
    assert main(["export", "lion", "-o", str(path)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["export", "lion", "-o", str(path), "--force", "--class-name", "9x"]) == 2
    assert "not a valid public Python identifier" in capsys.readouterr().err
    assert main(["export", "lino", "-o", str(tmp_path / "b.py")]) == 2
    assert "did you mean 'lion'" in capsys.readouterr().err
    assert main(["export", "lion", "-o", str(tmp_path / "c.txt")]) == 2
    assert main(["export", "lion"]) == 0
    assert "class Lion(GeneratedOptimizer)" in capsys.readouterr().out


def test_export_from_a_program_file(tmp_path):
    src = tmp_path / "mine.opt"
    src.write_text("def mine(w, g, lr, beta=0.9):\n    m = interp(g, m, beta)\n"
                   "    return lr * sign(m)\n")
    out = tmp_path / "mine_opt.py"
    assert main(["export", str(src), "-o", str(out), "--class-name", "Mine"]) == 0
    assert "from mine_opt import Mine" in out.read_text()
