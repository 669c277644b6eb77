"""Program text -> IR, through Python's ``ast`` and a whitelist. Nothing is ever executed.

Every rejection is a :class:`~optsearch.errors.ParseError` naming line and column and,
where one exists, a suggestion. Limits on size, nesting and statement count are checked
before any recursive step, so hostile input cannot exhaust the stack or memory.
"""

from __future__ import annotations

import ast
import difflib
import math
import warnings
from pathlib import Path

from primitives import INFIX, REGISTRY, suggest
from optsearch.errors import ParseError
from optsearch.program import INPUTS, Assign, Call, Const, Expr, Program, Var

MAX_SOURCE_BYTES = 1_000_000
MAX_DEPTH = 64
MAX_STATEMENTS = 256

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}

# Friendly names for rejected syntax.
_WHAT = {
    ast.Attribute: "attribute access", ast.Lambda: "a lambda", ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension", ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator expression", ast.JoinedStr: "an f-string",
    ast.NamedExpr: "the walrus operator", ast.Starred: "a starred argument",
    ast.Subscript: "subscripting", ast.Compare: "a comparison", ast.BoolOp: "a boolean operator",
    ast.IfExp: "a conditional expression", ast.List: "a list", ast.Tuple: "a tuple",
    ast.Dict: "a dict", ast.Set: "a set", ast.Await: "await", ast.Yield: "yield",
    ast.YieldFrom: "yield", ast.Slice: "a slice",
    ast.Import: "an import", ast.ImportFrom: "an import", ast.If: "an if statement",
    ast.For: "a for loop", ast.While: "a while loop", ast.With: "a with statement",
    ast.ClassDef: "a class", ast.Global: "a global statement", ast.Nonlocal: "a nonlocal statement",
    ast.Delete: "del", ast.Assert: "assert", ast.Raise: "raise", ast.Try: "try",
    ast.Pass: "pass", ast.Expr: "an expression statement", ast.AnnAssign: "an annotated assignment",
    ast.AsyncFunctionDef: "an async def", ast.FunctionDef: "a nested def",
}


def _what(node: ast.AST) -> str:
    return _WHAT.get(type(node), type(node).__name__)


def _err(node: ast.AST | None, message: str, hint: str | None = None) -> ParseError:
    line = getattr(node, "lineno", None)
    col = getattr(node, "col_offset", None)
    return ParseError(message, line, None if col is None else col + 1, hint)


def _decode(source: str | bytes) -> str:
    if isinstance(source, bytes):
        if len(source) > MAX_SOURCE_BYTES:
            raise ParseError(f"program text is {len(source):,} bytes; the limit is "
                             f"{MAX_SOURCE_BYTES:,}")
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError as e:
            line = source[: e.start].count(b"\n") + 1
            col = e.start - (source.rfind(b"\n", 0, e.start) + 1) + 1
            raise ParseError(f"not valid UTF-8 (byte 0x{source[e.start]:02x})", line, col) from None
    if len(source.encode("utf-8", "surrogatepass")) > MAX_SOURCE_BYTES:
        raise ParseError(f"program text is over the limit of {MAX_SOURCE_BYTES:,} bytes")
    nul = source.find("\x00")
    if nul >= 0:
        line = source.count("\n", 0, nul) + 1
        raise ParseError("NUL byte in program text", line, nul - (source.rfind("\n", 0, nul) + 1) + 1)
    return source


