"""Encoded programs -> integer instruction tables for the GPU interpreter kernel.

The kernel sees a lane's parameters as one flat row cut into blocks that never straddle
two parameter tensors and always hold whole rows, so it can give reductions and shaped
primitives their per-tensor meaning. Every value gets a class: SEG (one number per
tensor, e.g. ``norm(g)``), ROW (one per row, e.g. ``rowdot(g, w)``) or FULL. Knowing the
class at encode time turns each non-elementwise instruction into something simple:

* a reduction of a SEG value is the reduction of a one-element tensor: ``abs`` for
  norm/rms, a copy for mean/amax, ``mul`` for dot, 1 for numel;
* ``numel``/``rowsize``/``ndim`` of a ROW or FULL value are per-tensor constants;
* ``rowdot`` of FULL values is a row sum inside a block;
* any other reduction of a ROW/FULL value needs the whole tensor: it is computed in an
  extra pass (block partial sums, combined in a fixed order: deterministic).

Instruction rows are ``(opcode, dst, a, b, c, extra)``; opcodes are the elementwise
primitives (registry order) followed by the pseudo-ops below.
"""

from __future__ import annotations

from dataclasses import dataclass

from primitives import REGISTRY
from optsearch.evaluate.encode import N_REG, EncodeError, Encoded
from optsearch.evaluate.memo import IdentityCache

ELEMENTWISE: tuple[str, ...] = tuple(n for n, p in REGISTRY.items() if p.kind == "elementwise")
ELEM_CODE = {n: i for i, n in enumerate(ELEMENTWISE)}
_E = len(ELEMENTWISE)
OP_COPY, OP_ONE, OP_ZERO, OP_SEGC, OP_RED, OP_ROWDOT = range(_E, _E + 6)

SEGC_NUMEL, SEGC_ROWS, SEGC_COLS, SEGC_NDIM = range(4)

SEG_REDUCTIONS: dict[str, tuple[str, str, str]] = {
    # name: (value reduced, "sum" | "max", result from s = reduced value, d = divisor, n = count)
    "norm": ("{0} * {0}", "sum", "tl.sqrt(s / d)"),
    "rms": ("{0} * {0}", "sum", "tl.sqrt(s / d / n)"),
    "mean": ("{0}", "sum", "s / d / n"),
    "dot": ("{0} * {1}", "sum", "s / d"),
    "amax": ("{0}", "max", "s"),
}
"""Reductions the kernel computes over a whole ROW/FULL tensor. For a ROW-class argument
the elementwise sum counts each row ``cols`` times (d = cols) and n = rows; for FULL,
d = 1 and n = numel."""
RED_CODE = {n: i for i, n in enumerate(SEG_REDUCTIONS)}

KERNEL_REGS = 12
"""Registers in the generated kernel (programs needing more use the eager path)."""

HOST, SEG, ROW, FULL = 0, 1, 2, 3
_KIND = {n: (p.kind, p.arity) for n, p in REGISTRY.items()}


@dataclass(frozen=True)
class GpuProgram:
    rows: tuple[tuple[int, int, int, int, int, int], ...]
    red_pos: tuple[int, ...]       # instruction index of each whole-tensor reduction
    update: int
    state_out: tuple[int, ...]
    n_state: int
    n_columns: int


_LOWERED: IdentityCache[Encoded, GpuProgram | EncodeError] = IdentityCache(1 << 15)


def lower_cached(enc: Encoded) -> GpuProgram:
    """:func:`lower`, memoised by the encoding's identity (``encode_all`` returns the same
    object for a program it has seen, so a search lowers each program once)."""
    got = _LOWERED.get(enc)
    if got is None:
        try:
            got = lower(enc)
        except EncodeError as exc:
            got = exc
        _LOWERED.put(enc, got)
    if isinstance(got, EncodeError):
        raise EncodeError(str(got))
    return got


def clear_lowered() -> None:
    _LOWERED.clear()


def fits_kernel(enc: Encoded) -> bool:
    """Whether the GPU kernel can run this program (else it trains on the eager path)."""
    try:
        lower_cached(enc)
    except EncodeError:
        return False
    return len(enc.columns) + N_REG <= 255


def lower(enc: Encoded) -> GpuProgram:
    """Class analysis and pseudo-op selection; raises EncodeError if the kernel can't run it."""
    if enc.n_regs > KERNEL_REGS:
        raise EncodeError(f"needs {enc.n_regs} registers; the GPU kernel has {KERNEL_REGS}")
    cls = [FULL] * N_REG
    rows: list[tuple[int, int, int, int, int, int]] = []
    red_pos: list[int] = []
    for ins in enc.instrs:
        kind, arity = _KIND[ins.op]
        args = ins.args
        a = (*args, 0, 0, 0)
        top = HOST
        for o in args:
            if o < N_REG and cls[o] > top:
                top = cls[o]
        if kind == "elementwise":
            # interp with a host ``a`` carries the host's 1 - a as a 4th operand (extra = op + 1)
            extra = args[3] + 1 if len(args) > arity else 0
            rows.append((ELEM_CODE[ins.op], ins.dst, a[0], a[1], a[2], extra))
            out = top
        elif kind == "reduction":
            out = SEG
            if ins.op == "numel":
                rows.append((OP_ONE, ins.dst, 0, 0, 0, 0) if top <= SEG else
                            (OP_SEGC, ins.dst, SEGC_NUMEL if top == FULL else SEGC_ROWS, 0, 0, 0))
            elif ins.op not in SEG_REDUCTIONS:
                raise EncodeError(f"reduction {ins.op!r} has no GPU kernel form")
            elif top <= SEG:                             # reduction of one-element tensors
                if ins.op in ("norm", "rms"):
                    rows.append((ELEM_CODE["abs"], ins.dst, a[0], 0, 0, 0))
                elif ins.op == "dot":
                    rows.append((ELEM_CODE["mul"], ins.dst, a[0], a[1], 0, 0))
                else:
                    rows.append((OP_COPY, ins.dst, a[0], 0, 0, 0))
            else:
                j = len(red_pos)
                red_pos.append(len(rows))
                rows.append((OP_RED, ins.dst, a[0], a[1], j,
                             2 * RED_CODE[ins.op] + (1 if top == ROW else 0)))
        elif ins.op == "rowdot":
            if top <= ROW:                                # rows of one element
                rows.append((ELEM_CODE["mul"], ins.dst, a[0], a[1], 0, 0))
                out = top
            else:
                rows.append((OP_ROWDOT, ins.dst, a[0], a[1], 0, 0))
                out = ROW
        elif ins.op == "rowsize":
            rows.append((OP_ONE, ins.dst, 0, 0, 0, 0) if top <= ROW else
                        (OP_SEGC, ins.dst, SEGC_COLS, 0, 0, 0))
            out = SEG
        elif ins.op == "ndim":
            rows.append((OP_ZERO, ins.dst, 0, 0, 0, 0) if top <= SEG else
                        (OP_SEGC, ins.dst, SEGC_NDIM, 0, 0, 0))
            out = SEG
        else:
            raise EncodeError(f"primitive {ins.op!r} ({kind}) has no GPU kernel form")
        cls[ins.dst] = out
    return GpuProgram(tuple(rows), tuple(red_pos), enc.update, enc.state_out, enc.n_state,
                      len(enc.columns))
