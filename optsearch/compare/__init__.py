"""Benchmark optimizers the way users judge them: ``optsearch compare``.

DeepOBS-style protocol (lr sweep, seeds, best-lr reruns) on ordinary one-model training
tasks, with a table and plots. In Python::

    from optsearch.compare import CompareConfig, Runner, run_compare
    with Runner() as runner:
        result = run_compare(["adamw", "lion"], ["digits_mlp"], CompareConfig(), runner)

See docs/compare.md (task file interface, protocol, how to add a task).
"""

from optsearch.compare.candidates import Candidate, CandidateError, load_candidate
from optsearch.compare.protocol import CompareConfig, run_compare
from optsearch.compare.results import Cell, CompareResult, TaskInfo
from optsearch.compare.runner import Job, Runner
from optsearch.compare.task import CompareTask, TaskData, TaskError
from optsearch.compare.tasks import get_task, task_names
from optsearch.compare.train import RunRecord, train_run

__all__ = [
    "Candidate", "CandidateError", "Cell", "CompareConfig", "CompareResult", "CompareTask", "Job",
    "RunRecord", "Runner", "TaskData", "TaskError", "TaskInfo", "get_task", "load_candidate",
    "run_compare", "task_names", "train_run",
]
