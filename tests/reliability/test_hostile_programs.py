"""Program text is data, never code: hostile input gets a ParseError and nothing executes.

Every case below would run code, touch the file system or exhaust a resource if the text
were executed or recursed over naively. The canary checks that nothing ran.
"""

from __future__ import annotations

import builtins

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optsearch import ParseError, parse, parse_all

CANARY = "optsearch_hostile_canary"

HOSTILE = {
    "dunder name": "def f(w, g, lr):\n    x = __builtins__\n    return g\n",
    "dunder attribute chain": "def f(w, g, lr):\n    x = g.__class__.__mro__[1].__subclasses__()\n    return g\n",
    "import call": "def f(w, g, lr):\n    x = __import__('os').system('true')\n    return g\n",
    "import statement": "import os\ndef f(w, g, lr):\n    return g\n",
    "lambda": "def f(w, g, lr):\n    x = (lambda: 1)()\n    return g\n",
    "comprehension": "def f(w, g, lr):\n    x = [i for i in range(9**9)]\n    return g\n",
    "generator": "def f(w, g, lr):\n    x = sum(i for i in g)\n    return g\n",
    "f-string": "def f(w, g, lr):\n    x = f'{g!r}'\n    return g\n",
    "walrus": "def f(w, g, lr):\n    x = (y := g)\n    return g\n",
    "starred": "def f(w, g, lr):\n    x = sign(*g)\n    return g\n",
    "keyword argument": "def f(w, g, lr):\n    x = sign(x=g)\n    return g\n",
    "decorator": "@print\ndef f(w, g, lr):\n    return g\n",
    "default expression": "def f(w, g, lr, b=print('x')):\n    return g\n",
    "global side effect": "x = print('hi')\ndef f(w, g, lr):\n    return g\n",
    "exec call": "def f(w, g, lr):\n    x = exec('1')\n    return g\n",
    "eval call": "def f(w, g, lr):\n    x = eval('1')\n    return g\n",
    "open call": "def f(w, g, lr):\n    x = open('/etc/passwd')\n    return g\n",
    "subscript": "def f(w, g, lr):\n    x = g[0]\n    return g\n",
    "string constant": "def f(w, g, lr):\n    x = 'rm -rf /'\n    return g\n",
    "bytes constant": "def f(w, g, lr):\n    x = b'x'\n    return g\n",
    "complex constant": "def f(w, g, lr):\n    x = 1j\n    return g\n",
    "huge constant": "def f(w, g, lr):\n    x = 1e400\n    return g\n",
    "huge integer": "def f(w, g, lr):\n    x = " + "9" * 400 + "\n    return g\n",
    "non-finite default": "def f(w, g, lr, b=1e999):\n    return g\n",
    "class": "class A:\n    pass\n",
    "nested def": "def f(w, g, lr):\n    def h():\n        return 1\n    return g\n",
    "async def": "async def f(w, g, lr):\n    return g\n",
    "try": "def f(w, g, lr):\n    try:\n        x = g\n    except Exception:\n        x = w\n    return g\n",
    "with": "def f(w, g, lr):\n    with g:\n        x = g\n    return g\n",
    "while": "def f(w, g, lr):\n    while 1:\n        x = g\n    return g\n",
    "global": "def f(w, g, lr):\n    global x\n    x = g\n    return g\n",
    "delete": "def f(w, g, lr):\n    x = g\n    del x\n    return g\n",
    "tuple target": "def f(w, g, lr):\n    a, b = g, w\n    return g\n",
    "annotation": "def f(w, g: int, lr):\n    return g\n",
    "kwargs": "def f(w, g, lr, **k):\n    return g\n",
    "conditional": "def f(w, g, lr):\n    x = g if w else lr\n    return g\n",
    "very long line": "def f(w, g, lr):\n    x = " + " + ".join(["g"] * 200_000) + "\n    return g\n",
    "NUL byte": "def f(w, g, lr):\n    x = g\x00\n    return g\n",
    "deep parentheses": "def f(w, g, lr):\n    return " + "(" * 10_000 + "g" + ")" * 10_000 + "\n",
    "deep unary": "def f(w, g, lr):\n    return " + "-" * 10_000 + "g\n",
    "deep calls": "def f(w, g, lr):\n    return " + "sign(" * 10_000 + "g" + ")" * 10_000 + "\n",
    "10 MB file": "#" * 10_000_000,
    "too many statements": "def f(w, g, lr):\n" + "    x = g\n" * 5000 + "    return g\n",
}


@pytest.fixture(autouse=True)
def canary():
    setattr(builtins, CANARY, 0)
    yield
    assert getattr(builtins, CANARY) == 0, "program text was executed"
    delattr(builtins, CANARY)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_program_is_rejected_clearly(name):
    with pytest.raises(ParseError) as e:
        parse_all(HOSTILE[name])
    msg = str(e.value)
    assert msg.startswith("<program>") and len(msg) < 500, msg


def test_invalid_utf8_bytes():
    with pytest.raises(ParseError, match="UTF-8"):
        parse(b"def f(w, g, lr):\n    return g\xc3\x28\n")


def test_nothing_executes_even_when_text_would_increment_canary():
    text = f"import builtins\nbuiltins.{CANARY} += 1\ndef f(w, g, lr):\n    return g\n"
    with pytest.raises(ParseError):
        parse(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_fuzz_text_raises_only_parse_error(text):
    try:
        parse_all(text)
    except ParseError:
        pass


_TOKENS = ["def f(w, g, lr", "):\n", "    ", "return ", "x = ", "m", "g", "w", "lr", "t",
           "sign(", "interp(", "clip(", ")", ",", " + ", " - ", " * ", " / ", " ** ", "-",
           "0.9", "1e-8", "\n", "(", "b=0.5", "norm(", "__", ".", "[", "lambda", ":", "1e999"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_TOKENS), max_size=40))
def test_fuzz_token_soup_raises_only_parse_error(tokens):
    try:
        parse_all("".join(tokens))
    except ParseError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_bytes_raise_only_parse_error(data):
    try:
        parse_all(data)
    except ParseError:
        pass
