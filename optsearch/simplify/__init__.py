"""Simplify, compare and explain programs.

* :func:`simplify` -- small behaviour-preserving passes (dead code, constant folding,
  common subexpressions, inlining, sympy canonical form, sign invariance, unread state),
  run to a fixed point; :func:`simplify_report` also says which passes fired.
* :func:`equivalent` -- are two programs the same rule? Symbolic when sympy can decide,
  else numeric, with a counterexample when they differ.
* :func:`recognize` -- which known rule a program is (with which hyperparameters), or is
  nearest to, and how it differs.

See docs/simplify.md. ``optsearch.simplify(program)`` calls :func:`simplify` (this
package is callable), and accepts a known rule's name or program text too.
"""

import sys as _sys
import types as _types

from optsearch.simplify.equivalence import Counterexample, Verdict, equivalent
from optsearch.simplify.pipeline import SimplifyReport, Step, simplify, simplify_report
from optsearch.simplify.recognize import Recognition, recognize

__all__ = ["simplify", "simplify_report", "SimplifyReport", "Step", "equivalent", "Verdict",
           "Counterexample", "recognize", "Recognition"]


class _CallableModule(_types.ModuleType):
    """``optsearch.simplify(program)`` works although ``optsearch.simplify`` is this package."""

    def __call__(self, program, **kwargs):
        from optsearch import resolve

        return simplify(resolve(program), **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
