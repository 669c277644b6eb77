"""Program -> runnable torch optimizers: eager, foreach and fused (Triton) paths, and export.

``optsearch.compile`` is both this package and the public function
``optsearch.compile(program_or_name, class_name=None)``: importing the package replaces the
package attribute, so the module itself is made callable with the function's meaning.
"""

import sys
from types import ModuleType

from optsearch.compile.optimizer import ProgramOptimizer, compile_program


class _CallableModule(ModuleType):
    def __call__(self, program_or_name, class_name=None):
        """The ``torch.optim.Optimizer`` subclass for a rule (see :func:`optsearch.compile`)."""
        from optsearch import resolve

        return compile_program(resolve(program_or_name), class_name)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["ProgramOptimizer", "compile_program"]
