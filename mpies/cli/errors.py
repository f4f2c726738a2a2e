"""Turning library errors into one-line messages and exit codes at the edge of the CLI."""

from __future__ import annotations

import functools
import os
import signal
import sys

import click

from ..config import ConfigError
from ..io import OutputError, RunFileError
from ..errors import RunAborted

USER_ERRORS = (ConfigError, RunFileError)
EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_IO = 74  # EX_IOERR
EXIT_INTERRUPTED = 130  # 128 + SIGINT
INTERRUPTED = ("interrupted; stopped at once, without a new checkpoint (a run file keeps its last one, if "
               "it has one: `mpies resume` continues from it)")


def fail(message: str) -> None:
    """Print ``Error: message`` on stderr and exit 2."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def user_errors(command):
    """Decorator for single-process commands: known user errors -> one line, exit 2."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as exc:
            fail(str(exc))
    return wrapper


def _end_by_sigint() -> None:
    """End this process as an uncaught Ctrl-C does, by SIGINT itself, so that the MPI launcher ends
    the whole job: an exit code (click's "Aborted!") would leave the other ranks waiting in
    MPI_Init forever."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


def mpi_errors(command):
    """Decorator for commands that run on every rank.

    User errors are raised identically on every rank (they are checked before any collective or
    agreed through a broadcast), so every rank exits 2 and rank 0 alone prints the message; a run
    aborted by an agreed verdict (too many failed members) exits 1 the same way. A failed write of
    the run file (rank 0 only) aborts the job with exit code 74 and a one-line message. Any other
    exception aborts the whole MPI job with the failing rank's traceback. A Ctrl-C (SIGINT) to one
    rank ends every rank too, even before MPI is started (see :func:`_end_by_sigint`).
    """
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            from .. import comm  # starts MPI
        except KeyboardInterrupt:
            _end_by_sigint()
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as exc:
            if comm.world_rank() == 0:
                click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        except RunAborted as exc:  # decided identically on every rank: no abort needed
            if comm.world_rank() == 0:
                click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_FAILED)
        except OutputError as exc:  # rank 0 alone writes: end the job, no traceback
            comm.abort_with_message(f"Error: {exc}", EXIT_IO)
        except KeyboardInterrupt as exc:  # a second Ctrl-C (the message says so), or one before the
            # run's loop took over the signals: stop every rank now
            comm.abort_with_message(f"Error: {str(exc) or INTERRUPTED}", EXIT_INTERRUPTED)
        except SystemExit:
            raise
        except BaseException as exc:  # noqa: BLE001 - any failure must end every rank
            comm.abort_on_exception(exc)
    return wrapper
