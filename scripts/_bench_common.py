"""Helpers shared by the ``scripts/bench_*.py`` benchmarks: environment facts, tables, JSON output.

Not a benchmark itself. The benchmark scripts import it from their own folder, so run them as
``python scripts/bench_<name>.py`` (any working directory).
"""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

# One process per core, as `mpies` itself does (mpies/cli/__init__.py): no BLAS threads.
# Must run before numpy is imported, so the benchmark scripts import this module first.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path("bench-results")


def default_out(name: str) -> Path:
    return RESULTS_DIR / f"{name}.json"


def median(values) -> float:
    values = list(values)
    return float(statistics.median(values)) if values else float("nan")


def environment() -> dict:
    """Facts about the machine and software that a reader needs to interpret the numbers."""
    info = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "threads_env": {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                       "MKL_NUM_THREADS")},
    }
    for module in ("numpy", "gymnasium", "mujoco", "h5py", "mpi4py", "mpies"):
        try:
            info[module] = __import__(module).__version__
        except Exception:  # pragma: no cover - informational only
            info[module] = None
    try:
        info["cpu_model"] = next(line.split(":", 1)[1].strip()
                                 for line in Path("/proc/cpuinfo").read_text().splitlines()
                                 if line.startswith("model name"))
    except Exception:
        info["cpu_model"] = None
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "mpies"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        info["git_commit"] = commit or None
        info["mpies_tree_modified"] = bool(dirty)
    except Exception:
        info["git_commit"] = None
    return info


def format_table(headers: list[str], rows: list[list], title: str | None = None) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))

    out = [title] if title else []
    out += [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def write_json(path: Path, payload: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
    return path


def _json_default(value):
    try:
        import numpy as np
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {value!r}")


def check(value: float, target: float, higher_is_better: bool = True) -> str:
    """'ok' / 'below target' text for a report line (never an assertion)."""
    if value != value:  # NaN
        return "n/a"
    good = value >= target if higher_is_better else value <= target
    return "meets target" if good else "MISSES target"
