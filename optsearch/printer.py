"""IR -> canonical program text. ``parse(to_text(p)) == p`` for every valid program."""

from __future__ import annotations

from primitives import REGISTRY
from optsearch.program import INPUTS, Call, Const, Expr, Program, Var, reads

# Python precedence levels for the operators the language prints infix.
_PREC = {"add": 1, "sub": 1, "mul": 2, "div": 2, "neg": 3, "pow": 4}
_ATOM = 10


def format_const(value: float) -> str:
    """Shortest text that parses back to exactly ``value``."""
    text = repr(float(value))
    return text


def _prec(e: Expr) -> int:
    if isinstance(e, Const):
        return 3 if e.value < 0 or str(e.value).startswith("-") else _ATOM
    if isinstance(e, Call) and e.op in _PREC and not _is_neg_const(e):
        return _PREC[e.op]
    return _ATOM


def _is_neg_const(e: Expr) -> bool:
    # neg(Const) prints as a call, since "-0.5" parses back as the constant -0.5.
    return isinstance(e, Call) and e.op == "neg" and isinstance(e.args[0], Const)


def expr_text(e: Expr) -> str:
    if isinstance(e, Const):
        return format_const(e.value)
    if isinstance(e, Var):
        return e.name
    if _is_neg_const(e):
        return f"neg({expr_text(e.args[0])})"
    if e.op == "neg":
        (x,) = e.args
        inner = expr_text(x)
        # ``-x ** 2`` is ``-(x ** 2)`` in Python, so pow may stand bare under neg.
        return f"-{inner}" if _prec(x) >= _PREC["neg"] else f"-({inner})"
    prim = REGISTRY[e.op]
    if prim.infix is not None and len(e.args) == 2:
        left, right = e.args
        p = _PREC[e.op]
        lt, rt = expr_text(left), expr_text(right)
        if e.op == "pow":  # right-associative, binds tighter than unary minus on its left
            if _prec(left) <= p:
                lt = f"({lt})"
            if _prec(right) < p and not (isinstance(right, Const)):
                rt = f"({rt})"
            if isinstance(right, Const) and right.value < 0:
                rt = f"({rt})"
        else:
            if _prec(left) < p:
                lt = f"({lt})"
            if _prec(right) <= p:
                rt = f"({rt})"
        return f"{lt} {prim.infix} {rt}"
    return f"{e.op}({', '.join(expr_text(a) for a in e.args)})"


def signature(program: Program) -> str:
    used = set()
    for s in program.body:
        used.update(reads(s.value))
    used.update(reads(program.ret))
    inputs = [n for n in INPUTS if n in ("w", "g", "lr") or n in used]
    hyper = [f"{k}={format_const(v)}" for k, v in program.hyperparams]
    return f"def {program.name}({', '.join(inputs + hyper)}):"


def to_text(program: Program) -> str:
    lines = [signature(program)]
    if program.doc:
        lines.append(f"    {_doc_literal(program.doc)}")
    for s in program.body:
        lines.append(f"    {s.target} = {expr_text(s.value)}")
    lines.append(f"    return {expr_text(program.ret)}")
    return "\n".join(lines) + "\n"


def _doc_literal(doc: str) -> str:
    if '"""' not in doc and "\\" not in doc and not doc.endswith('"'):
        return f'"""{doc}"""'
    return repr(doc)
