#!/usr/bin/env python
"""Quality diversity on the planar-arm repertoire: mpies' MAP-Elites, CMA-ME and CMA-MAE vs pyribs'
own, QD score and coverage at equal numbers of evaluations.

What is measured
    The task is the arm of ``mpies.tasks.ArmTask`` (the shipped ``arm-map-elites`` config): 10
    joint angles (radians, unbounded), descriptor = end-effector position in [-1, 1]^2 (links of
    length 1/10), fitness = -var(angles) (0 is best), archive = 50 x 50 grid over [-1, 1]^2. Only
    the unit disc is reachable: 2040 of the 2500 cells touch it, so coverage cannot exceed 81.6 %
    (cells on the rim need an almost straight arm).

    Four MAP-Elites variants, all with batches of ``--batch`` (100, the config's population)
    solutions per generation, one emitter, the same budget:

        mpies  iso_line_dd  ``mpies.qd.MAPElites`` with the shipped config (sigma 0.01,
                            line_sigma 0.2), driven in-process (no MPI: ask, member_params of
                            every member, tell), noise as in the config (a private table)
        mpies  gaussian     the same with ``strategy.variation = "gaussian"``, sigma
                            ``--gaussian-sigma`` (0.1)
        pyribs iso_line_dd  ``ribs.archives.GridArchive`` + ``ribs.emitters.IsoLineEmitter``
                            (iso_sigma 0.01, line_sigma 0.2, no solution bounds) +
                            ``ribs.schedulers.Scheduler``
        pyribs gaussian     the same with ``ribs.emitters.GaussianEmitter(sigma=--gaussian-sigma)``

    CMA-ME and CMA-MAE (variants ``cma_me``, ``cma_mae``) run the shipped configs ``arm-cma-me``
    and ``arm-cma-mae`` (15 CMA-ES emitters x 36 members, sigma0 0.1, from theta0 = 0; CMA-MAE with
    learning rate 0.01 and threshold_min -100) in mpies, and pyribs' ``EvolutionStrategyEmitter``
    with the same settings (rankers ``2imp`` / ``imp``, selection ``filter`` / ``mu``, restarts
    ``no_improvement`` / ``basic``; CMA-MAE with a thresholded ``GridArchive`` and a result archive,
    which is what is measured). Budgets default to multiples of both generation sizes (100, 540).

    The MAP-Elites variants start from theta0 = 0: mpies draws its first batch as theta0 + init_sigma * N(0, I)
    (init_sigma = 1.0, the config); pyribs is given an initial batch drawn the same way
    (``initial_solutions``; otherwise its emitters would start from x0 with the mutation sigma).
    Solutions are evaluated by one vectorised function, checked against ``ArmTask.evaluate``.

    Reported at the budgets ``--budgets`` (evaluations; whole generations, so budgets are multiples
    of the batch): the QD score with offset ``--offset`` (-100, the shipped config's
    ``qd_offset``; the same offset and formula, sum over filled cells of (fitness - offset), for
    both libraries, computed from the archive contents), the coverage (filled / 2500 cells) and
    the mean elite fitness (the quality part that the QD score with offset -100 barely shows:
    it is ~100 x filled cells). Medians over ``--seeds`` seeds, and the ratio mpies / pyribs of
    the medians. pyribs' own ``archive.stats.qd_score`` (with ``qd_score_offset = --offset``) is
    cross-checked against ours. Wall time per run is printed for information (one process;
    mpies rebuilds each member from its key and inserts member by member in Python, pyribs is
    batched numpy).

    If pyribs is not installed (``pip install ribs``) the pyribs rows are skipped with a note;
    the mpies rows still run.

Reproduce
    python scripts/bench_qd.py              # 11 seeds, 100k evaluations per run: about a minute
    python scripts/bench_qd.py --quick      # 1 seed, 20k evaluations: seconds
    python scripts/bench_qd.py --seeds 11 --budgets 10000 50000 100000 200000

Output: tables on stdout and JSON in bench-results/bench_qd.json (``--out`` to change). Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as common  # noqa: E402  (sets BLAS thread variables before numpy loads)

import numpy as np  # noqa: E402

NAME = "bench_qd"
CONFIG = "arm-map-elites"
JOINTS = 10
BINS = (50, 50)
BOUNDS = (-1.0, 1.0)
VARIATIONS = ("iso_line_dd", "gaussian", "cma_me", "cma_mae")
"""The compared algorithms: MAP-Elites' two variations, then the emitter algorithms."""
EMITTER_CONFIGS = {"cma_me": "arm-cma-me", "cma_mae": "arm-cma-mae"}
"""Shipped config of each emitter algorithm (15 emitters x 36 members, sigma0 0.1)."""
METRICS = ("qd_score", "coverage", "mean_fitness")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                epilog="See the module docstring (top of this file) for the method.")
    p.add_argument("--seeds", type=int, default=11, help="seeds (0 .. N-1) per variant")
    p.add_argument("--budgets", type=int, nargs="+", default=[10_800, 54_000, 108_000],
                   help="evaluations at which to report (the largest is the run length)")
    p.add_argument("--batch", type=int, default=100, help="MAP-Elites: solutions per generation (both libraries)")
    p.add_argument("--variants", nargs="+", default=list(VARIATIONS), choices=VARIATIONS, help="what to compare")
    p.add_argument("--gaussian-sigma", type=float, default=0.1, help="mutation std of the gaussian variants")
    p.add_argument("--offset", type=float, default=-100.0, help="QD score offset (both libraries)")
    p.add_argument("--curve-every", type=int, default=1000, help="evaluations between curve points in the JSON")
    p.add_argument("--skip-pyribs", action="store_true", help="mpies only")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 seed, budgets 2k 10k 20k")
    common.add_common_options(p, NAME)
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.budgets = 1, [2_700, 10_800, 21_600]
    args.budgets = sorted(set(args.budgets))
    if min(args.seeds, args.batch, args.curve_every, *args.budgets) < 1:
        p.error("--seeds, --batch, --curve-every and --budgets must be >= 1")
    sizes = {generation_size(v, args) for v in args.variants}
    if any(b % size for b in args.budgets for size in sizes):
        p.error(f"--budgets must be multiples of every variant's generation ({sorted(sizes)}): whole generations")
    return args


