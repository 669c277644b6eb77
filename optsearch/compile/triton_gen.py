"""Triton source for the fused path, generated from the lowered IR with the ``triton`` templates.

One kernel per *phase*. A program without reductions has one phase: each program instance
reads a block of one tensor (w, g, state), computes the whole rule in registers and writes
w and the changed state once, so the kernel moves exactly the bytes that must move. Many
tensors share one launch: a block table maps program instances to (tensor, offset), and a
pointer table holds each tensor's addresses (16-byte alignment asserted when true, so loads
are 128-bit). Reductions (``norm``, ``dot``... and per-row ``rowdot``) need a finished pass
before their result is used: phase k accumulates the reductions of depth k (block partial
sums, then one atomic per block) and the last phase computes everything else, reading them.

Reduction and shaped templates use a tiny notation: ``_sum(x)`` / ``_max(x)`` (per tensor),
``_rowsum(x)`` (per row) accumulate ``x`` in an earlier phase; ``_numel``, ``_rowsize``,
``_ndim`` are per-tensor facts from the table. Everything else is plain Triton.
"""

from __future__ import annotations

from dataclasses import dataclass

from primitives import REGISTRY
from optsearch.compile.lower import Op, Plan, Ref

ACCUMULATORS = ("_sum(", "_max(", "_rowsum(")
_COMPLEMENT = "(1.0 - {2})"  # in interp's template
# pointer-table rows after w, g and the states
FACTS = ("NUMEL", "ROWS", "ROWSIZE", "NDIM", "ROWBASE")


@dataclass(frozen=True)
class Barrier:
    """A reduction whose result needs a finished pass."""

    op: Op
    acc: str      # "sum" | "max" | "rowsum"
    inner: str    # per-element term (template text with {0} {1} ...)
    outer: str    # result from the accumulated value ``{acc}``
    slot: int     # index among barriers of the same storage (RED or ROW)
    level: int    # phase that accumulates it (1-based)


@dataclass(frozen=True)
class KernelSpec:
    """The generated source and what the driver needs to launch it."""

    source: str
    phases: int
    n_red: int                    # per-tensor accumulators (sum/max) per tensor
    red_max: tuple[int, ...]      # which RED slots take a max (initialised to -inf)
    n_row: int                    # per-row accumulators
    host: tuple[str, ...]         # host argument names, in order
    state: tuple[str, ...]        # state variables, in table order
    complement: tuple[int, ...]   # then 1 - host[i] for each i here (float64 on the host)


def split_template(template: str) -> tuple[str, str, str] | None:
    """``(acc, inner, outer)`` of a template with one accumulator call, else None."""
    hits = [(template.find(a), a) for a in ACCUMULATORS if a in template]
    if not hits:
        return None
    if len(hits) > 1 or sum(template.count(a) for a in ACCUMULATORS) > 1:
        raise ValueError(f"template {template!r} has more than one accumulator")
    at, name = hits[0]
    depth, i = 0, at + len(name) - 1
    for i in range(at + len(name) - 1, len(template)):
        depth += {"(": 1, ")": -1}.get(template[i], 0)
        if depth == 0:
            break
    inner = template[at + len(name):i]
    outer = template[:at] + "{acc}" + template[i + 1:]
    return name[1:-1], inner, outer


def unsupported_reason(plan: Plan) -> str | None:
    for op in plan.ops:
        entry = REGISTRY[op.prim]
        if not entry.triton:
            return f"primitive {op.prim!r} has no Triton template"
        if entry.kind != "elementwise":
            try:
                split_template(entry.triton)
            except ValueError as e:
                return str(e)
    return None


def _lit(ref: Ref) -> str:
    if isinstance(ref, str):
        return ref
    text = repr(float(ref))
    return f"({text})" if text.startswith("-") else text


