"""Foreach forms of the primitives: in-place ``torch._foreach_*`` sequences (compile/foreach.py).

An entry maps argument kinds to alternatives ``(acc, statements)``: the destination list
``{D}`` must first hold argument ``acc``; the statements then turn it into the result in
place, reading the other arguments ``{0} {1} ...`` (lists, or host scalars). Each form
computes what the primitive's codegen template computes (tests/compile/test_paths.py).
A primitive without an entry runs its codegen template tensor by tensor.
"""

from __future__ import annotations

from typing import Callable

Alt = tuple[int, list[str]]  # (argument D must hold, statements with {D} and {0} {1} ...)
ELEMENT_LIST_OPS = ("add_", "sub_", "mul_")


def _unary(*methods: str) -> Callable[[list[str]], list[Alt]]:
    def forms(kinds: list[str]) -> list[Alt]:
        return [(0, [f"torch._foreach_{m}({{D}})" for m in methods])]
    return forms


def _log(kinds: list[str]) -> list[Alt]:
    return [(0, ["torch._foreach_abs_({D})",
                 "torch._foreach_add_({D}, torch.finfo({D}[0].dtype).tiny)",
                 "torch._foreach_log_({D})"])]


def _commutative(method: str) -> Callable[[list[str]], list[Alt]]:
    def forms(kinds: list[str]) -> list[Alt]:
        return [(0, [f"torch._foreach_{method}({{D}}, {{1}})"]),
                (1, [f"torch._foreach_{method}({{D}}, {{0}})"])]
    return forms


def _sub(kinds: list[str]) -> list[Alt]:
    return [(0, ["torch._foreach_sub_({D}, {1})"]),
            (1, ["torch._foreach_neg_({D})", "torch._foreach_add_({D}, {0})"])]


def _div(kinds: list[str]) -> list[Alt]:
    if kinds[1] == "h":
        return [(0, ["torch._foreach_div_({D}, {1}) if {1} != 0 else "
                     "torch._foreach_mul_({D}, 0.0)"])]
    return [(0, ["DIV"])]  # guarded division, rendered by _Gen


def _interp(kinds: list[str]) -> list[Alt]:
    if kinds[2] != "h":
        return []
    alts: list[Alt] = []
    if kinds[0] == "e":
        alts.append((1, ["torch._foreach_lerp_({D}, {0}, 1.0 - {2})"]))
    elif kinds[0] == "h":
        alts.append((1, ["torch._foreach_mul_({D}, {2})", "torch._foreach_add_({D}, (1 - {2}) * {0})"]))
    if kinds[1] == "e":
        alts.append((0, ["torch._foreach_lerp_({D}, {1}, {2})"]))
    return alts


def _clip(kinds: list[str]) -> list[Alt]:
    if kinds[1] != "h":
        return []
    return [(0, ["torch._foreach_clamp_min_({D}, -abs({1}))",
                 "torch._foreach_clamp_max_({D}, abs({1}))"])]


def _extreme(name: str, clamp: str) -> Callable[[list[str]], list[Alt]]:
    def forms(kinds: list[str]) -> list[Alt]:
        if kinds[1] == "h":
            return [(0, [f"torch._foreach_{clamp}_({{D}}, {{1}})"])]
        if kinds[0] == "h":
            return [(1, [f"torch._foreach_{clamp}_({{D}}, {{0}})"])]
        if kinds[0] == kinds[1] == "e":
            return [(0, [f"torch._foreach_{name}_({{D}}, {{1}})"]),
                    (1, [f"torch._foreach_{name}_({{D}}, {{0}})"])]
        return []
    return forms


def _pow(kinds: list[str]) -> list[Alt]:
    if kinds[1] not in ("h", "e"):
        return []
    return [(0, ["torch._foreach_abs_({D})", "torch._foreach_pow_({D}, {1})"])]


FORMS: dict[str, Callable[[list[str]], list[Alt]]] = {
    "add": _commutative("add_"), "mul": _commutative("mul_"), "sub": _sub, "div": _div,
    "neg": _unary("neg_"), "abs": _unary("abs_"), "sign": _unary("sign_"),
    "sqrt": _unary("abs_", "sqrt_"),
    "square": lambda kinds: [(0, ["torch._foreach_mul_({D}, {D})"])],
    "exp": _unary("exp_"), "log": _log, "sigmoid": _unary("sigmoid_"), "tanh": _unary("tanh_"),
    "arcsin": lambda kinds: [(0, ["torch._foreach_clamp_min_({D}, -1.0)",
                                  "torch._foreach_clamp_max_({D}, 1.0)",
                                  "torch._foreach_asin_({D})"])],
    "arctan": _unary("atan_"), "sinh": _unary("sinh_"), "cosh": _unary("cosh_"),
    "sin": _unary("sin_"), "cos": _unary("cos_"), "interp": _interp, "clip": _clip,
    "maximum": _extreme("maximum", "clamp_min"), "minimum": _extreme("minimum", "clamp_max"),
    "pow": _pow,
}