def generation_size(variant: str, args) -> int:
    """Evaluations per generation of ``variant``: ``--batch``, or emitters x batch of its config."""
    if variant not in EMITTER_CONFIGS:
        return args.batch
    from mpies.config import load
    s = load(EMITTER_CONFIGS[variant]).strategy
    return s.emitters * s.batch


# ---------------------------------------------------------------- the task
def arm(params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised ``ArmTask.evaluate``: ``(n, joints)`` -> fitness ``(n,)``, descriptors ``(n, 2)``."""
    params = np.asarray(params, dtype=np.float64)
    angles = np.cumsum(params, axis=1)
    link = 1.0 / params.shape[1]
    descriptors = np.column_stack([link * np.cos(angles).sum(axis=1), link * np.sin(angles).sum(axis=1)])
    return -np.var(params, axis=1), descriptors


def check_arm() -> float:
    """Largest difference between :func:`arm` and ``mpies.tasks.ArmTask`` on random arms."""
    from mpies.config import load
    from mpies.tasks import ArmTask

    task = ArmTask(load(CONFIG))
    x = np.random.default_rng(0).normal(0.0, 1.5, (64, JOINTS))
    fitness, descriptors = arm(x)
    worst = 0.0
    for i in range(len(x)):
        e = task.evaluate(x[i], [0])
        worst = max(worst, abs(e.fitness - fitness[i]), float(np.max(np.abs(e.descriptor - descriptors[i]))))
    if worst > 1e-12:
        raise AssertionError(f"vectorised arm differs from ArmTask by {worst:g}")
    return worst


def reachable_cells() -> int:
    """Cells of the grid that the arm can reach: those that touch the open unit disc."""
    edges = np.linspace(BOUNDS[0], BOUNDS[1], BINS[0] + 1)
    lo, hi = edges[:-1], edges[1:]
    nearest = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(np.abs(lo), np.abs(hi)))
    return int(np.sum(np.hypot(nearest[:, None], nearest[None, :]) < 1.0))


def archive_metrics(fitness: np.ndarray, cells: int, offset: float) -> dict:
    """The same formulas for both libraries: ``fitness`` holds the elites' fitness only."""
    filled = int(fitness.size)
    return {"qd_score": float(np.sum(fitness - offset)) if filled else 0.0, "filled": filled,
            "coverage": filled / cells, "mean_fitness": float(fitness.mean()) if filled else math.nan,
            "best": float(fitness.max()) if filled else math.nan}


# ---------------------------------------------------------------- the two libraries
def run_mpies(variation: str, seed: int, args) -> dict:
    from mpies import registry
    from mpies.config import load
    from mpies.noise import make_noise
    from mpies.tasks import ArmTask

    if variation in EMITTER_CONFIGS:
        config = load(EMITTER_CONFIGS[variation], [f"seed={seed}"])
        s = config.strategy
        setting = {"emitters": s.emitters, "batch": s.batch, "sigma0": s.sigma, "ranking": s.ranking,
                   "selection": s.selection, "restart": s.restart, "learning_rate": s.learning_rate,
                   "threshold_min": s.threshold_min}
    else:
        overrides = [f"seed={seed}", f"strategy.population={args.batch}", f"strategy.variation={variation}"]
        if variation == "gaussian":
            overrides.append(f"strategy.sigma={args.gaussian_sigma}")
        config = load(CONFIG, overrides)
        s = config.strategy
        setting = {"population": s.population, "variation": s.variation, "sigma": s.sigma,
                   "line_sigma": s.line_sigma if variation == "iso_line_dd" else None,
                   "init_sigma": s.init_sigma}
    setting["noise"] = config.noise.mode
    task = ArmTask(config)
    theta0 = task.initial_params(None)
    noise = make_noise(config.noise.mode, config.seed, task.num_params, config.noise.table_size, None)
    me = registry.get(config.algorithm).strategy(config.strategy, theta0, noise)

    def step():
        population = me.ask()
        x = np.stack([me.member_params(population, i) for i in range(population.size)])
        fitness, descriptors = arm(x)
        me.tell(population, fitness, descriptors)
        return population.size

    def elites():
        state = me.archive.state
        return state["fitness"][state["occupied"]]

    return _drive(step, elites, me.archive.cells, args, setting)


def run_pyribs(variation: str, seed: int, args) -> dict:
    from ribs.archives import GridArchive
    from ribs.emitters import GaussianEmitter, IsoLineEmitter
    from ribs.schedulers import Scheduler

    archive = GridArchive(solution_dim=JOINTS, dims=list(BINS), ranges=[BOUNDS, BOUNDS],
                          qd_score_offset=args.offset, seed=seed)
    x0 = np.zeros(JOINTS)
    init = x0 + 1.0 * np.random.default_rng([seed, 12345]).standard_normal((args.batch, JOINTS))
    result = archive  # what the metrics read: CMA-MAE's separate archive of bests
    if variation in EMITTER_CONFIGS:
        archive, result, emitters, setting = pyribs_emitters(variation, seed, args)
        scheduler = Scheduler(archive, emitters, result_archive=None if result is archive else result)
    elif variation == "iso_line_dd":
        emitter = IsoLineEmitter(archive, iso_sigma=0.01, line_sigma=0.2, initial_solutions=init,
                                 batch_size=args.batch, seed=seed)
        setting = {"emitter": "IsoLineEmitter", "iso_sigma": 0.01, "line_sigma": 0.2}
    else:
        emitter = GaussianEmitter(archive, sigma=args.gaussian_sigma, initial_solutions=init,
                                  batch_size=args.batch, seed=seed)
        setting = {"emitter": "GaussianEmitter", "sigma": args.gaussian_sigma}
    if variation not in EMITTER_CONFIGS:
        setting.update(batch_size=args.batch, initial_solutions="N(0, 1) batch", bounds=None)
        scheduler = Scheduler(archive, [emitter])

    def step():
        x = scheduler.ask()
        fitness, descriptors = arm(x)
        scheduler.tell(fitness, descriptors)
        return len(x)

    def elites():
        return np.asarray(result.data("objective"), dtype=np.float64)

    out = _drive(step, elites, result.cells, args, setting)
    out["pyribs_stats_qd_score"] = float(result.stats.qd_score)  # cross-check of the final value
    return out


def pyribs_emitters(variation: str, seed: int, args):
    """pyribs' own CMA-ME or CMA-MAE with the settings of mpies' shipped config of ``variation``:
    ``(archive, result archive, emitters, setting)``. CMA-MAE's thresholded archive
    (``learning_rate``, ``threshold_min``) feeds the emitters; its result archive of bests is measured."""
    from mpies.config import load
    from ribs.archives import GridArchive
    from ribs.emitters import EvolutionStrategyEmitter

    s = load(EMITTER_CONFIGS[variation]).strategy
    grid = {"solution_dim": JOINTS, "dims": list(BINS), "ranges": [BOUNDS, BOUNDS], "qd_score_offset": args.offset}
    result = GridArchive(**grid, seed=seed)
    archive = result
    if s.learning_rate < 1.0:
        archive = GridArchive(**grid, learning_rate=s.learning_rate, threshold_min=s.threshold_min, seed=seed)
    ranker = {"two_stage": "2imp", "improvement": "imp"}[s.ranking]
    seeds = np.random.SeedSequence([seed, 777]).generate_state(s.emitters)
    emitters = [EvolutionStrategyEmitter(archive, x0=np.zeros(JOINTS), sigma0=s.sigma, ranker=ranker,
                                         selection_rule=s.selection, restart_rule=s.restart, batch_size=s.batch,
                                         seed=int(e)) for e in seeds]
    setting = {"emitter": "EvolutionStrategyEmitter", "count": s.emitters, "batch_size": s.batch,
               "sigma0": s.sigma, "ranker": ranker, "selection_rule": s.selection, "restart_rule": s.restart,
               "learning_rate": s.learning_rate, "threshold_min": s.threshold_min}
    return archive, result, emitters, setting


def _drive(step, elites, cells: int, args, setting: dict) -> dict:
    """Run generations until the largest budget; record metrics at budgets and curve points."""
    evals, at, curve = 0, {}, []
    t0 = time.perf_counter()
    seconds = 0.0
    while evals < args.budgets[-1]:
        before = evals
        evals += step()
        if evals // args.curve_every != before // args.curve_every or evals in args.budgets:
            seconds += time.perf_counter() - t0
            m = archive_metrics(elites(), cells, args.offset)
            if evals // args.curve_every != before // args.curve_every:
                curve.append([evals, m["qd_score"], m["coverage"]])
            if evals in args.budgets:
                at[evals] = dict(m, seconds=seconds)
            t0 = time.perf_counter()
    seconds += time.perf_counter() - t0
    final = archive_metrics(elites(), cells, args.offset)
    return {"at": at, "curve": curve, "final": final, "seconds": seconds, "setting": setting}


# ---------------------------------------------------------------- report
def fmt(metric: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if metric == "qd_score":
        return f"{value:,.0f}"
    if metric == "coverage":
        return f"{100 * value:.1f}%"
    return f"{value:.4f}"


def median_at(runs: list[dict], budget: int, metric: str) -> float:
    return common.median(r["at"][budget][metric] for r in runs)


def spread_at(runs: list[dict], budget: int, metric: str) -> str:
    """``median [lower quartile, upper quartile]`` over the seeds."""
    values = np.array([r["at"][budget][metric] for r in runs])
    q1, q2, q3 = np.percentile(values, [25, 50, 75])
    return f"{fmt(metric, float(q2))} [{fmt(metric, float(q1))}, {fmt(metric, float(q3))}]"


def main(argv=None) -> dict:
    args = parse_args(argv)
    t_start = time.perf_counter()
    print(f"{NAME}: {', '.join(args.variants)} on the {JOINTS}-joint arm, {BINS[0]}x{BINS[1]} grid over "
          f"[-1, 1]^2, budgets {args.budgets}, {args.seeds} seed(s), QD offset {args.offset:g}")
    waited = common.wait_quiet(args.wait_quiet) if args.wait_quiet else 0.0
    before = common.idle_check()
    check = check_arm()
    ribs_version, ribs_note = None, None
    if not args.skip_pyribs:
        try:
            import ribs
            ribs_version = ribs.__version__
        except ImportError as exc:
            ribs_note = f"pyribs not installed ({exc}); `pip install ribs` to compare. pyribs rows skipped."
            print(ribs_note)
    else:
        ribs_note = "pyribs skipped (--skip-pyribs)"
    libraries = {"mpies": run_mpies}
    if ribs_version:
        libraries["pyribs"] = run_pyribs

    monitor = common.CpuMonitor().start()
    results = {}  # (library, variation) -> runs
    for variation in args.variants:
        for library, runner in libraries.items():
            runs = []
            for seed in range(args.seeds):
                runs.append(runner(variation, seed, args))
            results[(library, variation)] = runs
            last = args.budgets[-1]
            print(f"  {library:6s} {variation:11s}: QD {fmt('qd_score', median_at(runs, last, 'qd_score'))}, "
                  f"coverage {fmt('coverage', median_at(runs, last, 'coverage'))}, mean elite fitness "
                  f"{fmt('mean_fitness', median_at(runs, last, 'mean_fitness'))} at {last:,} evaluations "
                  f"(median {common.median(r['seconds'] for r in runs):.2f} s per run)")
    load = dict(monitor.stop(), before=before)

    rows = []
    for variation in args.variants:
        for budget in args.budgets:
            row = [variation, f"{budget:,}"]
            for metric in METRICS:
                ours = median_at(results[("mpies", variation)], budget, metric)
                spread = metric != "mean_fitness"
                row.append(spread_at(results[("mpies", variation)], budget, metric) if spread else fmt(metric, ours))
                if ribs_version:
                    theirs = median_at(results[("pyribs", variation)], budget, metric)
                    row.append(spread_at(results[("pyribs", variation)], budget, metric) if spread
                               else fmt(metric, theirs))
                    if metric != "mean_fitness":
                        row.append(f"{ours / theirs:.3f}" if theirs else "n/a")
            rows.append(row)
    cells, reachable = BINS[0] * BINS[1], reachable_cells()
    headers = ["variation", "evaluations"]
    for metric, short in zip(METRICS, ("QD", "coverage", "mean fitness")):
        headers += [f"mpies {short}"] + ([f"pyribs {short}"] + (["ratio"] if metric != "mean_fitness" else [])
                                         if ribs_version else [])
    table = common.format_table(
        headers, rows,
        title=f"\nmedian [quartiles] over {args.seeds} seed(s); QD score = sum over filled cells of (fitness - "
              f"({args.offset:g})); coverage of {cells} cells (reachable: {reachable} = "
              f"{100 * reachable / cells:.1f}%); ratio = "
              f"mpies / pyribs; MAP-Elites batch {args.batch}, iso_line_dd sigma 0.01 line 0.2, gaussian "
              f"sigma {args.gaussian_sigma:g}; CMA-ME and CMA-MAE as configs {' and '.join(EMITTER_CONFIGS.values())}")
    print(table)
    timing = common.format_table(
        ["library", "variation", f"seconds per run ({args.budgets[-1]:,} evaluations, median)"],
        [[lib, var, f"{common.median(r['seconds'] for r in runs):.2f}"] for (lib, var), runs in results.items()],
        title="\nwall time per run, evaluation included (one process)")
    print(timing)
    if ribs_version:
        worst = max(abs(r["pyribs_stats_qd_score"] - r["final"]["qd_score"])
                    for (lib, _), runs in results.items() if lib == "pyribs" for r in runs)
        print(f"pyribs' own archive.stats.qd_score vs ours (same offset): max difference {worst:.3g}")
    if ribs_note:
        print(ribs_note)
    print(common.contamination_line(load))
    payload = {
        "benchmark": NAME,
        "description": "MAP-Elites on the 10-joint arm (50x50 grid): QD score, coverage and mean elite "
                       "fitness vs evaluations, mpies (in-process) vs pyribs",
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "arm_check_max_difference": check, "cells": cells, "reachable_cells": reachable,
        "pyribs": ribs_version, "pyribs_note": ribs_note,
        "results": [{"library": lib, "variation": var, "seed": seed, **run}
                    for (lib, var), runs in results.items() for seed, run in enumerate(runs)],
        "summary": {f"{lib}/{var}": {str(b): {m: median_at(runs, b, m) for m in METRICS} for b in args.budgets}
                    for (lib, var), runs in results.items()},
        "table": table + "\n" + timing,
        "machine_load": load,
        "wait_quiet_seconds": waited,
        "run_seconds": time.perf_counter() - t_start,
        "environment": dict(common.environment(), ribs=ribs_version),
    }
    print(f"run time {payload['run_seconds']:.0f} s")
    common.write_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
