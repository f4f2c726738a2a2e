"""Helpers shared by the ``scripts/repro_*.py`` learning reproductions: run a shipped config
through the real command line and read where its noiseless evaluation first reached a threshold.

Not a script itself; the repro scripts import it from their own folder (after ``_bench_common``,
which sets the BLAS thread variables before numpy loads).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np


@dataclass(frozen=True)
class Case:
    """One shipped config and its target.

    Attributes:
        config: shipped config name.
        threshold: eval return that counts as reached.
        seeds: default number of seeds.
        paper: the published figure to compare with (text).
        paper_steps: the published environment steps to the threshold, or None.
    """

    config: str
    threshold: float
    seeds: int
    paper: str
    paper_steps: float | None = None


def first_reach(path: Path, threshold: float, members_per_generation: int) -> dict:
    """Where a run file's ``eval_return`` first reaches ``threshold`` (None entries when never).

    Row ``i`` (0-based; generation ``i + 1``) evaluates the mean after ``i`` updates, trained on
    ``i * members_per_generation`` member episodes and the steps of rows ``< i`` (``env_steps`` of
    row ``i - 1``; mpies counts evaluation steps in ``env_steps``, so this slightly over-states the
    training steps). ``wall_seconds_to_reach`` is the run's ``wall_time`` at that row.
    """
    with h5py.File(path, "r") as f:
        history = f["history"][()]
    reached = np.flatnonzero(history["eval_return"] >= threshold)
    out = {"generations_run": int(history.shape[0]), "wall_seconds": float(history["wall_time"][-1]),
           "steps_run": int(history["env_steps"][-1]),
           "best_eval": float(np.nanmax(history["eval_return"])), "generation": None,
           "episodes": None, "steps": None, "wall_seconds_to_reach": None}
    if reached.size:
        i = int(reached[0])
        out.update(generation=int(history["generation"][i]), episodes=i * members_per_generation,
                   steps=int(history["env_steps"][i - 1]) if i > 0 else 0,
                   wall_seconds_to_reach=float(history["wall_time"][i]))
    return out


def run_case(case: Case, seed: int, workdir: Path, ranks: int, extra: list[str]) -> dict:
    """One ``mpies run`` of ``case`` with ``seed`` (``nice -n 10 mpiexec -n RANKS``); its
    first-reach record with the command that made it."""
    from mpies import config as config_mod

    overrides = [f"seed={seed}", *extra]
    cfg = config_mod.load(case.config, overrides)
    out = workdir / f"{case.config}-s{seed}.h5"
    command = ["nice", "-n", "10", "mpiexec", "-n", str(ranks), sys.executable, "-m", "mpies", "run",
               case.config, "-o", str(out), "--overwrite"]
    for item in overrides:
        command += ["--set", item]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    record = first_reach(out, case.threshold, cfg.strategy.population * cfg.rollout.episodes)
    record.update(seed=seed, path=str(out), command=" ".join(command[3:]),
                  process_seconds=time.perf_counter() - started)
    return record


def median_or_inf(values) -> float:
    """The median, a None (never reached) counting as infinity."""
    return float(statistics.median([np.inf if v is None else v for v in values]))


def plot_seeds(paths, out: Path, x_axis: str = "env_steps") -> None:
    """``mpies plot PATHS --aggregate median -x X_AXIS -y eval_return -o OUT`` (a figure of the
    seeds of one case); skipped without matplotlib."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "mpies", "plot", *map(str, paths), "--aggregate", "median",
                    "-x", x_axis, "-y", "eval_return", "-o", str(out)], check=True, stdout=subprocess.DEVNULL)


def parser(doc: str, name: str, add_common_options) -> argparse.ArgumentParser:
    """The options every repro script takes: ``--only``, ``--seeds``, ``--ranks``, ``--tiny``,
    ``--workdir`` and ``_bench_common``'s (``add_common_options(parser, name)``)."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--only", nargs="+", metavar="CONFIG", help="run these configs only")
    p.add_argument("--seeds", type=int, help="seeds per config (default: each config's own)")
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--tiny", action="store_true", help="2 generations of 20 steps per config, 1 seed")
    p.add_argument("--workdir", type=Path, help="keep the run files here (default: a temporary folder)")
    add_common_options(p, name)
    return p


def run_cases(cases, args, tiny_settings: list[str], summarize) -> dict:
    """Run the ``cases`` that ``args.only`` keeps, each over its seeds (``--tiny``: 1 seed with
    ``tiny_settings``); ``config -> summarize(case, runs)`` with ``runs`` the :func:`run_case`
    records, printed as each case ends."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for case in (c for c in cases if not args.only or c.config in args.only):
            seeds = 1 if args.tiny else (args.seeds or case.seeds)
            extra = tiny_settings if args.tiny else []
            runs = [run_case(case, seed, workdir, args.ranks, extra) for seed in range(seeds)]
            results[case.config] = summarize(case, runs)
            print(f"{case.config}: reached after {[r['steps'] for r in runs]} steps "
                  f"({[r['episodes'] for r in runs]} episodes)", flush=True)
    return results


def report(common, args, results: dict, headers: list[str], row, title: str) -> dict:
    """Print ``results`` as a table (``row(name, summary) -> cells``) and write them with the
    machine's facts to ``args.out`` (``common`` is ``_bench_common``); returns the JSON payload."""
    print(common.format_table(headers, [row(name, r) for name, r in results.items()],
                              title=f"{title} ({args.ranks} ranks)"))
    payload = {"ranks": args.ranks, "tiny": args.tiny, "environment": common.environment(), "cases": results}
    common.write_json(args.out, payload)
    return payload

