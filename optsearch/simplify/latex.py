"""A program's update in LaTeX: the whole step, temporaries inlined, state as ``m_{t}``.

Safe division prints as an ordinary fraction and reductions as operators
(``\\operatorname{norm}``); the text says what the rule computes, and the program text
remains the exact definition.
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.latex import LatexPrinter

from optsearch.program import Program
from optsearch.simplify.flow import sympy_flow
from optsearch.simplify.sympy_bridge import inv0


class _Printer(LatexPrinter):
    def _print_Function(self, expr, exp=None):
        op = getattr(type(expr), "_op", None)
        if isinstance(expr, inv0):
            return r"\frac{1}{%s}" % self._print(expr.args[0])
        if op is not None:
            args = ", ".join(self._print(a) for a in expr.args)
            text = r"\operatorname{%s}\left(%s\right)" % (op.replace("_", r"\_"), args)
            return text if exp is None else r"%s^{%s}" % (text, exp)
        return super()._print_Function(expr, exp)


def _latex(e: sp.Expr, rename: dict) -> str:
    return _Printer({"mul_symbol": "dot"}).doprint(e.xreplace(rename))


def to_latex(program: Program) -> str:
    """LaTeX lines: each state variable's new value, then the update ``\\Delta w``."""
    flow = sympy_flow(program)
    rename = {flow.symbols[s]: sp.Symbol(f"{s}_{{t-1}}") for s in flow.state_out}
    lines = [f"{s}_{{t}} = {_latex(e, rename)}" for s, e in flow.state_out.items()
             if e != flow.symbols[s]]
    lines.append(r"\Delta w = " + _latex(flow.update, rename))
    return " \\\\\n".join(lines)


__all__ = ["to_latex"]
