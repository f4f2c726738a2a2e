"""Harness for tests run directly under mpiexec: ``mpiexec -n K python -m pytest tests/mpi``.

Every rank collects and runs the same tests in the same order, so the collectives inside them line
up (the layout of mpi4py-fft's ``tests/runtests.sh``). tests/test_comm.py launches this directory
at 1, 2 and 4 ranks; the parent pytest run does not collect it (``norecursedirs`` in setup.cfg).
Three hooks make such a run safe to judge by its exit code:

* A failure on one rank (a test phase, or collecting a module) prints that rank's report on stderr,
  each line prefixed ``[rank N]``, then ends the whole job with ``MPI.COMM_WORLD.Abort(1)``.
  Otherwise the other ranks would wait in their next collective until a timeout (what
  ``python -m mpi4py`` does for an uncaught exception). At one rank no other rank can wait, so
  pytest's own report is kept instead.
* At the end of the session every rank's exit status is combined (the maximum over ranks), so all
  ranks agree and mpiexec exits non-zero if any rank failed.
* When ``MPIES_MPI_REPORT_DIR`` is set, each rank writes ``rank<N>.json`` there: the world size,
  its own and the combined exit status, and the outcome of every test it ran, so the launcher can
  check that tests really ran, and the same ones on every rank.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path

import pytest
from mpi4py import MPI

REPORT_DIR_VARIABLE = "MPIES_MPI_REPORT_DIR"

# outcome of each test on this rank, by node id: "passed", "failed", "skipped" or "error"
_outcomes: dict[str, str] = {}
_config: pytest.Config | None = None  # set by pytest_configure; reports do not carry it


def pytest_configure(config: pytest.Config) -> None:
    global _config
    _config = config


def _abort_with_report(config: pytest.Config | None, report) -> None:
    """Print ``report`` on stderr as ``[rank N] ...`` lines and abort the whole job (size > 1)."""
    world = MPI.COMM_WORLD
    if world.Get_size() == 1:
        return
    lines = [f"{report.nodeid or '<collection>'} failed during {report.when} on rank {world.Get_rank()} "
             f"of {world.Get_size()}; aborting the job", *report.longreprtext.splitlines()]
    for title, content in report.sections:  # captured output of the failing test
        lines += [f"----- {title} -----", *content.splitlines()]
    message = "".join(f"[rank {world.Get_rank()}] {line}\n" for line in lines)
    capture = config.pluginmanager.getplugin("capturemanager") if config else None
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        sys.stderr.write(message)
        sys.stderr.flush()
    time.sleep(0.5)  # let mpiexec forward this rank's stderr before Abort tears the job down
    world.Abort(1)


@pytest.hookimpl(trylast=True)  # after the terminal reporter has shown the outcome
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed:
        _outcomes[report.nodeid] = "failed" if report.when == "call" else "error"
    elif report.skipped:
        _outcomes.setdefault(report.nodeid, "skipped")
    elif report.when == "call":
        _outcomes[report.nodeid] = "passed"
    if report.failed:
        _abort_with_report(_config, report)


@pytest.hookimpl(trylast=True)
def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:  # e.g. an import error on one rank only: the others would run on
        _abort_with_report(_config, report)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # a collective: every rank reaches it exactly once, at the end, in the same order
    world = MPI.COMM_WORLD
    own = int(exitstatus)
    combined = world.allreduce(own, op=MPI.MAX)
    session.exitstatus = combined
    report_dir = os.environ.get(REPORT_DIR_VARIABLE)
    if report_dir:
        report = {"rank": world.Get_rank(), "size": world.Get_size(), "exitstatus": own,
                  "combined_exitstatus": combined, "collected": session.testscollected,
                  "tests": dict(sorted(_outcomes.items()))}
        path = Path(report_dir) / f"rank{world.Get_rank()}.json"
        path.write_text(json.dumps(report, indent=1))
