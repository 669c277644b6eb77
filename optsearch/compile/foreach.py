"""The foreach path: a lowered program as ``torch._foreach_*`` calls over lists of tensors.

Cost model. On the CPU a fresh tensor costs about ten passes over memory (page faults), and
on any device every pass costs bandwidth, so each value lives in a *buffer* and operations
run in place (the foreach ``op_`` forms):

- into the state buffer the value ends up in, once the state's old value is dead
  (``m = interp(g, m, beta1)`` is ``_foreach_lerp_(m, g, 1 - beta1)``);
- else into the buffer of a dead temporary argument;
- else into a scratch list (``_slot``), copied from one argument first.

A few fused forms save passes and temporaries: ``a + h * b`` is ``add_(a, b, alpha=h)``,
``a + b * c`` is ``addcmul_``, ``interp(b * c, s, h)`` is ``mul_`` then ``addcmul_``, and an
update ``h * x`` is applied as ``add_(w, x, alpha=-h)``. The safe division needs
``where(y == 0, 0, x / y)``; when a small sign analysis proves the divisor nonzero under
conditions on host values (``eps > 0``), the code tests them once per step and divides with
``_foreach_div_``. Operations without a form (and those on per-tensor or per-row values)
apply the primitive's codegen template tensor by tensor.
"""

from __future__ import annotations

from primitives import REGISTRY
from optsearch.compile.foreach_forms import ELEMENT_LIST_OPS, FORMS, Alt
from optsearch.compile.lower import Op, Plan, Ref
from optsearch.compile.pygen import lit
from optsearch.compile.signs import Signs


