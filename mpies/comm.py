"""Everything MPI: the only module of mpies that imports mpi4py.

Ranks never exchange parameter vectors. What crosses the network each generation is
:meth:`Comm.allgather_rows` -- one float64 row of small per-member scalars per member -- plus one
integer (:meth:`Comm.max`: the stop vote). The same code runs on 1 rank (still real MPI) or thousands.

Tasks (member episodes, evaluations) are dealt by :meth:`Comm.evaluate`, statically or
dynamically. Static: rank ``r`` of ``p`` evaluates tasks ``r, r+p, r+2p, ...`` (:func:`members_of`).
Dynamic: ranks claim chunks of task ids from a counter in an MPI window on rank 0
(``MPI_Fetch_and_op``), so a rank that drew short episodes takes more. Either way the gathered
rows are returned in task order, and a task's row depends only on its id (its seeds and keys do),
so every reduction that follows sums in task order and gives bitwise the same result for any
number of ranks and either schedule.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from typing import Callable

import numpy as np
from mpi4py import MPI


def members_of(rank: int, size: int, count: int) -> range:
    """Indices of the members that ``rank`` of ``size`` evaluates out of ``count``."""
    return range(rank, count, size)


class Comm:
    """A communicator with the few collectives mpies needs and a count of bytes sent.

    Args:
        comm: an mpi4py communicator; ``None`` means ``MPI.COMM_WORLD``.
    """

    def __init__(self, comm=None):
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.bytes_sent = 0  # bytes this rank contributed to collectives since the last reset
        self.gather_seconds = 0.0  # this rank's time in the gather of the last evaluate()
        self._windows: list = []

    # ------------------------------------------------------------------ collectives
    def allgather_rows(self, local_rows: np.ndarray, count: int) -> np.ndarray:
        """Gather every rank's rows and return all ``count`` of them in member order.

        Args:
            local_rows: float64 array ``(len(members_of(rank, size, count)), width)``, the rows of
                this rank's members in increasing member order.
            count: total number of members.

        Returns:
            float64 array ``(count, width)``, row ``i`` belonging to member ``i``.
        """
        local_rows = np.ascontiguousarray(local_rows, dtype=np.float64)
        width = local_rows.shape[1]
        counts = np.array([len(members_of(r, self.size, count)) for r in range(self.size)])
        if local_rows.shape[0] != counts[self.rank]:
            raise ValueError(f"rank {self.rank} has {local_rows.shape[0]} rows, expected {counts[self.rank]}")
        displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
        by_rank = np.empty((count, width), dtype=np.float64)
        self.comm.Allgatherv(local_rows, [by_rank, counts * width, displs * width, MPI.DOUBLE])
        self.bytes_sent += local_rows.nbytes
        order = np.concatenate([np.asarray(members_of(r, self.size, count), dtype=np.int64) for r in range(self.size)])
        rows = np.empty_like(by_rank)
        rows[order] = by_rank
        return rows

    def evaluate(self, count: int, width: int, row_of: Callable[[int], np.ndarray], dynamic: bool = False,
                 chunk: int = 1) -> np.ndarray:
        """The rows of tasks ``0 .. count-1``, computed in parts on every rank, in task order on all.

        Args:
            count: tasks.
            width: floats per row.
            row_of: ``task id -> float64 (width,)``; must depend on the id only (not on the rank or
                on the tasks run before it), which makes the result independent of the schedule.
            dynamic: claim ``chunk`` task ids at a time from a shared counter (one window on rank
                0 for this call, ``MPI_Fetch_and_op``) until none is left, instead of the static
                round-robin split; rows travel with their ids (one more float64 each).
            chunk: task ids per claim (dynamic only).

        Returns:
            float64 ``(count, width)``, row ``i`` of task ``i``. ``gather_seconds`` holds this
            rank's time in the final gather (its wait for the slowest rank, mostly).
        """
        if not dynamic:
            mine = members_of(self.rank, self.size, count)
            local = np.array([row_of(task) for task in mine], dtype=np.float64).reshape(len(mine), width)
            started = time.perf_counter()
            rows = self.allgather_rows(local, count)
            self.gather_seconds = time.perf_counter() - started
            return rows
        # The counter is zeroed before any rank may claim. Claims are atomics inside one passive
        # epoch opened without locking (Lock_all + NOCHECK, each completed by Flush): a per-claim
        # Lock/Unlock would wait until rank 0 next enters MPI, i.e. until its episode ends.
        win = MPI.Win.Allocate(8 if self.rank == 0 else 0, 8, comm=self.comm)
        if self.rank == 0:
            win.Lock(0, MPI.LOCK_EXCLUSIVE)
            win.Put(np.zeros(1, dtype=np.int64), 0)
            win.Unlock(0)
        self.comm.Barrier()
        step, claimed, local = np.array([chunk], dtype=np.int64), np.empty(1, dtype=np.int64), []
        win.Lock_all(MPI.MODE_NOCHECK)
        while True:
            win.Fetch_and_op(step, claimed, 0, 0, MPI.SUM)
            win.Flush(0)
            first = int(claimed[0])
            if first >= count:
                break
            local += [np.concatenate([[task], row_of(task)]) for task in range(first, min(first + chunk, count))]
        win.Unlock_all()
        started = time.perf_counter()
        gathered = self.allgather_varying(np.array(local, dtype=np.float64).reshape(-1, width + 1), width + 1)
        self.gather_seconds = time.perf_counter() - started
        win.Free()
        rows = np.empty((count, width), dtype=np.float64)
        rows[gathered[:, 0].astype(np.int64)] = gathered[:, 1:]  # task ids < 2**53: exact in float64
        return rows

    def max(self, value: int) -> int:
        """The largest ``value`` over all ranks, on every rank (e.g. the strongest stop signal seen)."""
        send = np.array([value], dtype=np.int32)
        recv = np.empty_like(send)
        self.comm.Allreduce(send, recv, op=MPI.MAX)
        self.bytes_sent += send.nbytes
        return int(recv[0])

    def any(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is true on any rank."""
        return bool(self.max(1 if flag else 0))

    def allgather_varying(self, local_rows: np.ndarray, width: int) -> np.ndarray:
        """Concatenate every rank's rows in rank order; ranks may contribute any number (even 0).

        Args:
            local_rows: float64 ``(k_rank, width)``.

        Returns:
            float64 ``(sum of k, width)``: rank 0's rows first, then rank 1's, ...
        """
        local_rows = np.ascontiguousarray(local_rows, dtype=np.float64).reshape(-1, width)
        counts = np.array(self.comm.allgather(local_rows.shape[0]), dtype=np.int64)
        displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
        out = np.empty((int(counts.sum()), width), dtype=np.float64)
        self.comm.Allgatherv(local_rows, [out, counts * width, displs * width, MPI.DOUBLE])
        self.bytes_sent += local_rows.nbytes + 8
        return out

    def split(self, color: int, key: int) -> "Comm":
        """Sub-communicator of the ranks that pass the same ``color``, ordered by ``key``
        (collective: every rank calls it). Free it with :meth:`free`."""
        return Comm(self.comm.Split(color, key))

    def free(self) -> None:
        """Release a communicator made by :meth:`split`."""
        self.comm.Free()

    def ranks_on_node(self) -> int:
        """Ranks of this communicator on this rank's node (collective: every rank calls it)."""
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
        size = node.Get_size()
        node.Free()
        return size

    def node_memory_shared(self) -> bool:
        """Whether the ranks of every node share one memory window, as the noise table needs:
        each rank writes its slot of a window allocated on its node's first rank, and every rank
        must then read every slot (collective: every rank calls it; the same answer on all)."""
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
        size, rank = node.Get_size(), node.Get_rank()
        win = MPI.Win.Allocate_shared(size * 8 if rank == 0 else 0, 8, comm=node)
        buffer, _ = win.Shared_query(0)
        slots = np.ndarray(buffer=buffer, dtype=np.int64, shape=(size,))
        win.Fence()
        slots[rank] = rank + 1
        win.Fence()
        shared = bool(np.array_equal(slots, np.arange(1, size + 1)))
        win.Free()
        node.Free()
        return bool(self.comm.allreduce(shared, op=MPI.LAND))

    def gather(self, obj, root: int = 0) -> list | None:
        """Gather a small picklable object from every rank on ``root`` (setup and diagnostics only)."""
        return self.comm.gather(obj, root=root)

    def bcast(self, obj, root: int = 0):
        """Broadcast a small picklable object (setup only, never per generation)."""
        return self.comm.bcast(obj, root=root)

    # ------------------------------------------------------------------ shared memory
    def node_shared_array(self, count: int, dtype, fill: Callable[[np.ndarray], None]) -> np.ndarray:
        """One array per node in an MPI shared-memory window, filled once by the node's first rank.

        Args:
            count: number of elements.
            dtype: numpy dtype of the elements.
            fill: called with the writable array on one rank per node; must be deterministic so
                that every node holds identical contents.

        Returns:
            A read-only view of ``count`` elements, valid until :meth:`close`.
        """
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
        itemsize = np.dtype(dtype).itemsize
        nbytes = count * itemsize if node.Get_rank() == 0 else 0
        win = MPI.Win.Allocate_shared(nbytes, itemsize, comm=node)
        buffer, _ = win.Shared_query(0)
        array = np.ndarray(buffer=buffer, dtype=dtype, shape=(count,))
        if node.Get_rank() == 0:
            fill(array)
        node.Barrier()
        array.flags.writeable = False
        self._windows.append((win, node))
        return array

    def close(self) -> None:
        """Free shared-memory windows (collective over each node)."""
        for win, node in self._windows:
            win.Free()
            node.Free()
        self._windows.clear()


