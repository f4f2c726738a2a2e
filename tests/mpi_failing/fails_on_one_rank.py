"""A deliberately failing MPI test: rank 1 fails an assertion while rank 0 waits in a barrier.

Not a test of mpies: tests/test_comm.py runs it as ``mpiexec -n 2 python -m pytest`` on this file
to prove that the harness of tests/mpi/conftest.py ends the whole job at once instead of leaving
rank 0 in the barrier until a timeout. pytest never collects it on its own (the file name does not
match ``test_*.py``, and setup.cfg's ``norecursedirs`` skips this directory).
"""

from mpi4py import MPI

FAILING_RANK = 1
MESSAGE = "rank 1 fails on purpose while rank 0 waits in a barrier"


def test_one_rank_fails_while_the_others_wait():
    world = MPI.COMM_WORLD
    assert world.Get_size() > FAILING_RANK, "run with at least 2 ranks"
    if world.Get_rank() == FAILING_RANK:
        assert world.Get_rank() != FAILING_RANK, MESSAGE
    world.Barrier()  # never completes: the failing rank does not get here
