"""Reports on search runs: `optsearch report RUN` (HTML) and `optsearch plot RUN` (PNG).

    from optsearch.report import read_run, progress_figure, write_report
"""

from optsearch.report.html import write_report
from optsearch.report.latex import program_latex
from optsearch.report.progress import progress_figure
from optsearch.report.runinfo import RunInfo, read_run

__all__ = ["RunInfo", "progress_figure", "program_latex", "read_run", "write_report"]
