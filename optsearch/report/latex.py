"""Programs as LaTeX, one line per statement, for reports.

Written from the IR as the program reads (``interp(g, m, b)`` becomes
``(1-\\beta_1)\\,g + \\beta_1\\,m``), not from the safe sympy form (whose ``inv0`` and
``|\\beta|^t`` are exact but unreadable). Names go through sympy's symbol printer
(``beta1`` -> ``\\beta_{1}``, ``mhat`` -> ``\\hat{m}``); ``lr`` is printed as ``\\eta``.
Primitives without a template here print as ``\\operatorname{name}(...)``, so a new
primitive needs no change.
"""

from __future__ import annotations

from functools import lru_cache

from optsearch.program import Const, Expr, Program, Var

# precedence: higher binds tighter
_SUM, _PRODUCT, _UNARY, _POWER, _ATOM = 1, 2, 3, 4, 5

_FUNCS = {"sign": r"\operatorname{sign}", "exp": r"\exp", "log": r"\log", "tanh": r"\tanh",
          "sigmoid": r"\sigma", "arcsin": r"\arcsin", "arctan": r"\arctan", "sinh": r"\sinh",
          "cosh": r"\cosh", "sin": r"\sin", "cos": r"\cos", "maximum": r"\max",
          "minimum": r"\min"}


_NAMES = {"lr": r"\eta", "eps": r"\epsilon", "wd": r"\lambda"}


@lru_cache(maxsize=None)
def name_latex(name: str) -> str:
    """LaTeX of a variable name: sympy's conventions (``beta1`` -> ``\\beta_{1}``), the
    usual letters for ``lr`` (eta), ``eps``, ``wd`` (lambda), upright multi-letter words."""
    if name in _NAMES:
        return _NAMES[name]
    base, sep, sub = name.partition("_")
    if sep and base and sub:
        return f"{name_latex(base)}_{{\\mathrm{{{sub}}}}}"
    import sympy as sp

    text = sp.latex(sp.Symbol(name))
    return rf"\mathrm{{{name}}}" if text == name and len(name) > 1 else text


def _wrap(text: str, prec: int, need: int) -> str:
    return rf"\left({text}\right)" if prec < need else text


def expr_latex(e: Expr) -> tuple[str, int]:
    """``(latex, precedence)`` of an expression."""
    if isinstance(e, Const):
        text = f"{e.value:g}"
        if "e" in text:
            mant, exp = text.split("e")
            text = rf"{mant} \times 10^{{{int(exp)}}}"
        return text, (_UNARY if e.value < 0 else _ATOM)
    if isinstance(e, Var):
        return name_latex(e.name), _ATOM
    a = [expr_latex(x) for x in e.args]
    op = e.op
    if op == "add":
        return f"{a[0][0]} + {_wrap(a[1][0], a[1][1], _SUM + 1) if a[1][1] == _UNARY else a[1][0]}", _SUM
    if op == "sub":
        return f"{a[0][0]} - {_wrap(a[1][0], a[1][1], _SUM + 1)}", _SUM
    if op == "mul":
        left = _wrap(a[0][0], a[0][1], _PRODUCT)
        right = _wrap(a[1][0], a[1][1], _PRODUCT + 1)
        sep = r" \cdot " if isinstance(e.args[1], Const) else r"\,"
        return f"{left}{sep}{right}", _PRODUCT
    if op == "div":
        return rf"\frac{{{a[0][0]}}}{{{a[1][0]}}}", _ATOM
    if op == "neg":
        return f"-{_wrap(a[0][0], a[0][1], _PRODUCT + 1)}", _UNARY
    if op == "pow":
        return f"{_wrap(a[0][0], a[0][1], _ATOM)}^{{{a[1][0]}}}", _POWER
    if op == "square":
        return f"{_wrap(a[0][0], a[0][1], _ATOM)}^{{2}}", _POWER
    if op == "abs":
        return rf"\left|{a[0][0]}\right|", _ATOM
    if op == "sqrt":
        return rf"\sqrt{{{a[0][0]}}}", _ATOM
    if op == "rsqrt":
        return rf"\frac{{1}}{{\sqrt{{{a[0][0]}}}}}", _ATOM
    if op == "interp":
        x, y, w = a
        one_minus = rf"\left(1 - {w[0]}\right)" if w[1] < _ATOM or len(w[0]) > 1 else f"(1 - {w[0]})"
        return (rf"{one_minus}\,{_wrap(x[0], x[1], _PRODUCT)} + "
                rf"{_wrap(w[0], w[1], _PRODUCT)}\,{_wrap(y[0], y[1], _PRODUCT)}"), _SUM
    if op in ("norm", "rms", "mean"):
        bars = {"norm": (r"\left\|", r"\right\|"), "rms": (r"\operatorname{rms}\left(", r"\right)"),
                "mean": (r"\operatorname{mean}\left(", r"\right)")}[op]
        return f"{bars[0]}{a[0][0]}{bars[1]}", _ATOM
    if op == "dot":
        return rf"\left\langle {a[0][0]}, {a[1][0]} \right\rangle", _ATOM
    func = _FUNCS.get(op, rf"\operatorname{{{op}}}")
    return rf"{func}\left({', '.join(x[0] for x in a)}\right)", _ATOM


def program_latex(program: Program) -> list[str]:
    """One LaTeX line per statement, then the update ``\\Delta w = ...``."""
    lines = [rf"{name_latex(s.target)} \leftarrow {expr_latex(s.value)[0]}" for s in program.body]
    lines.append(rf"\Delta w = {expr_latex(program.ret)[0]}")
    return lines
