"""Helpers shared by the ``scripts/bench_*.py`` benchmarks: environment facts, tables, JSON output.

Not a benchmark itself. The benchmark scripts import it from their own folder, so run them as
``python scripts/bench_<name>.py`` (any working directory).
"""

from __future__ import annotations

import json
import os
import platform
import resource
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
    """Write a benchmark's results as JSON and say where."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
    print(f"wrote {path}")
    return path


def reference_parser(doc: str, cases, out: Path):
    """The arguments every ``scripts/reference_*.py`` takes: ``--cases`` (of ``cases``, all by
    default), ``--seeds`` (11: seeds 0 .. 10) and ``--out`` (the stored reference ``out``)."""
    import argparse
    parser = argparse.ArgumentParser(description=doc.split("\n")[1])
    parser.add_argument("--cases", nargs="+", choices=sorted(cases), default=list(cases))
    parser.add_argument("--seeds", type=int, default=11)
    parser.add_argument("--out", type=Path, default=out)
    return parser


def write_reference(path: Path, script: str, argv, library: str, target: float, seeds: int,
                    protocol: str, cases: dict, **extra) -> Path:
    """Write reference figures computed with a benchmark-only library, in the layout the tests
    read (``tests/data/references/*.json``): the command that made them, the library and its
    version, the target, the seeds, how the runs were made, and ``cases``.

    Args:
        script: the script's path relative to the repository, e.g. ``scripts/reference_nes.py``.
        argv: the script's arguments (``None``: this process's).
        library: the distribution name (``pypop7``, ``cma``); its installed version is recorded.
    """
    import importlib.metadata
    command = " ".join(["python", script, *(sys.argv[1:] if argv is None else argv)])
    record = {"command": command, "library": f"{library} {importlib.metadata.version(library)}",
              "target": target, "seeds": list(range(seeds)), **extra, "protocol": protocol, "cases": cases}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {path}")
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


class CpuMonitor:
    """CPU time used on the whole machine vs by this process and its children, over a span.

    Other work on the machine (another job, a test suite) competes for the cores and slows every
    benchmark; this makes it visible. From ``/proc/stat`` (Linux only; other systems report None)
    and ``getrusage``. ``others_cores`` is the average number of cores kept busy by processes
    other than this benchmark; anything well above 0 means the numbers are contaminated.
    """

    def __init__(self):
        self._t0 = self._busy0 = self._own0 = None

    @staticmethod
    def _machine_busy() -> float | None:
        try:
            fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return None
        user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own() -> float:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    def start(self) -> "CpuMonitor":
        self._t0, self._busy0, self._own0 = time.perf_counter(), self._machine_busy(), self._own()
        return self

    def stop(self) -> dict:
        wall = time.perf_counter() - self._t0
        busy1, own = self._machine_busy(), self._own() - self._own0
        out = {"wall_seconds": wall, "own_cpu_seconds": own, "loadavg_end": _loadavg()}
        if busy1 is not None and self._busy0 is not None:
            machine = busy1 - self._busy0
            out.update(machine_cpu_seconds=machine, others_cpu_seconds=max(machine - own, 0.0),
                       others_cores=max(machine - own, 0.0) / wall)
        else:
            out.update(machine_cpu_seconds=None, others_cpu_seconds=None, others_cores=None)
        return out


def _loadavg() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return None


def idle_check(seconds: float = 1.0) -> dict:
    """Sample the machine before a benchmark: cores busy with other work, load average."""
    monitor = CpuMonitor().start()
    time.sleep(seconds)
    out = monitor.stop()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    busy = out["others_cores"]
    line = (f"machine before start: {busy:.2f} of {cores} cores busy with other processes, "
            f"load average {out['loadavg_end']}" if busy is not None else "machine load: unknown")
    if busy is not None and busy > 0.2:
        line += "  WARNING: other work is running; timings will be slower and noisier"
    print(line)
    return {"others_cores": busy, "loadavg": out["loadavg_end"], "cores": cores}


def wait_quiet(max_seconds: float, threshold: float = 0.2, sample: float = 5.0) -> float:
    """Wait (up to ``max_seconds``) until other processes keep fewer than ``threshold`` cores busy.

    Returns the seconds waited. Used by ``--wait-quiet`` on shared machines.
    """
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < max_seconds:
        monitor = CpuMonitor().start()
        time.sleep(min(sample, max(max_seconds - (time.perf_counter() - t0), 0.1)))
        busy = monitor.stop()["others_cores"]
        if busy is None or busy < threshold:
            break
        print(f"  waiting for a quiet machine: {busy:.2f} cores busy with other processes "
              f"({time.perf_counter() - t0:.0f}/{max_seconds:.0f} s)")
    return time.perf_counter() - t0


def add_common_options(parser, name: str) -> None:
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="first wait up to SECONDS until other processes use < 0.2 cores")
    parser.add_argument("--out", type=Path, default=default_out(name), help="JSON output path")


def contamination_line(monitor_result: dict) -> str:
    busy = monitor_result.get("others_cores")
    if busy is None:
        return "other processes during the benchmark: unknown"
    line = (f"other processes during the benchmark kept {busy:.2f} cores busy on average "
            f"({monitor_result['others_cpu_seconds']:.1f} CPU-s over {monitor_result['wall_seconds']:.1f} s)")
    if busy > 0.2:
        line += "  WARNING: contaminated, rerun on a quiet machine"
    return line


def check(value: float, target: float, higher_is_better: bool = True) -> str:
    """'ok' / 'below target' text for a report line (never an assertion)."""
    if value != value:  # NaN
        return "n/a"
    good = value >= target if higher_is_better else value <= target
    return "meets target" if good else "MISSES target"
