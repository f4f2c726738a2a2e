"""The lifecycle of every run: the file, the lock, signals, the stop vote, checkpoints, progress.

A run is ``mpies run`` (:func:`run`) or ``mpies resume`` (:func:`resume`), called on every rank.
The science of a generation is a program's (:mod:`mpies.program`); this module does the rest::

    decide    rank 0 decides (new file, resume, already finished), takes the writer lock and
              creates or reads the file; every rank receives the outcome or raises the same error
    loop      program.step(g) on every rank; the stop vote (the strongest signal any rank saw);
              rank 0 appends the history row, the new best and the program's tables, and a
              checkpoint on schedule, at the end or on a stop
    end       status (finished | preempted | interrupted | failed), lock released, exit code

Signals: SIGTERM and SIGUSR1 (SLURM's preemption warning) stop after the current generation
with status ``preempted`` and exit code 75; SIGINT (Ctrl-C) and SIGHUP (a dropped terminal)
stop the same way with status ``interrupted`` and exit codes 130 and 129. A second SIGINT aborts
at once; the last checkpoint stays intact. A closed or broken stdout stops the printing, not
the run.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__, registry
from .clock import clock
from .comm import Comm
from .config import ConfigError, RunConfig, from_toml, to_toml
from .envs import quiet_third_party_warnings
from .errors import RunAborted
from .io import RunFileError, RunWriter, open_run, read_state
from .io.hdf5 import describe
from .io.lock import RunLock
from .io.reader import check_complete, check_resumable, resume_action
from .io.verify import RunLayout, check_checkpoint
from .program import Program

EXIT_PREEMPTED = 75  # EX_TEMPFAIL: stopped on a signal after a checkpoint; resume to continue
USER_ERRORS = (ConfigError, RunFileError)
AGREED_ERRORS = USER_ERRORS + (RunAborted,)
"""Errors every rank raises alike (checked before any collective, or agreed through one)."""


@dataclass(frozen=True)
class Stop:
    """How a run ends when a signal asks it to stop."""

    status: str
    exit_code: int


STOP_VOTES = {signal.SIGTERM: 1, signal.SIGUSR1: 1, signal.SIGHUP: 2, signal.SIGINT: 3}
"""Signal -> its vote; the largest vote of any rank decides how the run stops."""
STOPS = {1: Stop("preempted", EXIT_PREEMPTED), 2: Stop("interrupted", 128 + signal.SIGHUP),
         3: Stop("interrupted", 128 + signal.SIGINT)}


@dataclass(frozen=True)
class Outcome:
    status: str        # finished | preempted | interrupted
    generation: int    # generations completed
    path: Path
    exit_code: int = 0


class StopSignals:
    """Context manager: records the strongest stop signal this process receives.

    A second SIGINT raises KeyboardInterrupt (its message: :data:`SECOND_INTERRUPT`): the run
    aborts without waiting for the generation. A signal to any one rank stops every rank: the
    vote (:meth:`Comm.max` after each generation) is the strongest of all ranks.
    """

    SECOND_INTERRUPT = ("interrupted twice; stopped without a new checkpoint (the last one in the run file "
                        "is intact: `mpies resume` continues from it)")

    def __init__(self):
        self.vote = 0
        self._previous = {}

    def _handle(self, signum, frame):
        if signum == signal.SIGINT and self.vote == STOP_VOTES[signal.SIGINT]:
            raise KeyboardInterrupt(self.SECOND_INTERRUPT)
        self.vote = max(self.vote, STOP_VOTES[signum])

    def __enter__(self) -> "StopSignals":
        self._previous = {s: signal.signal(s, self._handle) for s in STOP_VOTES}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)


class Console:
    """Rank 0's lines on stdout; other ranks print nothing. A closed pipe (``| head``) or a lost
    terminal (SIGHUP) silences it for the rest of the run instead of ending the run."""

    def __init__(self, rank: int):
        self.enabled = rank == 0

    def __call__(self, line: str) -> None:
        if not self.enabled:
            return
        try:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except (BrokenPipeError, OSError):
            self.enabled = False
            with contextlib.suppress(OSError):  # later writes (and the exit's flush) go nowhere
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())


def agree(comm: Comm, decide):
    """Run ``decide()`` on rank 0 only; return its result on every rank, or raise its user error
    (ConfigError, RunFileError) on every rank."""
    result = None
    if comm.rank == 0:
        try:
            result = decide()
        except USER_ERRORS as exc:
            result = exc
    result = comm.bcast(result)
    if isinstance(result, USER_ERRORS):
        raise result
    return result


FULL_DISK = tuple(os.strerror(e) for e in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG))
NOT_WRITABLE = tuple(os.strerror(e) for e in (errno.EACCES, errno.EPERM, errno.EROFS))


def cannot_create(path: Path, exc: BaseException) -> RunFileError:
    """The one-line error for an output file that cannot be created, with the fix its reason calls for."""
    reason = describe(exc)
    if reason in FULL_DISK:
        fix = "free space there, or pass -o with a path on another disk"
    elif reason in NOT_WRITABLE:
        fix = "that folder is not writable here: pass -o with a path you can write"
    else:
        fix = "pass -o with another path"
    return RunFileError(f"output: cannot create {path}: {reason}; {fix}")


def _take_lock(path: Path, log) -> RunLock:
    """Rank 0: the writer lock of ``path`` (its folder created first)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock, notice = RunLock.acquire(path)
    except OSError as exc:
        raise cannot_create(path, exc) from None
    if notice:
        log(notice)
    return lock


