"""Proxy tasks: small models trained on many lanes at once (see base.py for the API).

``TASKS`` maps a task name to its class; ``make_task(name, size, **variant)`` builds one.
Adding a task = writing a :class:`~proxy_tasks.base.Task` subclass and listing it here.
"""

from __future__ import annotations

from types import MappingProxyType

from proxy_tasks.base import Layout, Segment, Task, TaskData, lane_linear
from proxy_tasks.digits import DigitsMLP

TASKS = MappingProxyType({cls.name: cls for cls in (DigitsMLP,)})


def make_task(name: str, size: str = "small", **variant: object) -> Task:
    """A task by name; unknown names raise with the list of valid ones."""
    if name not in TASKS:
        import difflib

        close = difflib.get_close_matches(name, list(TASKS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown task {name!r}{hint} (valid: {sorted(TASKS)})")
    return TASKS[name](size, **variant)


__all__ = ["Layout", "Segment", "TASKS", "Task", "TaskData", "lane_linear", "make_task"]