def abort_on_exception(exc: BaseException) -> None:
    """Print this rank's traceback and end the whole MPI job with exit code 1.

    Without this, one rank's exception leaves the others blocked in the next collective forever.
    """
    rank = MPI.COMM_WORLD.Get_rank()
    text = "".join(traceback.format_exception(exc))
    abort_with_message("".join(f"[rank {rank}] {line}\n" for line in text.rstrip().splitlines()), 1)


def abort_with_message(message: str, code: int) -> None:
    """Print ``message`` on stderr and end the whole MPI job with exit code ``code``."""
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()
    if MPI.COMM_WORLD.Get_size() == 1:  # the job is this process: no need for Abort's own message
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        os._exit(code)
    time.sleep(0.5)  # let the launcher forward this rank's output before Abort tears the job down
    MPI.COMM_WORLD.Abort(code)
    os._exit(code)  # pragma: no cover - Abort does not return


def world_rank() -> int:
    return MPI.COMM_WORLD.Get_rank()


def library() -> dict:
    """The MPI library this process runs on: ``version`` (its own first line, e.g. "MPICH Version:
    5.0.2"), ``standard`` (e.g. "5.0"), ``mpi4py`` (its version) and ``path`` (the libmpi file
    loaded, from /proc/self/maps; "" where that cannot be read)."""
    import mpi4py

    path = ""
    with contextlib.suppress(OSError):
        with open("/proc/self/maps") as maps:
            libs = sorted({line.split()[-1] for line in maps if "libmpi" in line.split()[-1]})
        path = next((lib for lib in libs if os.path.basename(lib).startswith("libmpi.")), libs[0] if libs else "")
    first = " ".join((MPI.Get_library_version().strip().splitlines() or [""])[0].split())
    major, minor = MPI.Get_version()
    return {"version": first[:120], "standard": f"{major}.{minor}", "mpi4py": mpi4py.__version__, "path": path}
