"""comm.py under any number of ranks: run by tests/test_comm.py as `mpiexec -n K pytest tests/mpi`."""

import numpy as np

from mpies.comm import Comm, members_of


def test_allgather_rows_returns_member_order():
    comm = Comm()
    for count in (comm.size, 7, 13):
        if count < comm.size:
            continue
        mine = members_of(comm.rank, comm.size, count)
        local = np.array([[i, i * 10.0, comm.rank] for i in mine]).reshape(len(mine), 3)
        rows = comm.allgather_rows(local, count)
        np.testing.assert_array_equal(rows[:, 0], np.arange(count))
        np.testing.assert_array_equal(rows[:, 1], np.arange(count) * 10.0)
        np.testing.assert_array_equal(rows[:, 2], np.arange(count) % comm.size)


def test_bytes_sent_counts_only_this_ranks_rows():
    comm = Comm()
    comm.bytes_sent = 0
    mine = members_of(comm.rank, comm.size, 9)
    comm.allgather_rows(np.zeros((len(mine), 5)), 9)
    assert comm.bytes_sent == len(mine) * 5 * 8


def test_any_flag_reaches_every_rank():
    comm = Comm()
    assert comm.any(comm.rank == comm.size - 1)
    assert not comm.any(False)


def test_node_shared_array_is_filled_once_and_identical():
    comm = Comm()
    calls = []

    def fill(array):
        calls.append(comm.rank)
        array[:] = np.arange(array.size)
    shared = comm.node_shared_array(1000, np.float32, fill)
    np.testing.assert_array_equal(shared, np.arange(1000, dtype=np.float32))
    fillers = comm.comm.allgather(len(calls))
    assert sum(fillers) == 1  # one node here: exactly one rank built the table
    assert not shared.flags.writeable
    comm.close()


def test_split_makes_disjoint_groups_that_gather_inside():
    comm = Comm()
    color = comm.rank * 2 // comm.size  # two groups of consecutive ranks (one on 1 rank)
    group = comm.split(color, comm.rank)
    members = [r for r in range(comm.size) if r * 2 // comm.size == color]
    assert group.size == len(members) and group.rank == members.index(comm.rank)
    mine = members_of(group.rank, group.size, 5)
    rows = group.allgather_rows(np.array([[comm.rank]] * len(mine), dtype=float).reshape(-1, 1), 5)
    assert set(rows[:, 0].astype(int)) <= set(members)  # only this group's ranks took part
    group.free()


def test_allgather_varying_concatenates_in_rank_order():
    comm = Comm()
    local = np.full((comm.rank % 3, 2), float(comm.rank))  # some ranks send nothing
    rows = comm.allgather_varying(local, 2)
    expected = np.concatenate([np.full((r % 3, 2), float(r)) for r in range(comm.size)]).reshape(-1, 2)
    np.testing.assert_array_equal(rows, expected)


def test_evaluate_returns_every_task_in_order_under_both_schedules():
    comm = Comm()
    for dynamic, chunk in ((False, 1), (True, 1), (True, 3)):
        for count in (0, 1, 7, 13):
            rows = comm.evaluate(count, 2, lambda task: np.array([task, task * 0.5]), dynamic, chunk)
            assert rows.shape == (count, 2)
            np.testing.assert_array_equal(rows[:, 0], np.arange(count))
            np.testing.assert_array_equal(rows[:, 1], np.arange(count) * 0.5)


def test_dynamic_schedule_gives_a_slow_rank_fewer_tasks():
    import time

    comm = Comm()
    if comm.size == 1:
        return
    def row_of(task):  # rank 0 is slow; the row says who ran the task
        time.sleep(0.05 if comm.rank == 0 else 0.005)
        return np.array([float(comm.rank)])
    ran_by = comm.evaluate(8 * comm.size, 1, row_of, dynamic=True)[:, 0]
    counts = np.bincount(ran_by.astype(int), minlength=comm.size)
    assert counts.sum() == 8 * comm.size and counts[0] < 8 <= counts[1:].max(), counts
    static = comm.evaluate(8 * comm.size, 1, row_of)[:, 0]
    assert np.array_equal(np.bincount(static.astype(int)), np.full(comm.size, 8))  # round-robin


def test_node_memory_is_shared_between_the_ranks_of_a_node():
    assert Comm().node_memory_shared()
