"""HDF5 run files: schema, the rank-0 writer, and readers for inspect/plot/eval/resume."""

from .reader import RunFileError, open_run, read_best, read_history, read_state
from .schema import HISTORY_DTYPE, SCHEMA_VERSION
from .writer import OutputError, RunWriter

__all__ = ["HISTORY_DTYPE", "SCHEMA_VERSION", "OutputError", "RunFileError", "RunWriter", "open_run",
           "read_best", "read_history", "read_state"]