class _Gen:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.lines: list[str] = []
        self.extra: list[str] = []  # host values named in conditions
        self.signs = Signs(plan)
        self.state_entry = dict(plan.state)
        self.final = {v: name for name, v in plan.state_out if isinstance(v, str)}
        self.uses = plan.uses()
        self.absorbed: dict[str, Op] = {}
        self.fused_form: dict[str, tuple[str, ...]] = {}
        self._plan_fusions()
        self.last = self._last_uses()
        # buffers: "w", "g", "state:NAME", "slot:K", "own:NAME"; who holds each
        self.buf: dict[str, str] = {"w": "w", "g": "g"}
        for name, ssa in plan.state:
            self.buf[ssa] = f"state:{name}"
        self.free: list[int] = []
        self.nslots = 0

    # -- analysis -------------------------------------------------------------------
    def _single_mul(self, ref: Ref, want: str) -> Op | None:
        """The op defining ``ref`` when it is a mul used once, of the wanted shape."""
        if not isinstance(ref, str) or self.uses.get(ref, 0) != 1:
            return None
        op = self.signs.defs.get(ref)
        if op is None or op.prim != "mul" or op.kind != "e":
            return None
        kinds = [self.plan.kind(a) for a in op.args]
        if want == "h*e" and sorted(kinds) == ["e", "h"]:
            return op
        if want == "e*e" and kinds == ["e", "e"]:
            return op
        return None

    def _plan_fusions(self) -> None:
        plan = self.plan
        for op in plan.ops:
            if op.kind != "e":
                continue
            k = [plan.kind(a) for a in op.args]
            if op.prim in ("add", "sub"):
                for acc, other in ((0, 1), (1, 0)):
                    if op.prim == "sub" and acc == 1:
                        continue
                    if k[acc] != "e":
                        continue
                    m = self._single_mul(op.args[other], "h*e")
                    if m is not None:
                        h, x = (m.args if plan.kind(m.args[0]) == "h" else m.args[::-1])
                        sign = "-" if op.prim == "sub" else ""
                        self.absorbed[m.dst] = m
                        self.fused_form[op.dst] = ("axpy", str(acc), lit(x), f"{sign}{lit(h)}")
                        break
                    m = self._single_mul(op.args[other], "e*e")
                    if m is not None and op.prim == "add":
                        self.absorbed[m.dst] = m
                        self.fused_form[op.dst] = ("addcmul", str(acc), lit(m.args[0]), lit(m.args[1]))
                        break
            elif op.prim == "interp" and k[1] == "e" and k[2] == "h":
                m = self._single_mul(op.args[0], "e*e")
                if m is not None:
                    self.absorbed[m.dst] = m
                    self.fused_form[op.dst] = ("emacmul", "1", lit(m.args[0]), lit(m.args[1]),
                                               lit(op.args[2]))
        self._plan_update()

    def _plan_update(self) -> None:
        """Fold the update into the write of w: ``add_(w, x, alpha=-h)``, ``addcdiv_``."""
        plan, ret = self.plan, self.plan.ret
        self.ret_form: tuple[str, ...] | None = None
        self.ret_divisor: Ref = 0.0
        if not isinstance(ret, str) or ret in self.final or ret not in self.signs.defs:
            return
        op = self.signs.defs[ret]
        kinds = [plan.kind(a) for a in op.args]
        if op.kind != "e":
            return
        if op.prim == "mul" and sorted(kinds) == ["e", "h"]:
            h, x = op.args if kinds[0] == "h" else op.args[::-1]
            inner = self.signs.defs.get(x)
            if (inner is not None and inner.prim == "div" and self.uses.get(x) == 1
                    and [plan.kind(a) for a in inner.args] == ["e", "e"]):
                self.absorbed.update({ret: op, x: inner})
                self.ret_divisor = inner.args[1]
                self.ret_form = ("addcdiv", lit(inner.args[0]), lit(inner.args[1]), f"-{lit(h)}")
            else:
                self.absorbed[ret] = op
                self.ret_form = ("axpy", lit(x), f"-{lit(h)}")
        elif op.prim == "div" and kinds == ["e", "e"]:
            a, y = op.args
            m = self._single_mul(a, "h*e")
            self.absorbed[ret] = op
            self.ret_divisor = y
            if m is not None:
                h, x = m.args if plan.kind(m.args[0]) == "h" else m.args[::-1]
                self.absorbed[a] = m
                self.ret_form = ("addcdiv", lit(x), lit(y), f"-{lit(h)}")
            else:
                self.ret_form = ("addcdiv", lit(a), lit(y), "-1.0")

    def _reads(self, op: Op) -> list[str]:
        out = []
        for a in op.args:
            if isinstance(a, str):
                if a in self.absorbed:
                    out += [x for x in self.absorbed[a].args if isinstance(x, str)]
                else:
                    out.append(a)
        return out

    def _last_uses(self) -> dict[str, int]:
        end = len(self.plan.ops)
        last: dict[str, int] = {}
        for i, op in enumerate(self.plan.ops):
            if op.dst in self.absorbed:
                continue
            for a in self._reads(op):
                last[a] = i
        tail = [self.plan.ret] + [v for _, v in self.plan.state_out] + self._ret_reads()
        for r in tail:
            if isinstance(r, str):
                last[r] = end
        return last

    def _ret_reads(self) -> list[str]:
        if self.ret_form is None:
            return []
        refs = self.ret_form[1:3] if self.ret_form[0] == "addcdiv" else self.ret_form[1:2]
        return [r for r in refs if r.isidentifier()]

    def _dead_after(self, ref: str, i: int) -> bool:
        return self.last.get(ref, -1) <= i

    # -- buffers --------------------------------------------------------------------
    def _writable(self, ref: Ref, i: int, dst: str) -> bool:
        """May ``dst`` be computed in place over the buffer holding ``ref`` at op ``i``?"""
        if not isinstance(ref, str) or self.plan.kind(ref) != "e" or not self._dead_after(ref, i):
            return False
        buf = self.buf.get(ref, "")
        if buf.startswith(("slot:", "own:")):
            return True
        if buf.startswith("state:"):
            return self.final.get(dst) == buf[len("state:"):]
        return False

    def _new_slot(self, name: str) -> None:
        k = self.free.pop(0) if self.free else self.nslots
        self.nslots = max(self.nslots, k + 1)
        self.lines.append(f"{name} = _slot(ws, {k}, w)")
        self.buf[name] = f"slot:{k}"

    def _release(self, i: int) -> None:
        for ref, buf in list(self.buf.items()):
            if buf.startswith("slot:") and self._dead_after(ref, i) and ref not in self.final:
                k = int(buf[5:])
                held = [r for r, b in self.buf.items() if b == buf and not self._dead_after(r, i)]
                if not held and k not in self.free:
                    self.free.append(k)
                    self.free.sort()

    # -- emission -------------------------------------------------------------------
    def emit(self) -> str:
        for i, op in enumerate(self.plan.ops):
            if op.dst in self.absorbed:
                continue
            self.lines.append(f"# {op.dst} = {op.prim}({', '.join(map(lit, op.args))})")
            if not self._emit_inplace(i, op):
                self._emit_generic(op)
            self._release(i)
        self._emit_tail()
        return "".join(f"    {line}\n" for line in self.lines)

    def _alternatives(self, op: Op) -> list[Alt]:
        kinds = [self.plan.kind(a) for a in op.args]
        if op.dst in self.fused_form:
            form = self.fused_form[op.dst]
            if form[0] == "axpy":
                return [(int(form[1]), [f"torch._foreach_add_({{D}}, {form[2]}, alpha={form[3]})"])]
            if form[0] == "addcmul":
                return [(int(form[1]), [f"torch._foreach_addcmul_({{D}}, {form[2]}, {form[3]})"])]
            return [(1, [f"torch._foreach_mul_({{D}}, {form[4]})",
                         f"torch._foreach_addcmul_({{D}}, {form[2]}, {form[3]}, value=1 - {form[4]})"])]
        if op.kind != "e" or op.prim not in FORMS:
            return []
        alts = FORMS[op.prim](kinds)
        ok = []
        for acc, stmts in alts:
            others = [kinds[j] for j in range(len(kinds)) if j != acc]
            if kinds[acc] != "e":
                continue
            lists_ok = all(k in ("h", "e") for k in others) or all(
                s == "DIV" or any(f"_foreach_{m}" in s for m in ELEMENT_LIST_OPS) for s in stmts)
            if lists_ok:
                ok.append((acc, stmts))
        return ok

    def _emit_inplace(self, i: int, op: Op) -> bool:
        best: tuple[int, int, str] | None = None  # (cost, acc, mode)
        for n, (acc, _) in enumerate(self._alternatives(op)):
            a = op.args[acc]
            state = self.final.get(op.dst)
            if self._writable(a, i, op.dst):
                cand = (0, n, "inplace")
            elif state is not None and self._state_free(state, i, op):
                cand = (1, n, "state")
            else:
                cand = (2, n, "slot")
            best = cand if best is None or cand < best else best
        if best is None:
            return False
        acc, stmts = self._alternatives(op)[best[1]]
        a = op.args[acc]
        if best[2] == "inplace":
            dest = a
        elif best[2] == "state":
            dest = self.state_entry[self.final[op.dst]]
            self.lines.append(f"torch._foreach_copy_({dest}, {a})")
        else:
            self._new_slot(op.dst)
            dest = op.dst
            self.lines.append(f"torch._foreach_copy_({dest}, {a})")
        args = [lit(x) for x in op.args]
        for s in stmts:
            if s == "DIV":
                self._emit_div(dest, op.args[1])
            else:
                self.lines.append(s.format(*args, D=dest))
        if dest != op.dst:
            self.lines.append(f"{op.dst} = {dest}")
            self.buf[op.dst] = self.buf[dest] if dest in self.buf else self.buf[a]
        return True

    def _state_free(self, state: str, i: int, op: Op) -> bool:
        """Is the state buffer free to receive ``op``'s result (its old value dead, unread)?"""
        holders = [r for r, b in self.buf.items() if b == f"state:{state}"]
        if any(not self._dead_after(r, i) for r in holders):
            return False
        return not any(r in self._reads(op) for r in holders)

    def _emit_div(self, dest: str, divisor: Ref) -> None:
        cond = self.signs.pos(divisor)
        d = lit(divisor)
        if cond == []:
            self.lines.append(f"torch._foreach_div_({dest}, {d})")
            return
        if cond is None:
            self.lines.append(f"_safe_div_({dest}, {d})")
            return
        self._note_extra(cond)
        self.lines.append(f"if {' and '.join(cond)}:  # divisor > 0: plain division is safe")
        self.lines.append(f"    torch._foreach_div_({dest}, {d})")
        self.lines.append("else:")
        self.lines.append(f"    _safe_div_({dest}, {d})")

    def _note_extra(self, cond: list[str]) -> None:
        """Host values named in ``cond`` become parameters of the generated function."""
        for c in cond:
            name = c.split()[2] if c.startswith("0 <=") else c.split()[0]
            if name not in self.extra:
                self.extra.append(name)

    def _emit_generic(self, op: Op) -> None:
        """The codegen template, tensor by tensor (allocates: used off the hot paths)."""
        lists = [a for a in dict.fromkeys(op.args) if isinstance(a, str) and self.plan.kind(a) != "h"]
        var = {a: f"_{j}" for j, a in enumerate(lists)}
        args = [var.get(a, lit(a)) if isinstance(a, str) else lit(a) for a in op.args]
        expr = REGISTRY[op.prim].codegen.format(*args)
        if op.prim == "norm" and self.plan.kind(op.args[0]) == "e":
            self.lines.append(f"{op.dst} = list(torch._foreach_norm({op.args[0]}))")
            self.buf[op.dst] = f"own:{op.dst}"
            return
        loop = ", ".join(var[a] for a in lists)
        src = lists[0] if len(lists) == 1 else f"zip({', '.join(lists)})"
        self.lines.append(f"{op.dst} = [{expr} for {loop} in {src}]")
        self.buf[op.dst] = f"own:{op.dst}"

    def _emit_tail(self) -> None:
        plan = self.plan
        entry = self.state_entry
        pending = [(name, v) for name, v in plan.state_out
                   if not (isinstance(v, str) and self.buf.get(v) == f"state:{name}")]
        targets = {f"state:{name}" for name, _ in pending}
        renamed: dict[str, str] = {}
        sources = [v for _, v in pending] + [plan.ret] + self._ret_reads()
        for v in sources:  # values in a state buffer about to be overwritten: copy them out
            if isinstance(v, str) and self.buf.get(v) in targets and v not in renamed:
                owner = self.buf[v][len("state:"):]
                if any(name != owner or val != v for name, val in pending if name == owner):
                    renamed[v] = f"_old_{v}"
                    self.lines.append(f"_old_{v} = [x.clone() for x in {v}]")
        if pending:
            self.lines.append("# new state")
        for name, v in pending:
            dst, src = entry[name], renamed.get(v, lit(v)) if isinstance(v, str) else lit(v)
            kind = plan.kind(v)
            if kind == "e":
                self.lines.append(f"torch._foreach_copy_({dst}, {src})")
            elif kind == "h":
                self.lines.append(f"for _s in {dst}: _s.fill_({src})")
            else:
                self.lines.append(f"for _s, _v in zip({dst}, {src}): _s.copy_(_v)")
        self.lines.append("# w <- w - update")
        ret, form = plan.ret, self.ret_form
        if form is not None and form[0] == "axpy":
            self.lines.append(f"torch._foreach_add_(w, {renamed.get(form[1], form[1])}, "
                              f"alpha={form[2]})")
        elif form is not None:
            x, y = renamed.get(form[1], form[1]), renamed.get(form[2], form[2])
            cond = self.signs.pos(self.ret_divisor)
            fast = f"torch._foreach_addcdiv_(w, {x}, {y}, value={form[3]})"
            slow = f"_addcdiv_safe_(w, {x}, {y}, {form[3]})"
            if cond == []:
                self.lines.append(fast)
            elif cond is None:
                self.lines.append(slow)
            else:
                self._note_extra(cond)
                self.lines += [f"if {' and '.join(cond)}:  # divisor > 0: plain division is safe",
                               f"    {fast}", "else:", f"    {slow}"]
        elif plan.kind(ret) in ("h", "e"):
            self.lines.append(f"torch._foreach_sub_(w, {renamed.get(ret, lit(ret)) if isinstance(ret, str) else lit(ret)})")
        else:
            self.lines.append(f"for _w, _u in zip(w, {renamed.get(ret, ret)}): _w.sub_(_u)")


def foreach_source(plan: Plan) -> tuple[str, list[str]]:
    """Body of ``_foreach`` for ``plan`` and the extra host values its conditions read."""
    gen = _Gen(plan)
    return gen.emit(), gen.extra
