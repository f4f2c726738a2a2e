"""HDF5 run files: schema, the rank-0 writer, and readers for inspect/plot/eval/resume."""

from .reader import RunFileError, open_run, read_best, read_history, read_state
from .schema import SCHEMA_VERSION, history_dtype
from .writer import OutputError, RunWriter

__all__ = ["SCHEMA_VERSION", "history_dtype", "OutputError", "RunFileError", "RunWriter", "open_run",
           "read_best", "read_history", "read_state"]
