"""The run store (see :mod:`optsearch.store.runs`)."""

from optsearch.store.runs import (CHECKPOINT_NAME, DB_NAME, SCHEMA_VERSION, FunnelRow, ProgramRow,
                                  RunStore, find_run, iter_runs, lookup_program,
                                  new_run_id, split_ref)

__all__ = ["CHECKPOINT_NAME", "DB_NAME", "SCHEMA_VERSION", "FunnelRow", "ProgramRow", "RunStore",
           "find_run", "iter_runs", "lookup_program", "new_run_id", "split_ref"]
