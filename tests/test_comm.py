"""Run the MPI unit tests of tests/mpi directly under mpiexec with 1, 2 and 4 ranks.

The verdict is mpiexec's exit code: tests/mpi/conftest.py combines every rank's pytest exit status
(the maximum over ranks) and aborts the whole job as soon as one rank fails. To be sure tests did
run, each rank also writes a JSON report into a directory named by ``MPIES_MPI_REPORT_DIR``; every
rank must have run the same tests, at least one, and all of them must have passed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import TESTS, subprocess_env

REPORT_DIR_VARIABLE = "MPIES_MPI_REPORT_DIR"  # read by tests/mpi/conftest.py


def mpiexec_pytest(ranks: int, target, *, timeout: float, env: dict | None = None):
    """``mpiexec -n ranks python -m pytest target``; returns (completed process, seconds taken).

    The job runs in its own process group, so that on a timeout every rank is killed with mpiexec,
    and the test fails with what the ranks printed so far.
    """
    cmd = ["mpiexec", "-n", str(ranks), sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           # a test stuck in a collective on every rank: dump the stacks and exit that rank
           "--timeout", str(int(timeout) // 2), "--timeout-method", "thread", str(target)]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env or subprocess_env(), cwd=TESTS.parent, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"mpiexec -n {ranks} pytest {target} still running after {timeout} s\n"
                    f"stdout:\n{stdout}\nstderr:\n{stderr}")
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr), time.monotonic() - start


@pytest.mark.parametrize("ranks", [1, 2, 4])
def test_comm_under_mpiexec(tmp_path, ranks):
    env = subprocess_env()
    env[REPORT_DIR_VARIABLE] = str(tmp_path)
    proc, _ = mpiexec_pytest(ranks, TESTS / "mpi", timeout=120, env=env)
    output = f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode == 0, output
    reports = [json.loads(path.read_text()) for path in sorted(tmp_path.glob("rank*.json"))]
    assert sorted(r["rank"] for r in reports) == list(range(ranks)), output
    tests = reports[0]["tests"]
    assert len(tests) > 0, output
    for report in reports:
        assert report["size"] == ranks and report["combined_exitstatus"] == 0, report
        assert report["tests"] == tests, f"rank {report['rank']} ran other tests than rank 0"
        assert report["collected"] == len(tests), report
    assert set(tests.values()) == {"passed"}, tests


def test_a_failure_on_one_rank_ends_the_job_at_once():
    # rank 1 fails an assertion while rank 0 waits in a barrier: without the harness's Abort the
    # job would hang there until the timeout
    proc, elapsed = mpiexec_pytest(2, TESTS / "mpi_failing" / "fails_on_one_rank.py", timeout=60)
    output = f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode != 0, output
    assert elapsed < 30, f"took {elapsed:.1f} s\n{output}"
    failure = [line for line in proc.stderr.splitlines() if line.startswith("[rank 1] ")]
    assert any("failed during call on rank 1 of 2" in line for line in failure), output
    assert any("AssertionError: rank 1 fails on purpose" in line for line in failure), output
    assert not any(line.startswith("[rank 0] ") for line in proc.stderr.splitlines()), output
