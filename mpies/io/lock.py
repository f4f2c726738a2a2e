"""One live writer per run file: a lock file beside it, held for the whole run.

``runs/a.h5`` is locked by ``runs/a.h5.lock``, a small JSON file naming the writer: host, pid
(rank 0's), the process's start time, and the SLURM job id and restart count when there is one.
It is created with ``O_CREAT | O_EXCL``, which is atomic on local file systems, NFSv3+ and Lustre
alike -- unlike ``flock``, which NFS and Lustre may not honour (or honour per client only) -- and
removed when the run ends for any reason Python sees (finished, stopped, failed).

A lock left behind by a writer that died (``kill -9``, a lost node) is *stale*. It is recognised
and taken over, with a one-line notice, when the holder's process is gone from this host (or the
pid now belongs to a later process), when it is an earlier run of this same SLURM job (a
requeue), or when ``squeue`` says its job is no longer running. A holder on another host that
cannot be checked is never taken over: the message says which file to delete once the user knows
that run is gone.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .reader import RunFileError

LIVE, STALE, UNKNOWN = "live", "stale", "unknown"


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of run file ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


def _process_start(pid: int) -> str:
    """The start time of a running ``pid`` in clock ticks since boot (``/proc/PID/stat`` field
    22), or "" when there is no such process or it is a zombie (dead, not yet reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return ""
    return "" if fields[0] in ("Z", "X") else fields[19]


@dataclass(frozen=True)
class Holder:
    """Who writes a run file."""

    host: str
    pid: int
    process_start: str = ""
    slurm_job_id: str = ""
    slurm_restart_count: str = ""
    since: str = ""

    @classmethod
    def me(cls) -> "Holder":
        return cls(socket.gethostname(), os.getpid(), _process_start(os.getpid()),
                   os.environ.get("SLURM_JOB_ID", ""), os.environ.get("SLURM_RESTART_COUNT", "0"),
                   time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def describe(self) -> str:
        job = f", SLURM job {self.slurm_job_id}" if self.slurm_job_id else ""
        return f"host {self.host}, pid {self.pid}{job}, since {self.since}"


def read_holder(path: str | os.PathLike) -> Holder | None:
    """The holder of ``path``'s lock, or None when it is not locked (or the lock is unreadable)."""
    try:
        data = json.loads(lock_path(path).read_text())
        return Holder(**{k: data[k] for k in Holder.__dataclass_fields__ if k in data})
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _slurm_job_running(job_id: str) -> bool | None:
    """Whether SLURM says ``job_id`` is running; None when that cannot be asked here."""
    squeue = shutil.which("squeue")
    if squeue is None:
        return None
    try:
        out = subprocess.run([squeue, "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:  # "Invalid job id specified": long gone
        return False
    return out.stdout.strip() in ("RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "CONFIGURING")


def liveness(holder: Holder) -> tuple[str, str]:
    """``(LIVE | STALE | UNKNOWN, why)`` for the writer ``holder`` names."""
    me = Holder.me()
    if holder.slurm_job_id and holder.slurm_job_id == me.slurm_job_id \
            and holder.slurm_restart_count != me.slurm_restart_count:
        return STALE, f"an earlier run of this SLURM job (restart {holder.slurm_restart_count})"
    if holder.host == me.host:
        if not Path("/proc").is_dir():  # no procfs: a signal 0 still says whether the pid exists
            try:
                os.kill(holder.pid, 0)
            except ProcessLookupError:
                return STALE, "writer gone"
            except PermissionError:
                pass
            return LIVE, "writer running"
        start = _process_start(holder.pid)
        if not start:
            return STALE, "writer gone"
        if holder.process_start and start != holder.process_start:
            return STALE, "writer gone (its pid now belongs to another process)"
        return LIVE, "writer running"
    if holder.slurm_job_id:
        running = _slurm_job_running(holder.slurm_job_id)
        if running is False:
            return STALE, f"SLURM job {holder.slurm_job_id} has ended"
        if running:
            return LIVE, f"SLURM job {holder.slurm_job_id} is running"
    return UNKNOWN, f"on another host ({holder.host}), which cannot be checked from {me.host}"


def writer_state(path: str | os.PathLike) -> str:
    """What ``mpies inspect`` shows for a run whose status is ``running``:
    ``live: HOST, pid PID``, ``stale: writer gone`` or ``unknown: ...``."""
    holder = read_holder(path)
    if holder is None:
        return "stale: writer gone (no lock)"
    state, why = liveness(holder)
    if state == LIVE:
        return f"live: {holder.host}, pid {holder.pid}"
    return f"{state}: {why}"


class RunLock:
    """The lock of one run file, held by this process (rank 0) until :meth:`release`."""

    def __init__(self, path: Path, holder: Holder):
        self.path, self.holder = path, holder

    @classmethod
    def acquire(cls, run_path: str | os.PathLike) -> tuple["RunLock", str | None]:
        """Take the lock of ``run_path``; returns ``(lock, notice)``, notice naming a stale lock
        that was taken over (else None).

        Raises:
            RunFileError: another writer is live, or cannot be checked (the message names it).
            OSError: the lock file cannot be created (e.g. a read-only directory).
        """
        path, me = lock_path(run_path), Holder.me()
        notice = None
        for _ in range(3):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = read_holder(run_path)
                if holder is None:  # being written by another taker right now, or damaged
                    time.sleep(0.2)
                    holder = read_holder(run_path) or Holder("?", -1)
                state, why = liveness(holder)
                if state == LIVE:
                    raise RunFileError(f"{run_path}: another run is writing it ({holder.describe()}); "
                                       f"wait for it to end, or pass -o for another file") from None
                if state == UNKNOWN:
                    raise RunFileError(f"{run_path}: locked by a run {why} ({holder.describe()}); if that "
                                       f"run has ended, delete {path} and start again") from None
                notice = f"{run_path}: taking over a stale lock ({why}; was {holder.describe()})"
                aside = path.with_name(f"{path.name}.stale-{me.pid}")
                try:  # rename first: of two takers, only one moves the stale lock away
                    os.replace(path, aside)
                    aside.unlink()
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(asdict(me), f)
            return cls(path, me), notice
        raise OSError(errno.EAGAIN, f"cannot take the lock {path}: it keeps changing hands")

    def release(self) -> None:
        """Remove the lock file if it is still ours."""
        holder = read_holder(self.path.with_name(self.path.name[: -len(".lock")]))
        if holder is not None and (holder.host, holder.pid) == (self.holder.host, self.holder.pid):
            try:
                self.path.unlink(missing_ok=True)
            except OSError:  # e.g. the file system turned read-only: the lock goes stale instead
                pass