class Driver:
    """One run of ``program`` writing ``path``; construct on every rank."""

    def __init__(self, program: Program, config: RunConfig, path: Path, comm: Comm, log):
        self.program, self.config, self.path, self.comm, self.log = program, config, path, comm, log
        self.generation = 0
        self.wall_before = 0.0
        """Seconds of the run before this invocation (the ``wall_time`` of its checkpoint)."""
        self.writer = RunWriter(path) if comm.rank == 0 else None

    def _attrs(self) -> dict:
        """The root attributes of a new run file of this run."""
        c = self.config
        return {"mpies_version": __version__, "algorithm": c.algorithm, "env": c.env, "seed": c.seed,
                "ranks": self.comm.size, "config": to_toml(c), "host": socket.gethostname(),
                "start_time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "num_params": self.program.num_params}

    def create(self) -> None:
        """A new run file (rank 0; every rank raises if that fails)."""
        program = self.program

        def make():
            try:
                RunWriter.create(self.path, self._attrs(), program.state_dict(), program.best(),
                                 program.family, overwrite=True, tables=program.create_tables,
                                 docs=program.docs())
            except OSError as exc:
                raise cannot_create(self.path, exc) from None
        agree(self.comm, make)

    def load(self) -> None:
        """Continue from the file's latest checkpoint (read and checked on rank 0, then sent).

        Before the first write the whole file is checked against the file this run would create,
        and read (:func:`mpies.io.verify.check_checkpoint`): a damaged file is refused unchanged.
        """
        program = self.program

        def read():
            with open_run(self.path) as f:
                check_resumable(f)
                check_complete(f)
                next_generation, state = read_state(f)
                check_checkpoint(f, RunLayout(self._attrs(), program.state_dict(), program.best(),
                                              program.family, program.create_tables))
                wall = float(f["history"][next_generation - 1]["wall_time"]) if next_generation else 0.0
            return next_generation, state, wall
        self.generation, state, self.wall_before = agree(self.comm, read)
        self.program.load_state_dict(state)
        if self.writer is not None:
            g = self.generation
            self.writer.truncate_history(g, tables=lambda f: self.program.truncate_tables(f, g))

    def loop(self, stop_after: int | None = None) -> Outcome:
        """Generations until the budget, ``stop_after`` more of them, or a stop signal."""
        c, comm, program, writer = self.config, self.comm, self.program, self.writer
        if writer is not None:
            writer.set_attrs(status="running", ranks=comm.size, end_time="")
        t0, io_seconds, done_here = time.perf_counter(), 0.0, 0
        stop = Stop("finished", 0)
        best_so_far = float(program.best()["fitness"])
        with StopSignals() as signals:
            try:
                while self.generation < c.generations:
                    comm.bytes_sent = 0
                    t_step = time.perf_counter()
                    result = program.step(self.generation)
                    self.generation += 1
                    done_here += 1
                    vote = comm.max(signals.vote)
                    more = self.generation < c.generations
                    if more and vote:
                        stop = STOPS[vote]
                    elif more and stop_after is not None and done_here >= stop_after:
                        stop = STOPS[STOP_VOTES[signal.SIGTERM]]
                    every = c.output.checkpoint_every
                    checkpoint = (stop.status != "finished" or not more
                                  or (every and self.generation % every == 0))
                    elapsed = time.perf_counter() - t0
                    row = dict(result.fields, generation=self.generation, wall_time=self.wall_before + elapsed,
                               io_seconds=io_seconds, bytes_sent_per_rank=comm.bytes_sent)
                    if result.best is not None:
                        best_so_far = float(result.best["fitness"])
                    if writer is not None:
                        t_io = time.perf_counter()
                        self._write(row, result.best, checkpoint)
                        io_seconds = time.perf_counter() - t_io
                        left = (c.generations - self.generation) * elapsed / done_here
                        self.log(self._progress_line(result, row, io_seconds, time.perf_counter() - t_step,
                                                     left, best_so_far))
                    if stop.status != "finished":
                        break
            except BaseException as exc:
                if writer is not None:  # a truthful status, if this rank can still write
                    with contextlib.suppress(Exception):
                        writer.finish("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
                raise
        if writer is not None:
            writer.finish(stop.status)
        return Outcome(stop.status, self.generation, self.path, stop.exit_code)

    def _progress_line(self, result, row: dict, io_seconds: float, seconds: float, left: float,
                       best_so_far: float) -> str:
        """``gen G/N | <the program's part> | best B | steps/s | elapsed, left | time split``."""
        c, program = self.config, self.program
        parts = [f"{program.unit} {self.generation:>{len(str(c.generations))}}/{c.generations}", result.progress]
        if program.evaluates:
            parts.append(f"best {best_so_far:9.2f}" if np.isfinite(best_so_far) else "best         -")
        parts += [f"{result.steps / max(seconds, 1e-9) / 1e3:7.1f}k steps/s",
                  f"{clock(row['wall_time'])} elapsed, {clock(left)} left",
                  f"roll {row['rollout_seconds']:.2f} gath {row['gather_seconds']:.3f} "
                  f"upd {row['update_seconds']:.3f} io {io_seconds:.3f} s"]
        return " | ".join(parts)

    def _write(self, row: dict, best: dict | None, checkpoint: bool) -> None:
        """Rank 0: the generation's row and tables, with a checkpoint and the new best when due."""
        state = dict(self.program.state_dict(), next_generation=self.generation) if checkpoint else None
        self.writer.write_generation(row, state, best, tables=self.program.append_tables)
        if checkpoint and self.program.has_checkpoint_tables:
            with self.writer.edit() as f:
                self.program.checkpoint_tables(f)


def _start(comm: Comm | None, log) -> tuple[Comm, object]:
    comm = comm or Comm()
    quiet_third_party_warnings(comm.rank)
    return comm, (log or Console(comm.rank))


def _finish_line(outcome: Outcome) -> str:
    if outcome.status == "finished":
        return f"finished {outcome.generation} generations: {outcome.path}"
    return (f"stopped after generation {outcome.generation} with a checkpoint in {outcome.path} "
            f"({outcome.status}); continue with: mpies resume {outcome.path}")


def _drive(config: RunConfig, path: Path, action: str, lock: RunLock | None, comm: Comm, log,
           stop_after: int | None, requested: int | None = None) -> Outcome:
    """Build the program, create or load the file, loop; the lock is released whatever happens."""
    program, collective_cleanup = None, False
    try:
        program = registry.get(config.algorithm).program_class()(config, comm, log)
        driver = Driver(program, config, path, comm, log)
        if action == "resume":
            driver.load()
            done = driver.generation
            if requested is not None and requested < done:
                raise ConfigError(f"--generations: got {requested}; the run has done {done} generations "
                                  f"already; pass more than {done} to continue it")
            if done >= config.generations:
                log(f"{path}: already finished ({done} generations); nothing to do (to continue it, "
                    f"pass --generations N with N > {done})")
                return Outcome("finished", done, path)
            log(f"resuming {path} at generation {driver.generation} on {comm.size} rank(s)")
        else:
            log(f"{program.describe()} -> {path}")
            driver.create()
        outcome = driver.loop(stop_after)
        log(_finish_line(outcome))
        collective_cleanup = True
        return outcome
    except AGREED_ERRORS:  # raised on every rank alike: the ranks can still meet to clean up
        collective_cleanup = True
        raise
    finally:  # after any other exception the job is aborted: no collective may wait for a dead rank
        if collective_cleanup:
            if program is not None:
                program.close()
            comm.close()
        if lock is not None:
            lock.release()


def run(config: RunConfig, *, overwrite: bool = False, resume: str = "never",
        stop_after: int | None = None, comm: Comm | None = None, log=None) -> Outcome:
    """``mpies run``: a new run of ``config`` into ``config.output_path()``, on every rank.

    ``resume="auto"`` continues the file if it holds an unfinished run of this same config,
    does nothing if it is finished, and refuses (RunFileError) if it holds another config.
    """
    comm, log = _start(comm, log)
    path = config.output_path()
    lock = None

    def decide():
        nonlocal lock
        if overwrite:
            action = "new"
        elif resume == "auto":
            action = resume_action(path, to_toml(config), config.generations)
        elif path.exists():
            raise ConfigError(f"output: {path} exists; pass --overwrite to replace it, -o for another "
                              f"file, or --resume auto (or `mpies resume {path}`) to continue it")
        else:
            action = "new"
        if action != "finished":
            lock = _take_lock(path, log)
        return action
    action = agree(comm, decide)
    if action == "finished":
        log(f"{path}: already finished ({config.generations} generations); nothing to do")
        comm.close()
        return Outcome("finished", config.generations, path)
    return _drive(config, path, action, lock, comm, log, stop_after)


def resume(path: str | os.PathLike, *, generations: int | None = None, stop_after: int | None = None,
           comm: Comm | None = None, log=None) -> Outcome:
    """``mpies resume``: continue the run in ``path`` from its latest checkpoint, on every rank;
    ``generations`` raises the budget."""
    comm, log = _start(comm, log)
    path = Path(path)
    lock = None

    def decide():
        nonlocal lock
        with open_run(path) as f:
            check_resumable(f)
            check_complete(f)
            text = str(f.attrs["config"])
        config = from_toml(text)
        lock = _take_lock(path, log)
        return config
    config = agree(comm, decide)
    if generations:
        config.generations = generations
    return _drive(config, path, "resume", lock, comm, log, stop_after, requested=generations)