class _Gen:
    def __init__(self, plan: Plan, host: list[str]) -> None:
        self.plan = plan
        self.host = host
        self.state = [name for name, _ in plan.state]
        self.entry = {ssa: name for name, ssa in plan.state}
        self.row = {f: 2 + len(self.state) + i for i, f in enumerate(FACTS)}
        self.barriers: dict[str, Barrier] = {}
        self.level: dict[str, int] = {}
        n_red = n_row = 0
        red_max: list[int] = []
        for op in plan.ops:
            base = max([self.level.get(a, 0) for a in op.args if isinstance(a, str)] or [0])
            parts = None
            if REGISTRY[op.prim].kind != "elementwise" and op.domain != "s":
                parts = split_template(REGISTRY[op.prim].triton)
            if parts is not None and not (parts[0] == "rowsum" and op.domain == "r"):
                acc, inner, outer = parts
                if acc == "rowsum":
                    slot, n_row = n_row, n_row + 1
                else:
                    slot, n_red = n_red, n_red + 1
                    if acc == "max":
                        red_max.append(slot)
                self.barriers[op.dst] = Barrier(op, acc, inner, outer, slot, base + 1)
                self.level[op.dst] = base + 1
            else:
                self.level[op.dst] = base
        self.n_red, self.n_row, self.red_max = n_red, n_row, tuple(red_max)
        # interp(x, y, a) = (1 - a) * x + a * y: for a host value a, 1 - a is computed on the
        # host in float64, as the interpreter does (in float32, 1 - 0.999 is off by 1e-5)
        self.complement: dict[str, str] = {}
        for op in plan.ops:
            a = op.args[-1]
            if op.prim == "interp" and isinstance(a, str) and plan.kind(a) == "h":
                self.complement.setdefault(a, f"_one_minus_{a}")
        self.phases = 1 + max([b.level for b in self.barriers.values()] or [0])

    # -- expressions ------------------------------------------------------------------
    @staticmethod
    def _facts(template: str, domain: str) -> str:
        numel = {"e": "_n.to(tl.float32)", "r": "_rows_f", "s": "1.0"}[domain]
        return (template.replace("_numel", numel).replace("_rowsize", "_rowsize_f")
                .replace("_ndim", "_ndim_f"))

    def _expr(self, op: Op, loaded: dict[str, str]) -> str:
        args = [_lit(a) for a in op.args]
        entry = REGISTRY[op.prim]
        if op.dst in self.barriers:
            b = self.barriers[op.dst]
            return self._facts(b.outer, op.domain).format(*args, acc=loaded[op.dst])
        parts = split_template(entry.triton) if entry.kind != "elementwise" else None
        if parts is not None:  # accumulates over one value (or over rows of per-row values)
            _, inner, outer = parts
            value = "(" + self._facts(inner, op.domain).format(*args) + ")"
            return self._facts(outer, op.domain).format(*args, acc=value)
        template = self._facts(entry.triton, op.domain)
        if op.prim == "interp" and self.plan.kind(op.args[2]) == "h" and _COMPLEMENT in template:
            a = op.args[2]
            c = self.complement[a] if isinstance(a, str) else _lit(1.0 - a)
            return template.replace(_COMPLEMENT, "{3}").format(*args, c)
        return template.format(*args)

    def _needs(self, roots: list[str], stop: set[str]) -> list[Op]:
        """Ops (in order) needed to compute ``roots``; barrier results in ``stop`` are loaded."""
        need: set[str] = set()
        stack = list(roots)
        defs = self.plan.defs
        while stack:
            x = stack.pop()
            if x in need or x not in defs or defs[x].kind == "h":
                continue
            need.add(x)
            if x not in stop:
                stack.extend(a for a in defs[x].args if isinstance(a, str))
        return [op for op in self.plan.ops if op.dst in need]

    # -- kernels ----------------------------------------------------------------------
    def kernel(self, phase: int) -> str:
        """Source of one phase; internal names start with ``_`` (SSA names never do)."""
        final = phase == self.phases
        done = {d for d, b in self.barriers.items() if b.level < phase}
        accum = [b for b in self.barriers.values() if b.level == phase]
        if final:
            roots = [r for r in [self.plan.ret, *(v for _, v in self.plan.state_out)]
                     if isinstance(r, str)]
        else:
            roots = [a for b in accum for a in b.op.args if isinstance(a, str)]
        ops = self._needs(roots, done)
        reads = {a for op in ops for a in op.args if isinstance(a, str)} | set(roots)
        if final:
            reads.add("w")
        host = "".join(f", {h}" for h in [*self.host, *self.complement.values()])
        L = ["@triton.jit",
             f"def phase{phase}(_TAB, _BLK, _RED, _ROW, _NT, _NRED, _NROWS{host}, "
             "_BLOCK: tl.constexpr, _WDT: tl.constexpr, _GDT: tl.constexpr, "
             "_ALIGNED: tl.constexpr, _MAXIMIZE: tl.constexpr):",
             "    _pid = tl.program_id(0)",
             "    _tid = tl.load(_BLK + 2 * _pid)",
             "    _start = tl.multiple_of(tl.load(_BLK + 2 * _pid + 1), _BLOCK)",
             f"    _n = tl.load(_TAB + {self.row['NUMEL']} * _NT + _tid)",
             "    if _ALIGNED:",
             "        _n = tl.multiple_of(_n, 16)",
             "    _offs = _start + tl.arange(0, _BLOCK)",
             "    _mask = _offs < _n"]
        text = " ".join(REGISTRY[op.prim].triton for op in ops)
        text += " ".join(b.inner + b.outer for b in accum)
        if (any(b.acc == "rowsum" for b in self.barriers.values() if b.level <= phase)
                or any(op.domain == "r" for op in ops + [b.op for b in accum])
                or "_rowsize" in text):
            L += [f"    _rowsize = tl.load(_TAB + {self.row['ROWSIZE']} * _NT + _tid)",
                  f"    _rows_f = tl.load(_TAB + {self.row['ROWS']} * _NT + _tid).to(tl.float32)",
                  "    _rowsize_f = _rowsize.to(tl.float32)",
                  f"    _row = tl.load(_TAB + {self.row['ROWBASE']} * _NT + _tid) + _offs // _rowsize"]
        if "_ndim" in text:
            L.append(f"    _ndim_f = tl.load(_TAB + {self.row['NDIM']} * _NT + _tid).to(tl.float32)")
        pointers = {"w": (0, "_WDT"), "g": (1, "_GDT")}
        for i, (_, ssa) in enumerate(self.plan.state):
            pointers[ssa] = (2 + i, "tl.float32")
        written = {dict(self.plan.state)[name] for name, _ in self.plan.state_out} if final else set()
        written |= {"w"} if final else set()
        for ssa, (row, dtype) in pointers.items():
            if ssa not in reads and ssa not in written:
                continue
            L += [f"    _p_{ssa} = tl.load(_TAB + {row} * _NT + _tid).to(tl.pointer_type({dtype}))",
                  "    if _ALIGNED:",
                  f"        _p_{ssa} = tl.multiple_of(_p_{ssa}, 16)"]
            if ssa in reads:
                L.append(f"    {ssa} = tl.load(_p_{ssa} + _offs, mask=_mask, other=0.0)"
                         ".to(tl.float32)")
        if "g" in reads:
            L += ["    if _MAXIMIZE:", "        g = -g"]
        loaded: dict[str, str] = {}
        for d in sorted(done & {op.dst for op in ops}):
            b = self.barriers[d]
            if b.acc == "rowsum":
                loaded[d] = f"tl.load(_ROW + {b.slot} * _NROWS + _row, mask=_mask, other=0.0)"
            else:
                loaded[d] = f"tl.load(_RED + _tid * _NRED + {b.slot})"
        for op in ops:
            L.append(f"    {op.dst} = {self._expr(op, loaded)}")
        if not final:
            for b in accum:
                term = self._facts(b.inner, b.op.domain).format(*[_lit(a) for a in b.op.args])
                m = "_mask" if b.op.domain == "e" else "_mask & (_offs % _rowsize == 0)"
                if b.acc == "sum":
                    L.append(f"    tl.atomic_add(_RED + _tid * _NRED + {b.slot}, "
                             f"tl.sum(tl.where({m}, {term}, 0.0), axis=0))")
                elif b.acc == "max":
                    L.append(f"    tl.atomic_max(_RED + _tid * _NRED + {b.slot}, "
                             f"tl.max(tl.where({m}, {term}, float('-inf')), axis=0))")
                else:
                    L.append(f"    tl.atomic_add(_ROW + {b.slot} * _NROWS + _row, "
                             f"tl.zeros([_BLOCK], tl.float32) + ({term}), mask=_mask)")
            return "\n".join(L) + "\n"
        for name, value in self.plan.state_out:
            ssa = dict(self.plan.state)[name]
            L.append(f"    tl.store(_p_{ssa} + _offs, {self._full(value)}, mask=_mask)")
        L.append(f"    tl.store(_p_w + _offs, (w - {self._full(self.plan.ret)}).to(_WDT), mask=_mask)")
        return "\n".join(L) + "\n"

    def _full(self, ref: Ref) -> str:
        """A value as a [BLOCK] vector (values of other kinds are broadcast)."""
        if isinstance(ref, str) and self.plan.kind(ref) in ("e", "r"):
            return ref
        return f"(tl.zeros([_BLOCK], tl.float32) + {_lit(ref)})"


def kernel_spec(plan: Plan, host: list[str]) -> KernelSpec:
    """The fused kernels of ``plan``; ``host`` names the host values passed, in order."""
    gen = _Gen(plan, host)
    head = ("import triton\nimport triton.language as tl\n"
            "from triton.language.extra import libdevice\n\n\n")
    body = "\n\n".join(gen.kernel(p) for p in range(1, gen.phases + 1))
    return KernelSpec(head + body, gen.phases, gen.n_red, gen.red_max, gen.n_row,
                      tuple(host), tuple(gen.state), tuple(host.index(a) for a in gen.complement))
