#!/usr/bin/env python
"""Start-up cost per rank: imports, and time from ``mpiexec`` to the first generation.

What is measured, for each rank count of ``--ranks`` (more than the cores oversubscribe them)
    imports    ``mpiexec -n R python -c <probe>``: every rank imports what ``mpies run`` imports
               (``mpies.cli`` and the ``run`` command's modules, ``mpies.driver``, the search
               program), then reports its import seconds (``time.perf_counter`` around the
               imports) and how many modules it loaded from files (each a file the rank opened,
               plus the directory lookups to find it); the maximum over ranks is reported.
    help       the same for ``mpies --help`` (one process): modules loaded and seconds.
    first gen  ``mpiexec -n R python -m mpies run cartpole --set generations=1``: seconds from the
               launch to the line of generation 1 on stdout (process start, imports, MPI init,
               noise table, file creation, one generation of CartPole).

Reproduce
    python scripts/bench_startup.py                   # 1 2 4 8 16 ranks
    python scripts/bench_startup.py --ranks 1 2       # quicker

Output: a table on stdout, JSON in bench-results/bench_startup.json (``--out``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as common  # noqa: E402

NAME = "bench_startup"
PROBE = """
import json, sys, time
started = time.perf_counter()
{imports}
seconds = time.perf_counter() - started
files = sum(1 for m in list(sys.modules.values()) if getattr(m, "__file__", None))
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & {{"matplotlib", "numba", "mujoco", "Box2D", "imageio"}})
import os
with open(os.path.join({folder!r}, f"{{os.getpid()}}.json"), "w") as out:  # ranks print at once: one file each
    json.dump({{"seconds": seconds, "module_files": files, "optional_extras": heavy}}, out)
"""
RUN_IMPORTS = "import mpies.cli, mpies.cli.run_cmd, mpies.driver, mpies.search, mpies.comm"
HELP_IMPORTS = "from mpies.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"


def probe(ranks: int | None, imports: str) -> list[dict]:
    """Each process's import seconds, module files and optional extras (``ranks`` None: no mpiexec)."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-c", PROBE.format(imports=imports, folder=folder)]
        if ranks:
            command = ["mpiexec", "-n", str(ranks), *command]
        subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
        return [json.loads(path.read_text()) for path in sorted(Path(folder).glob("*.json"))]


def first_generation_seconds(ranks: int, workdir: Path) -> float:
    command = ["mpiexec", "-n", str(ranks), sys.executable, "-m", "mpies", "run", "cartpole", "--set", "generations=1",
               "-o", str(workdir / f"n{ranks}.h5"), "--overwrite"]
    started = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        for line in proc.stdout:
            if line.startswith("gen "):
                seconds = time.perf_counter() - started
        proc.wait(timeout=600)
    return seconds


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ranks", nargs="+", type=int, default=[1, 2, 4, 8, 16])
    common.add_common_options(p, NAME)
    args = p.parse_args(argv)
    if args.wait_quiet:
        common.wait_quiet(args.wait_quiet)
    help_probe = probe(None, HELP_IMPORTS)[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for ranks in args.ranks:
            ranks_probe = probe(ranks, RUN_IMPORTS)
            rows.append({"ranks": ranks, "import_seconds_max": max(r["seconds"] for r in ranks_probe),
                         "module_files": max(r["module_files"] for r in ranks_probe),
                         "optional_extras": sorted({m for r in ranks_probe for m in r["optional_extras"]}),
                         "first_generation_seconds": first_generation_seconds(ranks, Path(tmp))})
    print(f"mpies --help: {help_probe['module_files']} modules from files, {help_probe['seconds']:.2f} s")
    print(common.format_table(
        ["ranks", "import s (slowest rank)", "modules from files per rank", "optional extras imported",
         "mpiexec to generation 1 (s)"],
        [[r["ranks"], f"{r['import_seconds_max']:.2f}", r["module_files"], ", ".join(r["optional_extras"]) or "none",
          f"{r['first_generation_seconds']:.1f}"] for r in rows], title="start-up of `mpies run cartpole`"))
    payload = {"help": help_probe, "runs": rows, "environment": common.environment()}
    common.write_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
