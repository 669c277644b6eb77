"""`optsearch simplify` and `optsearch diff` end to end."""

from __future__ import annotations

from optsearch.cli import main

RAW = """def found(w, g, lr):
    a = interp(g, m, 0.9)
    b = 3.0 * a
    dead = exp(w)
    u = sign(tanh(b)) + 0.1 * w
    m = interp(g, m, 0.99)
    return lr * u
"""


def test_simplify_prints_passes_result_verdict_and_recognition(tmp_path, capsys):
    f = tmp_path / "found.opt"
    f.write_text(RAW)
    assert main(["simplify", str(f), "--latex"]) == 0
    out = capsys.readouterr().out
    assert "# --- original" in out and "# --- result" in out
    assert "pass 1:" in out and "remove dead code" in out and "sign invariance" in out
    assert "sign(interp(g, m, 0.9))" in out
    assert "# equivalence: same rule" in out
    assert "# recognised: lion with wd = 0.1" in out
    assert r"\Delta w =" in out and r"\operatorname{sign}" in out


def test_simplify_known_name_quiet(capsys):
    assert main(["simplify", "adamw", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("def adamw(") and "# ---" not in out


def test_simplify_absorb_lr_reports_factor(tmp_path, capsys):
    f = tmp_path / "p.opt"
    f.write_text("def p(w, g, lr):\n    return lr * 0.0002 * sign(g)\n")
    assert main(["simplify", str(f), "--absorb-lr", "--no-recognize"]) == 0
    out = capsys.readouterr().out
    assert "lr absorbed a factor 0.0002" in out and "same rule" in out


def test_simplify_bad_target_is_a_clear_error(capsys):
    assert main(["simplify", "adamx"]) == 2
    err = capsys.readouterr().err
    assert "unknown rule 'adamx'" in err and "Traceback" not in err


def test_diff_same_and_different(tmp_path, capsys):
    f = tmp_path / "found.opt"
    f.write_text(RAW.replace("0.1 * w", "0.0 * w"))
    assert main(["diff", "lion", str(f), "--no-recognize"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("same rule")
    assert main(["diff", "lion", "signum"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("different rules (numeric)") and "step" in out
    assert "+" in out and "-" in out  # a line diff of the simplified forms
    assert "lion: lion" in out and "signum: signum" in out
