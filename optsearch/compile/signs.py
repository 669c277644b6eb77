"""A small sign analysis: when is a value provably nonzero, so that division needs no guard?

The safe division ``x / y`` is ``where(y == 0, 0, x / y)``; the foreach path divides
plainly when it can prove ``y > 0`` (or NaN) from how ``y`` was computed, e.g. ``sqrt(v) +
eps`` under the host condition ``eps > 0``, tested once per step.
"""

from __future__ import annotations

from optsearch.compile.lower import Plan, Ref

class Signs:
    """Host conditions under which a value is > 0 (``pos``) or >= 0 (``nonneg``), NaN allowed.

    ``None`` means unknown. A host value is tested directly at run time (``x > 0``), so
    the conditions only ever name host values.
    """

    NONNEG = {"sqrt", "abs", "square", "exp", "sigmoid", "cosh", "pow", "norm", "rms",
              "numel", "rowsize", "ndim", "gt"}
    POS = {"cosh", "numel", "rowsize"}

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.defs = {op.dst: op for op in plan.ops}

    def pos(self, ref: Ref, depth: int = 0) -> list[str] | None:
        if isinstance(ref, float):
            return [] if ref > 0 else None
        if self.plan.kinds[ref] == "h":
            return [f"{ref} > 0"]
        op = self.defs.get(ref)
        if op is None or depth > 32:
            return None
        a = op.args
        if op.prim in self.POS:
            return []
        if op.prim == "add":
            return (_both(self.nonneg(a[0], depth + 1), self.pos(a[1], depth + 1))
                    or _both(self.pos(a[0], depth + 1), self.nonneg(a[1], depth + 1)))
        if op.prim == "maximum":
            return self.pos(a[0], depth + 1) or self.pos(a[1], depth + 1)
        if op.prim == "minimum":
            return _both(self.pos(a[0], depth + 1), self.pos(a[1], depth + 1))
        return None

    def nonneg(self, ref: Ref, depth: int = 0) -> list[str] | None:
        if isinstance(ref, float):
            return [] if ref >= 0 else None
        if self.plan.kinds[ref] == "h":
            return [f"{ref} >= 0"]
        op = self.defs.get(ref)
        if op is None or depth > 32:
            return None
        a = op.args
        if op.prim in self.NONNEG:
            return []
        if op.prim in ("add", "mul", "div", "minimum"):
            return _both(self.nonneg(a[0], depth + 1), self.nonneg(a[1], depth + 1))
        if op.prim == "maximum":
            return self.nonneg(a[0], depth + 1) or self.nonneg(a[1], depth + 1)
        if op.prim == "interp" and self.plan.kind(a[2]) == "h":
            inner = _both(self.nonneg(a[0], depth + 1), self.nonneg(a[1], depth + 1))
            if isinstance(a[2], float):
                return inner if 0 <= a[2] <= 1 else None
            return _both(inner, [f"0 <= {a[2]} <= 1"])
        return None


def _both(x: list[str] | None, y: list[str] | None) -> list[str] | None:
    if x is None or y is None:
        return None
    return x + [c for c in y if c not in x]
