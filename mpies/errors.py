"""Errors that end a run for a reason every rank agrees on (no MPI abort needed).

The other user-facing errors live next to what raises them: ``config.ConfigError`` (bad
configuration), ``io.RunFileError`` (missing, foreign or damaged run file) and ``io.OutputError``
(the run file cannot be written).
"""


class RunAborted(Exception):
    """The run cannot go on (e.g. too many failed members); raised identically on every rank."""
