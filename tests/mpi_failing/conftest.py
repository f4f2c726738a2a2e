"""The MPI harness of tests/mpi/conftest.py (abort on a failure, combined exit status) for this demo.

Loaded by file path under its own module name: conftest files outside packages all share the
module name ``conftest``.
"""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("mpies_mpi_harness",
                                               Path(__file__).parents[1] / "mpi" / "conftest.py")
_harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_harness)

pytest_configure = _harness.pytest_configure
pytest_runtest_logreport = _harness.pytest_runtest_logreport
pytest_collectreport = _harness.pytest_collectreport
pytest_sessionfinish = _harness.pytest_sessionfinish
