"""The one definition of a primitive: every form of it lives in a single frozen entry.

A primitive has four executable forms that must agree (a registry test checks them all):
``torch`` (tensors, the engine), ``scalar`` (Python floats, host-side folding of
hyperparameter-only subexpressions), ``sympy`` (symbolic form for simplification) and
``codegen`` (an expression template for generated code: the standalone export and the
fused kernels). Keeping them in one place is what keeps them from drifting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

Kind = Literal["elementwise", "reduction", "shaped"]


@dataclass(frozen=True, slots=True)
class Primitive:
    """A registry entry.

    Attributes:
        name: the name programs call it by.
        arity: number of arguments.
        kind: ``"elementwise"`` or ``"reduction"`` (a per-tensor reduction whose result
            broadcasts back; for reductions ``torch`` takes a keyword ``lane_dims``: the
            number of leading dimensions that are *not* reduced, so the batched evaluator
            reduces per lane), or ``"shaped"`` (needs the tensor's shape, not only its
            elements: per-row reductions and shape queries, see primitives/shaped.py;
            ``torch`` takes ``lane_dims`` as for reductions).
        torch: safe tensor semantics; accepts tensors or Python floats in any argument
            (at least one is a tensor when the engine calls it).
        scalar: the same semantics on Python floats (returns float; never raises).
        sympy: symbolic form. Elementwise: takes sympy expressions. Reduction: takes lists
            of sympy expressions (the tensor's elements) and returns one expression.
            Shaped: takes ``sympy.Array``s (elements with their shape).
        codegen: Python/torch expression template for generated code, with ``{0}``,
            ``{1}``... for the arguments (tensors, or Python floats where another argument
            is a tensor); ``torch`` and the helpers of compile/runtime.py (``_div``,
            ``_rsqrt``, ``_log``, ``_clip``, ``_maximum``, ``_norm``... written into every
            generated file) are in scope.
        triton: Triton expression template for fused kernels. Reductions and shaped
            primitives write ``_sum(x)``, ``_max(x)`` or ``_rowsum(x)`` for a sum or max of
            ``x`` that an earlier pass accumulates, and ``_numel``, ``_rowsize``, ``_ndim``
            for per-tensor facts (compile/triton_gen.py).
        doc: one line, including the safe-form convention when there is one.
        infix: operator symbol when the printer writes it as an operator (``+``...).
        weight: default sampling weight for random program generation.
    """

    name: str
    arity: int
    kind: Kind
    torch: Callable
    scalar: Callable
    sympy: Callable
    codegen: str
    triton: str
    doc: str
    infix: str | None = None
    weight: float = 1.0
    tags: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.kind not in ("elementwise", "reduction", "shaped"):
            raise ValueError(f"primitive {self.name!r}: kind must be elementwise, reduction "
                             "or shaped")
        if self.arity < 1:
            raise ValueError(f"primitive {self.name!r}: arity must be >= 1")
