"""Run the MPI unit tests of tests/mpi under mpiexec with 1, 2 and 4 ranks."""

import subprocess
import sys

import pytest

from conftest import TESTS, subprocess_env


@pytest.mark.parametrize("ranks", [1, 2, 4])
def test_comm_under_mpiexec(ranks):
    cmd = ["mpiexec", "-n", str(ranks), sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           str(TESTS / "mpi")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=subprocess_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("6 passed") == ranks
