"""Proxy tasks: small models trained on many lanes at once (see base.py for the API).

``TASKS`` maps a task name to its class; ``make_task(name, size, **variant)`` builds one.
Adding a task = writing a :class:`~proxy_tasks.base.Task` subclass and listing it here.
"""

from __future__ import annotations

from types import MappingProxyType

from proxy_tasks.base import Layout, Segment, Task, TaskData, lane_linear
from proxy_tasks.bytes_lm import BytesLM
from proxy_tasks.digits import DigitsMLP
from proxy_tasks.mnist1d import MNIST1DCNN, MNIST1DMLP
from proxy_tasks.modular import ModularAddition
from proxy_tasks.module_task import ModuleTask
from proxy_tasks.quadratic import NoisyQuadratic, RescaledQuadratic
from proxy_tasks.teacher_student import TeacherStudent

_TASKS: dict = {cls.name: cls for cls in (DigitsMLP, MNIST1DMLP, MNIST1DCNN, BytesLM,
                                          ModularAddition, TeacherStudent, NoisyQuadratic,
                                          RescaledQuadratic)}
TASKS = MappingProxyType(_TASKS)


def register_task(name: str, factory) -> None:
    """Add a task: ``factory(size, **variant) -> Task`` (e.g. a :class:`ModuleTask` maker)."""
    if name in _TASKS:
        raise ValueError(f"task {name!r} is already registered")
    _TASKS[name] = factory


def make_task(name: str, size: str = "small", **variant: object) -> Task:
    """A task by name; unknown names raise with the list of valid ones."""
    if name not in TASKS:
        import difflib

        close = difflib.get_close_matches(name, list(TASKS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown task {name!r}{hint} (valid: {sorted(TASKS)})")
    return TASKS[name](size, **variant)


__all__ = ["Layout", "ModuleTask", "Segment", "TASKS", "Task", "TaskData", "lane_linear", "make_task",
           "register_task"]
