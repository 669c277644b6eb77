"""Bounded caches for the evaluator's host path (encodings, GPU lowerings).

A search scores the same programs more than once (funnel levels, re-scored survivors,
duplicate children), and the benchmark calls ``evaluate`` twice on one pool. Hashing a
:class:`~optsearch.program.Program` walks its whole tree (~6 µs), so lookups try the
object's identity first and fall back to equality only on a miss.
"""

from __future__ import annotations

from typing import Callable, Generic, Hashable, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class IdentityCache(Generic[K, V]):
    """LRU keyed by object identity. It holds its keys alive, so an id cannot be reused
    by another object while its entry exists."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._d: dict[int, tuple[K, V]] = {}

    def get(self, key: K) -> V | None:
        hit = self._d.pop(id(key), None)
        if hit is None:
            return None
        self._d[id(key)] = hit                     # most recently used goes last
        return hit[1]

    def put(self, key: K, value: V) -> None:
        d = self._d
        d.pop(id(key), None)
        while len(d) >= self.maxsize:
            del d[next(iter(d))]
        d[id(key)] = (key, value)

    def clear(self) -> None:
        self._d.clear()

    def __len__(self) -> int:
        return len(self._d)


class _Hashed:
    """A key with its hash computed once (a dict hashes on both lookup and insert)."""

    __slots__ = ("key", "h")

    def __init__(self, key: Hashable) -> None:
        self.key = key
        self.h = hash(key)

    def __hash__(self) -> int:
        return self.h

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Hashed) and self.key == other.key


class ValueCache(Generic[V]):
    """LRU by identity, then by equality (one hash per key object on a miss)."""

    def __init__(self, maxsize: int) -> None:
        self._ids: IdentityCache[Hashable, V] = IdentityCache(maxsize)
        self._eq: dict[_Hashed, V] = {}
        self.maxsize = maxsize

    def get_or_make(self, key: Hashable, make: Callable[[Hashable], V]) -> V:
        v = self._ids.get(key)
        if v is not None:
            return v
        eq = self._eq
        hk = _Hashed(key)
        v = eq.pop(hk, None)
        if v is None:
            v = make(key)                           # exceptions propagate, nothing cached
            while len(eq) >= self.maxsize:
                del eq[next(iter(eq))]
        eq[hk] = v
        self._ids.put(key, v)
        return v

    def clear(self) -> None:
        self._ids.clear()
        self._eq.clear()

    def __len__(self) -> int:
        return len(self._eq)
