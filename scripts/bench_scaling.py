#!/usr/bin/env python
"""Throughput of real ``mpiexec -n R mpies run`` jobs for several rank counts, same config.

What is measured
    A temporary TOML config is written (``--env`` HalfCheetah-v5, MLP ``--hidden`` [64, 64],
    OpenAI-ES population ``--population`` 64, ``--generations`` 6, ``rollout.max_steps``
    ``--max-steps`` 1000, ``rollout.eval_every = 0`` so only population members are played, noise
    table of ``--table-size`` floats, everything else at mpies defaults). For every rank count in
    ``--ranks`` (default 1 2) the script launches::

        mpiexec -n R <python> -m mpies run <config> -o <tmpdir>/scaling-nR-repK.h5 --overwrite

    ``--repeats`` times, interleaving rank counts (1, 2, 1, 2, ...). Numbers come from the run's
    own ``/history`` (read with h5py), not from the outer clock:

    steps/s         (env_steps[-1] - env_steps[0]) / (wall_time[-1] - wall_time[0]): generations
                    1..N-1, the first generation being treated as warm-up (with ``--generations 1``
                    the whole run, env_steps / wall_time, is used instead).
    phase fractions sums of rollout/gather/update/io seconds over the same rows divided by the same
                    wall-time span. mpies stores in row g the io time of generation g-1 (the write
                    of row g happens after the row is built), and ``wall_time`` of row g is taken
                    before that write, so rows 1..N-1 cover exactly the io of generations 0..N-2
                    that lies inside the span. gather includes waiting for the slowest rank.

    The median over repeats is reported per rank count, with the speedup over the smallest rank
    count (target for 2 vs 1: >= 1.9) and the fraction of time in gather + update + io. The outer
    wall-clock time of each mpiexec (process start, imports, noise table, file creation) is
    reported for context only. Ranks beyond the machine's cores oversubscribe it (a warning is
    printed). Speed is never asserted.

Machine load
    Each script samples, from /proc/stat, how many cores other processes keep busy just before and
    during the measurement and prints a WARNING when that is above 0.2 cores: numbers taken next
    to other work (another MPI job, a test suite) are slower and noisier than the code deserves.
    Here the CPU used by others is also recorded for every mpiexec run, and ``--wait-quiet S``
    waits (up to S seconds) for a quiet machine before each run rather than once.

Reproduce
    python scripts/bench_scaling.py                       # 1 vs 2 ranks, HalfCheetah, ~2 minutes
    python scripts/bench_scaling.py --quick               # smoke run (seconds); its generations
                                                          # last ~0.05 s, so the fixed ~2 ms of
                                                          # HDF5 io per generation and process
                                                          # noise dominate: not a speedup figure
    python scripts/bench_scaling.py --ranks 1 2 4 8 16 --population 256   # bigger machines
    python scripts/bench_scaling.py --env Hopper-v5 --keep   # keep the run files and the config

Output: a table on stdout and JSON in bench-results/bench_scaling.json (``--out`` to change).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as common  # noqa: E402  (sets BLAS thread variables before numpy loads)


NAME = "bench_scaling"
PHASES = ("rollout", "gather", "update", "io")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                epilog="See the module docstring (top of this file) for the method.")
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2], help="rank counts to compare")
    p.add_argument("--env", default="HalfCheetah-v5", help="gymnasium environment id")
    p.add_argument("--hidden", type=int, nargs="+", default=[64, 64], help="MLP hidden layer sizes")
    p.add_argument("--population", type=int, default=64, help="members per generation (even)")
    p.add_argument("--generations", type=int, default=6, help="generations per run")
    p.add_argument("--max-steps", type=int, default=1000, help="rollout.max_steps")
    p.add_argument("--table-size", type=int, default=2**25, help="noise.table_size (float32 entries)")
    p.add_argument("--noise-mode", default="table", choices=["table", "generator"], help="noise.mode")
    p.add_argument("--repeats", type=int, default=3, help="runs per rank count (interleaved)")
    p.add_argument("--seed", type=int, default=0, help="run seed")
    p.add_argument("--mpiexec", default="mpiexec", help="MPI launcher")
    p.add_argument("--timeout", type=float, default=1800, help="seconds allowed per mpiexec run")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (config and run files)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: population 8, 2 generations, 100 steps, table 2^20, 1 repeat")
    common.add_common_options(p, NAME)
    args = p.parse_args(argv)
    if args.quick:
        args.population, args.generations, args.max_steps = 8, 2, 100
        args.table_size, args.repeats = 2**20, 1
    if args.population % 2 or args.population < 2:
        p.error("--population must be even (mirrored sampling)")
    if min(args.ranks) < 1 or max(args.ranks) > args.population:
        p.error("--ranks must be between 1 and --population")
    if min(args.generations, args.max_steps, args.repeats) < 1:
        p.error("--generations, --max-steps and --repeats must be >= 1")
    args.ranks = sorted(set(args.ranks))
    return args


def config_text(args) -> str:
    hidden = ", ".join(str(h) for h in args.hidden)
    return f"""# written by scripts/bench_scaling.py