def _check_depth(tree: ast.AST) -> None:
    """Reject expressions nested deeper than MAX_DEPTH, without recursing."""
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, d = stack.pop()
        if d > MAX_DEPTH + 8:  # +8: module/def/statement levels above the expression
            raise _err(node, f"expression nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))


def _syntax_tree(source: str) -> ast.Module:
    try:
        with warnings.catch_warnings():  # e.g. "invalid decimal literal": we report errors ourselves
            warnings.simplefilter("ignore")
            tree = ast.parse(source, mode="exec")
    except SyntaxError as e:
        raise ParseError(f"syntax error: {e.msg}", e.lineno, e.offset) from None
    except (RecursionError, MemoryError):
        raise ParseError(f"program nested too deeply (limit {MAX_DEPTH} levels)") from None
    _check_depth(tree)
    return tree


def _number(node: ast.AST, negate: bool = False) -> float:
    value = node.value  # type: ignore[attr-defined]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = type(value).__name__
        raise _err(node, f"constants must be real numbers, found {kind} {value!r}"[:200])
    try:
        f = float(value)
    except OverflowError:
        raise _err(node, "integer constant too large for a float") from None
    if not math.isfinite(f):
        raise _err(node, f"constant {value!r} is not finite"[:200],
                   "constants must be finite floats")
    return -f if negate else f


class _Converter:
    """Turns one ``def`` into a Program, tracking scope for name errors."""

    def __init__(self, fn: ast.FunctionDef) -> None:
        self.fn = fn
        self.hyper: dict[str, float] = {}
        self.assigned: set[str] = set()
        self.pending: dict[str, ast.Name] = {}  # read before assigned: state, if assigned later

    def program(self) -> Program:
        fn = self.fn
        if fn.decorator_list:
            raise _err(fn.decorator_list[0], "decorators are not allowed")
        if fn.returns is not None:
            raise _err(fn.returns, "return annotations are not allowed")
        self._signature(fn.args)
        body = list(fn.body)
        doc = None
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            doc = body[0].value.value
            body = body[1:]
        if len(body) > MAX_STATEMENTS + 1:
            raise _err(body[MAX_STATEMENTS], f"more than {MAX_STATEMENTS} statements")
        stmts: list[Assign] = []
        ret: Expr | None = None
        for i, node in enumerate(body):
            if isinstance(node, ast.Return):
                if node.value is None:
                    raise _err(node, "return needs a value: the update")
                if i != len(body) - 1:
                    raise _err(body[i + 1], "statement after return", "return must be last")
                ret = self._expr(node.value)
            elif isinstance(node, ast.Assign):
                if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
                    raise _err(node, "assign to exactly one plain name")
                value = self._expr(node.value)
                stmts.append(self._assign(node.targets[0], value))
            elif isinstance(node, ast.AugAssign):
                if not isinstance(node.target, ast.Name):
                    raise _err(node, "assign to exactly one plain name")
                op = _BINOPS.get(type(node.op))
                if op is None:
                    raise _err(node, f"operator {type(node.op).__name__} is not in the language",
                               "use + - * / **")
                current = self._name(ast.Name(node.target.id, ast.Load(), lineno=node.lineno,
                                              col_offset=node.col_offset))
                value = Call(INFIX[op], (current, self._expr(node.value)))
                stmts.append(self._assign(node.target, value))
            else:
                raise _err(node, f"{_what(node)} is not allowed",
                           "a program is assignments followed by one return")
        if ret is None:
            raise _err(fn, f"program {fn.name!r} has no return statement",
                       "end it with 'return <update>'")
        for name, node in self.pending.items():
            if name not in self.assigned:
                known = sorted(set(INPUTS) | set(self.hyper) | self.assigned)
                close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else \
                    "a name read before it is assigned is state, so it must be assigned somewhere"
                raise _err(node, f"undefined name {name!r}", hint)
        return Program(fn.name, tuple(self.hyper.items()), tuple(stmts), ret, doc)

    def _signature(self, args: ast.arguments) -> None:
        for bad, what in ((args.vararg, "*args"), (args.kwarg, "**kwargs")):
            if bad is not None:
                raise _err(bad, f"{what} is not allowed")
        if args.posonlyargs or args.kwonlyargs:
            node = (args.posonlyargs or args.kwonlyargs)[0]
            raise _err(node, "positional-only and keyword-only parameters are not allowed")
        plain = args.args[: len(args.args) - len(args.defaults)]
        with_default = args.args[len(plain):]
        for a in args.args:
            if a.annotation is not None:
                raise _err(a.annotation, "annotations are not allowed")
            self._check_name(a, a.arg)
        for a in plain:
            if a.arg not in INPUTS:
                raise _err(a, f"parameter {a.arg!r} is not an input ({', '.join(INPUTS)})",
                           "give it a default value to make it a hyperparameter")
        for a, d in zip(with_default, args.defaults):
            if a.arg in INPUTS:
                raise _err(a, f"input {a.arg!r} cannot have a default")
            if a.arg in self.hyper:
                raise _err(a, f"duplicate parameter {a.arg!r}")
            if isinstance(d, ast.UnaryOp) and isinstance(d.op, (ast.USub, ast.UAdd)) \
                    and isinstance(d.operand, ast.Constant):
                value = _number(d.operand, negate=isinstance(d.op, ast.USub))
            elif isinstance(d, ast.Constant):
                value = _number(d)
            else:
                raise _err(d, f"default of {a.arg!r} must be a number")
            self.hyper[a.arg] = value
        seen = [a.arg for a in plain]
        if len(set(seen)) != len(seen):
            raise _err(self.fn, "duplicate parameter")

    def _check_name(self, node: ast.AST, name: str) -> None:
        if name.startswith("__") or name.startswith("_"):
            raise _err(node, f"name {name!r} is not allowed", "names may not start with '_'")
        if name in REGISTRY:
            raise _err(node, f"{name!r} is a primitive and cannot be used as a name")

    def _assign(self, target: ast.Name, value: Expr) -> Assign:
        name = target.id
        self._check_name(target, name)
        if name in INPUTS:
            raise _err(target, f"cannot assign to input {name!r}")
        if name in self.hyper:
            raise _err(target, f"cannot assign to hyperparameter {name!r}",
                       "hyperparameters are constants; use a new name")
        self.assigned.add(name)
        return Assign(name, value)

    def _name(self, node: ast.Name) -> Var:
        name = node.id
        self._check_name(node, name)
        if name not in INPUTS and name not in self.hyper and name not in self.assigned:
            self.pending.setdefault(name, node)
        return Var(name)

    def _expr(self, node: ast.AST) -> Expr:
        if isinstance(node, ast.Constant):
            return Const(_number(node))
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                if isinstance(node.operand, ast.Constant):
                    return Const(_number(node.operand, negate=True))
                return Call("neg", (self._expr(node.operand),))
            if isinstance(node.op, ast.UAdd):
                return self._expr(node.operand)
            raise _err(node, f"operator {type(node.op).__name__} is not in the language")
        if isinstance(node, ast.BinOp):
            op = _BINOPS.get(type(node.op))
            if op is None:
                raise _err(node, f"operator {type(node.op).__name__} is not in the language",
                           "use + - * / ** or a primitive")
            return Call(INFIX[op], (self._expr(node.left), self._expr(node.right)))
        if isinstance(node, ast.Call):
            return self._call(node)
        raise _err(node, f"{_what(node)} is not allowed in an expression")

    def _call(self, node: ast.Call) -> Call:
        if not isinstance(node.func, ast.Name):
            raise _err(node.func, f"{_what(node.func)} is not allowed",
                       "only primitives can be called, by their plain name")
        name = node.func.id
        if name.startswith("_"):
            raise _err(node.func, f"name {name!r} is not allowed", "names may not start with '_'")
        prim = REGISTRY.get(name)
        if prim is None:
            close = suggest(name)
            if name in INPUTS or name in self.hyper or name in self.assigned:
                raise _err(node.func, f"{name!r} is not a primitive and cannot be called")
            raise _err(node.func, f"unknown primitive {name!r}",
                       f"did you mean {close!r}?" if close else None)
        if node.keywords:
            raise _err(node.keywords[0], f"{name}() takes no keyword arguments")
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise _err(a, "a starred argument is not allowed")
        if len(node.args) != prim.arity:
            raise _err(node, f"{name}() takes {prim.arity} argument"
                             f"{'s' if prim.arity != 1 else ''}, got {len(node.args)}")
        return Call(name, tuple(self._expr(a) for a in node.args))


def parse_all(source: str | bytes, filename: str | None = None) -> list[Program]:
    """Every ``def`` of a program file, in order.

    Raises:
        ParseError: with file, line, column and a hint.
    """
    try:
        text = _decode(source)
        tree = _syntax_tree(text)
        programs: list[Program] = []
        seen: set[str] = set()
        for i, node in enumerate(tree.body):
            if isinstance(node, ast.FunctionDef):
                if node.name in seen:
                    raise _err(node, f"program {node.name!r} defined twice")
                seen.add(node.name)
                programs.append(_Converter(node).program())
            elif i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                    and isinstance(node.value.value, str):
                continue  # module docstring
            else:
                raise _err(node, f"{_what(node)} is not allowed at top level",
                           "a program file holds only 'def' programs")
        if not programs:
            raise ParseError("no program found", hint="a program starts with 'def name(w, g, lr):'")
        return programs
    except ParseError as e:
        raise (e.with_filename(filename) if filename else e) from None
    except RecursionError:
        raise ParseError(f"program nested too deeply (limit {MAX_DEPTH} levels)",
                         filename=filename) from None


def parse(source: str | bytes, filename: str | None = None) -> Program:
    """The single program in ``source`` (use :func:`parse_all` for files of several)."""
    programs = parse_all(source, filename)
    if len(programs) != 1:
        raise ParseError(f"expected one program, found {len(programs)}",
                         hint="use parse_file() for files of several programs", filename=filename)
    return programs[0]


def parse_file(path: str | Path) -> list[Program]:
    """All programs in the file at ``path``; errors name the file."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as e:
        raise ParseError(f"cannot read file: {e.strerror}", filename=str(p)) from None
    if size > MAX_SOURCE_BYTES:
        raise ParseError(f"file is {size:,} bytes; the limit is {MAX_SOURCE_BYTES:,}",
                         filename=str(p))
    return parse_all(p.read_bytes(), filename=str(p))
