"""Program -> runnable torch optimizers (interpreter-backed; foreach/fused paths and export)."""

from optsearch.compile.optimizer import ProgramOptimizer, compile_program

__all__ = ["ProgramOptimizer", "compile_program"]
