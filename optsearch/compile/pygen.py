"""Python source for a program's host, eager and foreach functions, generated from its IR.

The source is *generated* from the validated, lowered IR (never from user text) using each
primitive's ``codegen`` template; :func:`load` compiles it with ``compile``/``exec`` into a
namespace holding only the runtime helpers, just as torch.compile turns traced graphs into
Python/Triton source. ``optsearch export`` writes the same source into standalone files.

Three functions come out (names fixed; see compile/runtime.py for their callers):

- ``_host(lr, t, *hyper)``: the host scalars (float64 Python floats), once per step;
- ``_eager(w, g, *state, *host)``: one tensor, a direct transcription of the templates;
- ``_foreach(w, g, *state, *host, ws)``: lists of tensors (compile/foreach.py).
"""

from __future__ import annotations

import linecache
from types import MappingProxyType
from typing import Callable, Mapping

from primitives import REGISTRY
from optsearch.compile import runtime
from optsearch.compile.lower import Plan, Ref

# Python-float forms of the primitives for host scalars (checked against each primitive's
# scalar form in tests/compile/test_templates.py). Primitives missing here use their
# codegen template on float64 torch scalars, which is slower but always right.
HOST: Mapping[str, str] = MappingProxyType({
    "add": "({0} + {1})", "sub": "({0} - {1})", "mul": "({0} * {1})", "div": "_hdiv({0}, {1})",
    "neg": "(-{0})", "abs": "abs({0})", "sign": "_hsign({0})", "sqrt": "_hsqrt({0})",
    "rsqrt": "_hrsqrt({0})", "square": "({0} * {0})", "exp": "_hexp({0})", "log": "_hlog({0})",
    "sigmoid": "_hsigmoid({0})", "tanh": "math.tanh({0})", "arcsin": "_hasin({0})",
    "arctan": "math.atan({0})", "sinh": "_hsinh({0})", "cosh": "_hcosh({0})",
    "sin": "_hsin({0})", "cos": "_hcos({0})", "interp": "((1 - {2}) * {0} + {2} * {1})",
    "clip": "_hclip({0}, {1})", "maximum": "_hmax({0}, {1})", "minimum": "_hmin({0}, {1})",
    "pow": "_hpow({0}, {1})", "gt": "_hgt({0}, {1})",
    # reductions and shaped primitives of a host value: a float is a one-element tensor
    "norm": "abs({0})", "rms": "abs({0})", "mean": "(+{0})", "dot": "({0} * {1})",
    "amax": "(+{0})", "numel": "1.0", "rowdot": "({0} * {1})", "rowsize": "1.0", "ndim": "0.0",
})


def lit(ref: Ref) -> str:
    """A reference as Python source: a name, or a float literal (parenthesised if negative)."""
    if isinstance(ref, str):
        return ref
    text = repr(float(ref))
    return f"({text})" if text.startswith("-") else text


def host_expr(prim: str, args: list[str]) -> str:
    if prim in HOST:
        return HOST[prim].format(*args)
    return "float(" + REGISTRY[prim].codegen.format(*[f"_f64({a})" for a in args]) + ")"


def host_params(plan: Plan, extra: list[str]) -> list[str]:
    """Host values the per-tensor functions take: what the ops read, then ``extra``."""
    out = list(plan.host_used)
    out += [x for x in extra if x not in out]
    return out


def host_source(plan: Plan, params: list[str]) -> str:
    hyper = ", ".join(["lr", "t", *(ssa for _, ssa in plan.hyper)])
    lines = [f"def _host({hyper}):",
             '    """Host scalars for one step (float64, as the reference interpreter)."""']
    if plan.inputs["lr"] != "lr" or plan.inputs["t"] != "t":
        raise AssertionError("lr and t keep their names")  # guaranteed by lower()
    for op in plan.host_ops:
        lines.append(f"    {op.dst} = {host_expr(op.prim, [lit(a) for a in op.args])}")
    ret = ", ".join(params)
    lines.append(f"    return ({ret}{',' if len(params) == 1 else ''})")
    return "\n".join(lines) + "\n"


def eager_source(plan: Plan, params: list[str]) -> str:
    """One tensor at a time, each operation exactly its primitive's codegen template."""
    state_in = [ssa for _, ssa in plan.state]
    sig = ", ".join(["w", "g", *state_in, *params])
    lines = [f"def _eager({sig}):",
             '    """One step for one tensor; updates w and the state tensors in place."""']
    for op in plan.ops:
        expr = REGISTRY[op.prim].codegen.format(*[lit(a) for a in op.args])
        lines.append(f"    {op.dst} = {expr}")
    writes, ret = _writes(plan, "    ")
    lines += writes
    lines.append(f"    w.sub_({ret})")
    return "\n".join(lines) + "\n"


def _writes(plan: Plan, pad: str) -> tuple[list[str], str]:
    """New state into the state tensors, every source read before anything is written.

    Returns the lines and the expression for the update (applied after them).
    """
    entry = dict(plan.state)
    written = {entry[name]: name for name, _ in plan.state_out}
    lines: list[str] = []

    def source(value: Ref, owner: str | None) -> str:
        if isinstance(value, str) and value in written and written[value] != owner:
            old = f"_old_{value}"
            if not any(line.startswith(f"{pad}{old} =") for line in lines):
                lines.append(f"{pad}{old} = {value}.clone()")
            return old
        return lit(value)

    sources = [(name, source(value, name)) for name, value in plan.state_out]
    ret = source(plan.ret, None)
    for (name, value), (_, src) in zip(plan.state_out, sources):
        verb = "fill_" if plan.kind(value) == "h" else "copy_"
        lines.append(f"{pad}{entry[name]}.{verb}({src})")
    return lines, ret


def module_source(plan: Plan) -> str:
    """The three generated functions of ``plan``, as one Python source text."""
    from optsearch.compile.foreach import foreach_source

    body, extra = foreach_source(plan)
    params = host_params(plan, extra)
    sig = ", ".join(["w", "g", *(ssa for _, ssa in plan.state), *params, "ws=None"])
    foreach = (f"def _foreach({sig}):\n"
               '    """One step for lists of tensors (one per parameter), in place; ws keeps\n'
               '    scratch lists between steps (None: allocate)."""\n' + body)
    return "\n\n".join([host_source(plan, params), eager_source(plan, params), foreach])


def load(plan: Plan, source: str | None = None) -> dict[str, Callable]:
    """Compile the generated source of ``plan``; returns ``{"_host": ..., "_eager": ..., ...}``.

    The text comes from :func:`module_source` (generated from the IR, not user input); it
    runs in a namespace holding only the runtime module's helpers.
    """
    source = source or module_source(plan)
    filename = f"<optsearch-generated-{plan.key}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {k: v for k, v in vars(runtime).items() if not k.startswith("__")}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - generated from the IR
    return {k: namespace[k] for k in ("_host", "_eager", "_foreach")}
