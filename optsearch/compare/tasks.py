"""Task references for `optsearch compare`: built-in names, proxy tasks, user files.

A reference is ``NAME`` (a built-in compare task or a proxy task), ``NAME:large`` (a
proxy task's larger size) or ``path/to/task.py`` (a user task file, see usertask.py).
Adding a built-in task = a :class:`CompareTask` subclass and one line in ``BUILTIN``.
"""

from __future__ import annotations

import difflib
from typing import Callable

from optsearch.compare.task import CompareTask, TaskError

# name -> (factory, one-line description). Factories import lazily (GPT pulls in more).


def _gpt() -> CompareTask:
    from optsearch.compare.gpt import GptStdlibTask

    return GptStdlibTask()


def _cnn() -> CompareTask:
    from optsearch.compare.cnn import Mnist1dCnnTask

    return Mnist1dCnnTask()


BUILTIN: dict[str, tuple[Callable[[], CompareTask], str]] = {
    "gpt_stdlib": (_gpt, "small GPT (byte-level) on Python standard-library source; GPU"),
    "mnist1d_cnn_full": (_cnn, "1-D CNN (3 conv layers, 14k parameters) on MNIST-1D at full "
                               "size (4000 train / 1000 val), 1500 steps"),
}


def proxy_names() -> list[str]:
    from proxy_tasks import TASKS

    return sorted(TASKS)


def task_names() -> list[str]:
    """Every built-in task name (proxy tasks included)."""
    return sorted(set(BUILTIN) | set(proxy_names()))


def describe_tasks() -> list[tuple[str, str]]:
    """``(name, description)`` of every built-in task, for ``--help``."""
    from proxy_tasks import TASKS

    out = [(n, d) for n, (_, d) in BUILTIN.items()]
    for n, cls in TASKS.items():
        para = " ".join((cls.__doc__ or n).strip().split("\n\n")[0].split())
        out.append((n, f"proxy task: {para.rstrip('.')}; NAME:large for the larger size"))
    return sorted(out)


def get_task(ref: str) -> CompareTask:
    """The task for a reference.

    Raises:
        TaskError: unknown name (with the closest ones), missing or broken task file.
    """
    ref = ref.strip()
    if ref.endswith(".py"):
        from optsearch.compare.usertask import FileTask

        return FileTask(ref)
    name, _, size = ref.partition(":")
    if name in BUILTIN and not size:
        return BUILTIN[name][0]()
    if name in proxy_names():
        from optsearch.compare.proxy import ProxyCompareTask

        try:
            return ProxyCompareTask(name, size or "small")
        except ValueError as e:
            raise TaskError(f"task {ref!r}: {e}") from None
    names = task_names()
    close = difflib.get_close_matches(name, names, n=2)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    raise TaskError(f"unknown task {ref!r}{hint} (built-in: {', '.join(names)}; or a .py "
                    f"task file)")