name = "bench-scaling"
algorithm = "openai_es"
env = "{args.env}"
seed = {args.seed}
generations = {args.generations}

[policy]
kind = "mlp"
hidden = [{hidden}]

[strategy]
population = {args.population}

[noise]
mode = "{args.noise_mode}"
table_size = {args.table_size}

[rollout]
max_steps = {args.max_steps}
eval_every = 0
"""


def analyse(path: Path) -> dict:
    import h5py

    with h5py.File(path, "r", locking=False) as f:
        h = f["history"][:]
        attrs = {k: f.attrs[k] for k in ("ranks", "num_params", "status")}
    if h.size >= 2:
        window = h[1:]
        span = float(h["wall_time"][-1] - h["wall_time"][0])
        steps = int(h["env_steps"][-1] - h["env_steps"][0])
    else:
        window = h
        span = float(h["wall_time"][-1])
        steps = int(h["env_steps"][-1])
    phase = {ph: float(window[f"{ph}_seconds"].sum()) for ph in PHASES}
    return {
        "ranks": int(attrs["ranks"]), "num_params": int(attrs["num_params"]), "status": str(attrs["status"]),
        "generations": int(h.size), "generations_timed": int(window.size),
        "env_steps_timed": steps, "seconds_timed": span, "steps_per_second": steps / span,
        "total_env_steps": int(h["env_steps"][-1]), "total_wall_time": float(h["wall_time"][-1]),
        "phase_seconds": phase,
        "phase_fraction": {ph: v / span for ph, v in phase.items()},
        "overhead_fraction": (phase["gather"] + phase["update"] + phase["io"]) / span,
        "unaccounted_fraction": 1.0 - sum(phase.values()) / span,
        "history": {k: h[k].tolist() for k in ("generation", "wall_time", "env_steps", "rollout_seconds",
                                                 "gather_seconds", "update_seconds", "io_seconds")},
    }


def launch(args, ranks: int, config: Path, out: Path, workdir: Path) -> tuple[dict, float, str]:
    cmd = [args.mpiexec, "-n", str(ranks), sys.executable, "-m", "mpies", "run", str(config),
           "-o", str(out), "--overwrite"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, cwd=workdir,
                          env=dict(os.environ))
    outer = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"{NAME}: `{' '.join(cmd)}` failed with exit code {proc.returncode}")
    return analyse(out), outer, proc.stdout


def main(argv=None) -> dict:
    args = parse_args(argv)
    mpiexec = shutil.which(args.mpiexec)
    if mpiexec is None:
        raise SystemExit(f"{NAME}: MPI launcher {args.mpiexec!r} not found on PATH")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if max(args.ranks) > cores:
        print(f"WARNING: {max(args.ranks)} ranks on {cores} cores: oversubscribed, speedups will be poor")

    workdir = Path(tempfile.mkdtemp(prefix="mpies-bench-scaling-"))
    config = workdir / "bench-scaling.toml"
    config.write_text(config_text(args))
    print(f"{NAME}: {args.env}, MLP {args.hidden}, population {args.population}, {args.generations} "
          f"generations x <= {args.max_steps} steps, noise {args.noise_mode}, ranks {args.ranks}, "
          f"{args.repeats} repeat(s), {cores} cores; files in {workdir}")

    runs = {r: [] for r in args.ranks}
    before = common.idle_check()
    monitor = common.CpuMonitor().start()
    per_run_load = []
    try:
        for rep in range(args.repeats):
            for r in args.ranks:
                out = workdir / f"scaling-n{r}-rep{rep}.h5"
                if args.wait_quiet:
                    common.wait_quiet(args.wait_quiet)
                run_monitor = common.CpuMonitor().start()
                result, outer, stdout = launch(args, r, config, out, workdir)
                run_load = run_monitor.stop()
                per_run_load.append(run_load)
                others = run_load["others_cores"]
                result.update(outer_seconds=outer, repeat=rep, file=str(out) if args.keep else None,
                              others_cores=others)
                if rep == 0 and r == args.ranks[0]:
                    print("  " + "\n  ".join(stdout.strip().splitlines()[:3]) + "\n  ...")
                runs[r].append(result)
                print(f"  -n {r:<3d} repeat {rep + 1}/{args.repeats}: {result['steps_per_second']:9,.0f} "
                      f"steps/s over generations 2..{result['generations']}, gather+update+io "
                      f"{100 * result['overhead_fraction']:5.2f}%, outer {outer:6.1f} s, other "
                      f"processes {others if others is not None else float('nan'):.2f} cores")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    load = dict(monitor.stop(), before=before)
    # Only the time spent inside mpiexec runs counts (not --wait-quiet pauses between them).
    wall = sum(x["wall_seconds"] for x in per_run_load)
    if all(x["others_cpu_seconds"] is not None for x in per_run_load):
        others_cpu = sum(x["others_cpu_seconds"] for x in per_run_load)
        load.update(wall_seconds=wall, others_cpu_seconds=others_cpu, others_cores=others_cpu / wall,
                    whole_span_others_cores=load["others_cores"])

    base = args.ranks[0]
    summary, rows = {}, []
    base_sps = common.median(x["steps_per_second"] for x in runs[base])
    for r in args.ranks:
        rs = runs[r]
        sps = common.median(x["steps_per_second"] for x in rs)
        frac = {ph: common.median(x["phase_fraction"][ph] for x in rs) for ph in PHASES}
        overhead = common.median(x["overhead_fraction"] for x in rs)
        speedup = sps / base_sps
        ideal = r / base
        summary[r] = {"median_steps_per_second": sps, "speedup": speedup, "ideal_speedup": ideal,
                      "efficiency": speedup / ideal, "median_phase_fraction": frac,
                      "median_overhead_fraction": overhead,
                      "median_outer_seconds": common.median(x["outer_seconds"] for x in rs),
                      "runs": rs}
        rows.append([r, f"{sps:,.0f}", f"{min(x['steps_per_second'] for x in rs):,.0f}",
                     f"{max(x['steps_per_second'] for x in rs):,.0f}", f"{speedup:.2f}",
                     f"{100 * speedup / ideal:.0f}%", f"{100 * frac['rollout']:.1f}%",
                     f"{100 * frac['gather']:.2f}%", f"{100 * frac['update']:.2f}%",
                     f"{100 * frac['io']:.2f}%", f"{100 * overhead:.2f}%",
                     f"{summary[r]['median_outer_seconds']:.1f}"])
    table = common.format_table(
        ["ranks", "steps/s", "min", "max", f"speedup vs {base}", "efficiency", "rollout", "gather",
         "update", "io", "gath+upd+io", "outer s"], rows,
        title=f"\n{args.env}, population {args.population}, {runs[base][0]['num_params']} parameters; "
              f"median of {args.repeats} run(s), generations 2..{args.generations} of each:")
    print(table)
    target = None
    if 1 in summary and 2 in summary:
        target = summary[2]["median_steps_per_second"] / summary[1]["median_steps_per_second"]
        print(f"target speedup 2 vs 1 ranks >= 1.9: {target:.2f} -> {common.check(target, 1.9)}")
    print(common.contamination_line(load))

    payload = {
        "benchmark": NAME,
        "description": "env steps/s of `mpiexec -n R mpies run` for several R, from the run files' "
                       "/history; per-phase fractions of wall time",
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "config_toml": config_text(args),
        "launcher": mpiexec,
        "results": {str(r): v for r, v in summary.items()},
        "target": {"metric": "speedup 2 vs 1 ranks", "value": 1.9, "measured": target},
        "machine_load": load,
        "environment": common.environment(),
        "table": table,
    }
    common.write_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
