"""Parser and printer: round trip (hypothesis) and one clear error per kind of bad input."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from optsearch import ParseError, known, known_names, parse, parse_all, parse_file
from optsearch.analysis import state_vars
from optsearch.printer import to_text
from optsearch.program import Call, Const, Var
from tests.strategies import programs


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_print_parse_round_trip(p):
    assert parse(to_text(p)) == p


@pytest.mark.parametrize("name", known_names())
def test_known_rules_round_trip(name):
    p = known(name)
    assert parse(str(p)) == p
    assert p.doc and ("arXiv" in p.doc or "http" in p.doc or "19" in p.doc or "20" in p.doc)


def test_state_inference():
    p = parse("def f(w, g, lr, b=0.9):\n    c = interp(g, m, b)\n    m = c * 2\n"
              "    u = c + w\n    return lr * u\n")
    assert state_vars(p) == ("m",)
    assert p.body[0].value == Call("interp", (Var("g"), Var("m"), Var("b")))


def test_operators_and_constants():
    p = parse("def f(w, g, lr, t):\n    x = -g ** 2 - -0.5 * (g - w) / 2\n    return lr * x ** -0.5 + t\n")
    assert parse(str(p)) == p
    assert p.body[0].value.op == "sub"
    assert Const(-0.5) in [a for a in p.body[0].value.args[1].args[0].args]


def test_augmented_assignment():
    p = parse("def f(w, g, lr):\n    m += g\n    return lr * m\n")
    assert p.body[0].value == Call("add", (Var("m"), Var("g")))
    assert state_vars(p) == ("m",)


def _error(text) -> ParseError:
    with pytest.raises(ParseError) as e:
        parse(text)
    return e.value


@pytest.mark.parametrize("body, line, col, fragment", [
    ("    m = sgn(g)\n    return lr * m", 2, 9, "did you mean 'sign'"),
    ("    m = sign(g, g)\n    return lr * m", 2, 9, "takes 1 argument, got 2"),
    ("    return lr * q", 2, 17, "undefined name 'q'"),
    ("    u = g\n    return lr * uu", 3, 17, "did you mean 'u'"),
    ("    import os\n    return g", 2, 5, "import"),
    ("    m = g.sign()\n    return lr * m", 2, 9, "attribute access"),
    ("    m = foo(g)\n    return lr * m", 2, 9, "unknown primitive 'foo'"),
    ("    m = w(g)\n    return lr * m", 2, 9, "not a primitive"),
    ("    m = 'abc'\n    return lr * m", 2, 9, "real numbers"),
    ("    m = True\n    return lr * m", 2, 9, "real numbers"),
    ("    m = 1e400\n    return lr * m", 2, 9, "not finite"),
    ("    m = g", 1, 1, "no return"),
    ("    if g:\n        m = g\n    return g", 2, 5, "if statement"),
    ("    for i in g:\n        m = g\n    return g", 2, 5, "for loop"),
    ("    m = lambda x: x\n    return g", 2, 9, "lambda"),
    ("    m = [x for x in g]\n    return g", 2, 9, "comprehension"),
    ("    m = f'{g}'\n    return g", 2, 9, "f-string"),
    ("    m = (y := g)\n    return g", 2, 10, "walrus"),
    ("    m = sign(*g)\n    return g", 2, 14, "starred"),
    ("    m = __import__(g)\n    return g", 2, 9, "not allowed"),
    ("    g = g * 2\n    return g", 2, 5, "cannot assign to input"),
    ("    m = g\n    return g\n    m = w", 4, 5, "after return"),
    ("    m = g < w\n    return g", 2, 9, "comparison"),
    ("    sign = g\n    return g", 2, 5, "is a primitive"),
])
def test_errors_name_line_and_column(body, line, col, fragment):
    err = _error("def f(w, g, lr):\n" + body + "\n")
    assert (err.line, err.col) == (line, col), str(err)
    assert fragment in str(err)


def test_hyperparameter_errors():
    assert "not an input" in str(_error("def f(w, g, lr, beta):\n    return g\n"))
    assert "real numbers" in str(_error("def f(w, g, lr, b='x'):\n    return g\n"))
    e = _error("def f(w, g, lr, b=0.5):\n    b = g\n    return g\n")
    assert "hyperparameter" in str(e) and e.line == 2


def test_not_utf8_and_nul_and_size(tmp_path):
    bad = tmp_path / "bad.opt"
    bad.write_bytes(b"def f(w, g, lr):\n    return g \xff\n")
    with pytest.raises(ParseError) as e:
        parse_file(bad)
    assert "UTF-8" in str(e.value) and str(bad) in str(e.value) and e.value.line == 2
    with pytest.raises(ParseError, match="NUL"):
        parse("def f(w, g, lr):\n    return g\x00\n")
    big = tmp_path / "big.opt"
    big.write_bytes(b"#" * 10_000_000)
    with pytest.raises(ParseError, match="limit"):
        parse_file(big)
    with pytest.raises(ParseError, match="cannot read"):
        parse_file(tmp_path / "missing.opt")


@pytest.mark.parametrize("text", [
    "def f(w, g, lr):\n    return " + "(" * 10_000 + "g" + ")" * 10_000 + "\n",
    "def f(w, g, lr):\n    return " + "-" * 10_000 + "g\n",
    "def f(w, g, lr):\n    return " + "sign(" * 10_000 + "g" + ")" * 10_000 + "\n",
    "def f(w, g, lr):\n    return g" + " + g" * 10_000 + "\n",
])
def test_deep_nesting_is_a_clear_error(text):
    with pytest.raises(ParseError) as e:
        parse(text)
    assert "nest" in str(e.value) or "syntax" in str(e.value)


def test_file_of_several_programs(tmp_path):
    f = tmp_path / "two.opt"
    f.write_text("def a(w, g, lr):\n    return lr * g\n\ndef b(w, g, lr):\n    return lr * sign(g)\n")
    assert [p.name for p in parse_file(f)] == ["a", "b"]
    with pytest.raises(ParseError, match="expected one program"):
        parse(f.read_text())
    assert len(parse_all(f.read_text())) == 2
