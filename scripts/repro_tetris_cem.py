#!/usr/bin/env python
"""Reproduce the noisy cross-entropy method on Tetris (Szita & Lőrincz 2006) at reduced length,
through the real command line (``mpiexec -n 2 python -m mpies run ...``).

What is run
    Every run is one ``mpiexec -n RANKS python -m mpies run CONFIG --set seed=S --set
    generations=G [--set ...] -o WORKDIR/<board>-<variant>-s<S>.h5 --overwrite`` with a shipped
    config (``mpies/configs``): CEM with a diagonal Gaussian, 100 samples per iteration, the best
    10 % kept, start N(0, 100 I), one game per sample, linear policy over the 22
    Bertsekas-Tsitsiklis (B-T) features, and every iteration the mean weight vector scored over 30
    games (``rollout.eval_episodes``). Seeds are 0 .. N-1.

    10x10   board 10 x 10, config ``tetris-cem-small`` with ``--set strategy.extra_noise=V``:
            none, constant (Z_t = 4) and decreasing (Z_t = max(5 - t/10, 0), noise_a = 5 and
            noise_b = 10 at their defaults); 5 seeds, 60 iterations. Games are not capped (as
            shipped) unless ``--max-pieces-10x10`` is given.
    10x20   board 10 x 20, config ``tetris-cem`` (constant noise 4); 3 seeds, 25 iterations.
            ``--variants-10x20`` adds ``tetris-cem-nonoise`` / ``tetris-cem-decreasing``. Good
            policies play very long games, so every game (samples and evaluations) is capped at
            ``--max-pieces`` placements (``--set env_kwargs.max_pieces=CAP``). A piece adds 4 cells
            and a line removes 10, so a capped game clears at most 0.4 x CAP lines: the cap can
            only under-state a policy, and a pass of 10,000 lines under it is conservative.

What is read
    From each run file (h5py, the ``/history`` compound dataset, one row per generation):
    ``eval_return`` (mean lines cleared by the mean policy over its 30 games), ``wall_time`` and
    ``env_steps`` (pieces placed, evaluation games included), ``fitness_max`` (the best sample's
    game). Iteration k (1-based) is generation k of the run, ``gen k/G`` in its log: its
    ``eval_return`` scores the mean that generation k samples around, i.e. the mean after k - 1
    CEM updates (iteration 1 scores the all-zero start). So "within 60 iterations" uses the
    means after 0 .. 59 updates.

What is reported (never asserted)
    Per variant: the median over seeds of the best ``eval_return`` within the iterations, of the
    final one and of the mean over the last 10 iterations; the iteration at which the median
    curve (median over seeds, iteration by iteration) first exceeds the threshold (400 on 10x10,
    10,000 on 10x20); on 10x20 also the first iteration at which each seed's mean policy passes
    10,000 lines, and the largest sample game against the cap's bound. The best of 60 noisy
    30-game scores is biased upwards (Tetris line counts are roughly exponentially distributed,
    so a 30-game mean has a relative standard error near 18 %); final and last-10 are given for
    that reason.

    Targets (from the issue): 10x10, B-T features: the median over 5 seeds of the best mean
    policy within 60 iterations exceeds 400 lines (Scherrer et al. 2015, JMLR, report about 500
    for CE on 10x10). 10x20, constant noise: the median over 3 seeds of the best mean policy
    within 25 iterations exceeds 10,000 lines. A target is judged on the first 60 / 25
    iterations; a shorter run that has not passed yet is "not judged".

Machine load
    Each script samples, from /proc/stat, how many cores other processes keep busy just before and
    during the measurement and prints a WARNING when that is above 0.2 cores. The learning curves
    do not depend on load (runs are deterministic given the seed and rank count); the times do.

Reproduce
    python scripts/repro_tetris_cem.py --plot             # the default full run, a few minutes
    python scripts/repro_tetris_cem.py --quick --plot     # smoke run: 2 seeds, 10 iterations (seconds)
    python scripts/repro_tetris_cem.py --experiments 10x20 --variants-10x20 none constant decreasing
    python scripts/repro_tetris_cem.py --workdir runs/repro --reuse --plot   # keep / reuse run files

Output: tables on stdout, JSON in bench-results/repro_tetris_cem.json (``--out``) and with
``--plot`` a figure bench-results/repro_tetris_cem.png (``--plot-out``).
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as common  # noqa: E402  (sets BLAS thread variables before numpy loads)

import numpy as np  # noqa: E402

NAME = "repro_tetris_cem"
VARIANTS = ("none", "constant", "decreasing")
VARIANT_LABELS = {"none": "no noise", "constant": "constant noise 4",
                  "decreasing": "decreasing noise max(5 - t/10, 0)"}
PUBLISHED_10x10 = "about 500 (Scherrer et al. 2015, JMLR, CE with B-T features)"
PUBLISHED_10x20 = {
    "none": "Szita & Lőrincz 2006: CEM without noise converges early to a suboptimal policy",
    "constant": "Szita & Lőrincz 2006: with noise, CEM outperforms previous RL results by about two "
                "orders of magnitude",
    "decreasing": "Szita & Lőrincz 2006: with noise, CEM outperforms previous RL results by about two "
                  "orders of magnitude",
}
EXPERIMENTS = {
    "10x10": {"height": 10, "seeds": 5, "iterations": 60, "threshold": 400.0,
              "configs": {v: ("tetris-cem-small", [f"strategy.extra_noise={v}"]) for v in VARIANTS},
              "target": "median over 5 seeds of the best mean policy within 60 iterations > 400 lines"},
    "10x20": {"height": 20, "seeds": 3, "iterations": 25, "threshold": 10_000.0,
              "configs": {"none": ("tetris-cem-nonoise", []), "constant": ("tetris-cem", []),
                          "decreasing": ("tetris-cem-decreasing", [])},
              "target": "median over 3 seeds of the best mean policy within 25 iterations > 10,000 lines",
              "target_variants": ("constant",)},
}
DEFAULT_CAP_10x20 = 1_000_000  # placements per game: at most 400,000 lines
QUICK_CAP = 2_000
LAST = 10  # iterations averaged for the "last-10" column


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                epilog="See the module docstring (top of this file) for the method.")
    p.add_argument("--experiments", nargs="+", default=list(EXPERIMENTS), choices=list(EXPERIMENTS),
                   help="boards to run")
    p.add_argument("--seeds", type=int, default=None,
                   help="seeds (0 .. N-1) per variant [default: 5 on 10x10, 3 on 10x20]")
    p.add_argument("--iterations", type=int, default=None,
                   help="CEM iterations (generations) per run [default: 60 on 10x10, 25 on 10x20]")
    p.add_argument("--max-pieces", type=int, default=DEFAULT_CAP_10x20,
                   help="piece cap per 10x20 game (env_kwargs.max_pieces; 0 = none); at most 0.4 x cap lines")
    p.add_argument("--max-pieces-10x10", type=int, default=0,
                   help="piece cap per 10x10 game (0 = none, as the shipped config)")
    p.add_argument("--variants-10x10", nargs="+", default=list(VARIANTS), choices=VARIANTS,
                   help="extra-noise variants on 10x10")
    p.add_argument("--variants-10x20", nargs="+", default=["constant"], choices=VARIANTS,
                   help="extra-noise variants on 10x20 (none / decreasing use tetris-cem-nonoise / "
                        "tetris-cem-decreasing)")
    p.add_argument("--ranks", type=int, default=2, help="MPI ranks per run (mpiexec -n)")
    p.add_argument("--mpiexec", default=shutil.which("mpiexec") or "mpiexec", help="mpiexec to launch with")
    p.add_argument("--workdir", type=Path, default=None,
                   help="keep the run files (and logs) here [default: a temporary folder, removed at the end]")
    p.add_argument("--reuse", action="store_true",
                   help="skip a run whose file in --workdir is finished with the same configuration")
    p.add_argument("--plot", action="store_true", help="draw the learning curves (matplotlib, Agg)")
    p.add_argument("--plot-out", type=Path, default=common.RESULTS_DIR / f"{NAME}.png", help="figure path")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: 2 seeds, 10 iterations, games capped at {QUICK_CAP} pieces (seconds)")
    common.add_common_options(p, NAME)
    args = p.parse_args(argv)
    if args.quick:
        args.seeds = args.seeds or 2
        args.iterations = args.iterations or 10
        args.max_pieces = QUICK_CAP
        args.max_pieces_10x10 = QUICK_CAP
    if args.seeds is not None and args.seeds < 1:
        p.error("--seeds must be >= 1")
    if args.iterations is not None and args.iterations < 1:
        p.error("--iterations must be >= 1")
    if min(args.max_pieces, args.max_pieces_10x10) < 0 or args.ranks < 1:
        p.error("--max-pieces must be >= 0 and --ranks >= 1")
    if args.reuse and args.workdir is None:
        p.error("--reuse needs --workdir")
    return args


# ---------------------------------------------------------------- running
def plan(name: str, args) -> dict:
    """The runs of one experiment: seeds, iterations, cap, variants with (config, overrides)."""
    spec = EXPERIMENTS[name]
    cap = args.max_pieces if name == "10x20" else args.max_pieces_10x10
    variants = args.variants_10x20 if name == "10x20" else args.variants_10x10
    return {"seeds": args.seeds or spec["seeds"], "iterations": args.iterations or spec["iterations"],
            "max_pieces": cap, "variants": [v for v in VARIANTS if v in variants]}


def overrides_for(name: str, variant: str, seed: int, iterations: int, cap: int) -> tuple[str, list[str]]:
    config, extra = EXPERIMENTS[name]["configs"][variant]
    sets = [f"seed={seed}", f"generations={iterations}"] + extra
    if cap:
        sets.append(f"env_kwargs.max_pieces={cap}")
    return config, sets


def finished_same(path: Path, config: str, sets: list[str]) -> bool:
    """Whether ``path`` holds a finished run of exactly this configuration (for --reuse)."""
    import h5py

    from mpies.config import from_toml, load

    if not path.is_file():
        return False
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("status") != "finished":
                return False
            stored = from_toml(str(f.attrs["config"]))
    except Exception:  # noqa: BLE001 - an unreadable file is simply run again
        return False
    expected = load(config, sets)
    stored.output = expected.output
    return stored == expected


def run_one(args, workdir: Path, name: str, variant: str, seed: int, iterations: int, cap: int) -> dict:
    config, sets = overrides_for(name, variant, seed, iterations, cap)
    path = workdir / f"{name}-{variant}-s{seed}.h5"
    cmd = [args.mpiexec, "-n", str(args.ranks), sys.executable, "-m", "mpies", "run", config]
    for s in sets:
        cmd += ["--set", s]
    cmd += ["-o", str(path), "--overwrite"]
    reused = args.reuse and finished_same(path, config, sets)
    t0 = time.perf_counter()
    if not reused:
        log = path.with_suffix(".log")
        with open(log, "w") as out:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=common.REPO_ROOT)
        if proc.returncode != 0:
            tail = "\n".join(log.read_text().splitlines()[-20:])
            raise SystemExit(f"run failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    seconds = time.perf_counter() - t0
    run = read_run(path)
    run.update(variant=variant, seed=seed, command=" ".join(cmd), seconds=seconds, reused=reused,
               path=str(path))
    return run


def read_run(path: Path) -> dict:
    import h5py

    with h5py.File(path, "r") as f:
        h = f["history"][()]
        config = str(f.attrs["config"])
        status = str(f.attrs.get("status"))
    return {"eval_return": h["eval_return"].astype(float), "wall_time": h["wall_time"].astype(float),
            "env_steps": h["env_steps"].astype(np.int64), "fitness_max": h["fitness_max"].astype(float),
            "generation": h["generation"].astype(np.int64), "config": config, "status": status}


# ---------------------------------------------------------------- statistics
def first_above(curve, threshold: float) -> int | None:
    """1-based iteration at which ``curve`` first exceeds ``threshold`` (None: never)."""
    hits = np.flatnonzero(np.asarray(curve) > threshold)
    return int(hits[0]) + 1 if hits.size else None


def median_curve(runs: list[dict]) -> np.ndarray:
    length = min(len(r["eval_return"]) for r in runs)
    return np.nanmedian(np.stack([r["eval_return"][:length] for r in runs]), axis=0)


def verdict(best_within_target: float, threshold: float, iterations: int, target_iterations: int) -> str:
    if best_within_target > threshold:
        return "met"
    if iterations < target_iterations:
        return f"not judged (run shorter than {target_iterations} iterations)"
    return "MISSED"


def summarise(name: str, variant: str, runs: list[dict], cap: int) -> dict:
    spec = EXPERIMENTS[name]
    threshold, target_iters = spec["threshold"], spec["iterations"]
    iterations = min(len(r["eval_return"]) for r in runs)
    curve = median_curve(runs)
    best = [float(np.nanmax(r["eval_return"])) for r in runs]
    best_target = [float(np.nanmax(r["eval_return"][:target_iters])) for r in runs]
    final = [float(r["eval_return"][-1]) for r in runs]
    last = [float(np.nanmean(r["eval_return"][-LAST:])) for r in runs]
    first = [first_above(r["eval_return"], threshold) for r in runs]
    med_best_target = common.median(best_target)
    out = {
        "variant": variant, "label": VARIANT_LABELS[variant], "seeds": [r["seed"] for r in runs],
        "iterations": iterations, "threshold": threshold,
        "best_per_seed": best, "final_per_seed": final, f"last{LAST}_mean_per_seed": last,
        "median_best": common.median(best), "median_final": common.median(final),
        f"median_last{LAST}_mean": common.median(last),
        "median_best_within_target_iterations": med_best_target,
        "first_iteration_above_threshold_per_seed": first,
        "median_curve_first_iteration_above_threshold": first_above(curve, threshold),
        "median_curve": curve,
        "target": spec["target"], "target_met": med_best_target > threshold,
        "verdict": verdict(med_best_target, threshold, iterations, target_iters)
        + ("" if variant in spec.get("target_variants", VARIANTS) else " (target stated for constant noise)"),
        "published": PUBLISHED_10x10 if name == "10x10" else PUBLISHED_10x20[variant],
        "max_sample_game_lines": float(max(np.nanmax(r["fitness_max"]) for r in runs)),
        "run_seconds": [r["seconds"] for r in runs],
        "in_run_wall_seconds": [float(r["wall_time"][-1]) for r in runs],
        "pieces_placed": [int(r["env_steps"][-1]) for r in runs],
    }
    if cap:
        bound = 0.4 * cap
        out["cap_lines_bound"] = bound
        # a game with >= 0.4 cap - 20 lines placed >= cap - 50 pieces: it reached (or nearly) the cap
        out["sample_games_near_cap"] = bool(out["max_sample_game_lines"] >= bound - 20)
    return out


def fmt_lines(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.0f}"


def fmt_iter(value) -> str:
    return "never" if value is None else str(value)


def experiment_table(name: str, info: dict, rows: list[dict]) -> str:
    spec = EXPERIMENTS[name]
    thr = f"{spec['threshold']:,.0f}"
    cap = info["max_pieces"]
    cap_text = (f"games capped at {cap:,} pieces (<= {0.4 * cap:,.0f} lines each; a cap can only "
                f"under-state a policy)" if cap else "games not capped")
    body = []
    for s in rows:
        row = [s["label"], len(s["seeds"]), fmt_lines(s["median_best"]), fmt_lines(s["median_final"]),
               fmt_lines(s[f"median_last{LAST}_mean"]),
               " ".join(fmt_lines(b) for b in s["best_per_seed"]),
               fmt_iter(s["median_curve_first_iteration_above_threshold"])]
        if name == "10x20":
            row += [" ".join(fmt_iter(i) for i in s["first_iteration_above_threshold_per_seed"]),
                    fmt_lines(s["max_sample_game_lines"])]
        row += [s["verdict"], s["published"]]
        body.append(row)
    headers = ["variant", "seeds", "best (median)", "final (median)", f"last-{LAST} mean (median)",
               "best per seed", f"median curve > {thr} at iter"]
    if name == "10x20":
        headers += [f"per seed > {thr} at iter", "best sample game"]
    headers += ["target", "published"]
    title = (f"\n{name} board, B-T features, lines cleared by the mean policy (eval_return, 30 games), "
             f"{info['iterations']} iterations, seeds 0..{info['seeds'] - 1}; {cap_text}\n"
             f"target: {spec['target']}")
    return common.format_table(headers, body, title=title)


def timing_table(timings: dict) -> str:
    rows = []
    for name, t in timings.items():
        wall = f"{t['seconds']:.1f}" + (" (runs reused)" if t["any_reused"] else "")
        rows.append([name, t["runs"], wall, f"{t['in_run_wall_seconds']:.1f}",
                     f"{t['pieces_placed']:,}", f"{t['pieces_placed'] / max(t['in_run_wall_seconds'], 1e-9):,.0f}"])
    return common.format_table(
        ["experiment", "runs", "wall s (incl. mpiexec start)", "in-run wall s (sum)", "pieces placed",
         "pieces/s in runs"], rows, title="\ntime per experiment")


# ---------------------------------------------------------------- plot
def plot(results: dict, path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 4.8), squeeze=False)
    colors = {"none": "C0", "constant": "C3", "decreasing": "C2"}
    for ax, name in zip(axes[0], names):
        exp = results[name]
        for variant, runs in exp["runs"].items():
            c = colors[variant]
            for r in runs:
                y = r["eval_return"].copy()
                y[y <= 0] = np.nan  # log axis
                ax.plot(np.arange(1, len(y) + 1), y, color=c, alpha=0.25, lw=0.8)
            curve = median_curve(runs)
            curve[curve <= 0] = np.nan
            ax.plot(np.arange(1, len(curve) + 1), curve, color=c, lw=2.2,
                    label=f"{VARIANT_LABELS[variant]} (median of {len(runs)})")
        thr = EXPERIMENTS[name]["threshold"]
        ax.axhline(thr, color="k", ls="--", lw=1, label=f"target {thr:,.0f}")
        cap = exp["max_pieces"]
        if cap:
            ax.axhline(0.4 * cap, color="0.5", ls=":", lw=1, label=f"cap bound {0.4 * cap:,.0f} lines")
        ax.set_yscale("log")
        ax.set_xlabel("iteration (generation)")
        ax.set_ylabel("lines cleared per game (mean policy, 30 games)")
        ax.set_title(f"Tetris {name}, B-T features, noisy CEM")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- main
def main(argv=None) -> dict:
    args = parse_args(argv)
    t_start = time.perf_counter()
    print(f"{NAME}: noisy CEM on Tetris (Szita & Lőrincz 2006) through `{Path(args.mpiexec).name} -n "
          f"{args.ranks} python -m mpies run`")
    waited = common.wait_quiet(args.wait_quiet) if args.wait_quiet else 0.0
    before = common.idle_check()
    monitor = common.CpuMonitor().start()
    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix=f"{NAME}-")
        workdir = Path(tmp.name)
    else:
        workdir = args.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    print(f"run files in {workdir}" + (" (temporary)" if tmp else ""))

    results, payload_exps, tables, timings = {}, {}, [], {}
    try:
        for name in args.experiments:
            info = plan(name, args)
            cap = info["max_pieces"]
            print(f"\n{name}: {len(info['variants'])} variant(s) x {info['seeds']} seeds x "
                  f"{info['iterations']} iterations; piece cap per game: "
                  + (f"{cap:,} (at most {0.4 * cap:,.0f} lines per game)" if cap else "none"))
            t0 = time.perf_counter()
            runs = {}
            for variant in info["variants"]:
                runs[variant] = []
                for seed in range(info["seeds"]):
                    r = run_one(args, workdir, name, variant, seed, info["iterations"], cap)
                    runs[variant].append(r)
                    ev = r["eval_return"]
                    print(f"  {variant:10s} seed {seed}: best {np.nanmax(ev):12,.1f}  final {ev[-1]:12,.1f}  "
                          f"{r['seconds']:7.1f} s" + ("  (reused)" if r["reused"] else ""), flush=True)
            seconds = time.perf_counter() - t0
            summaries = [summarise(name, v, rs, cap) for v, rs in runs.items()]
            all_runs = [r for rs in runs.values() for r in rs]
            timings[name] = {"runs": len(all_runs), "seconds": seconds,
                             "in_run_wall_seconds": float(sum(r["wall_time"][-1] for r in all_runs)),
                             "pieces_placed": int(sum(r["env_steps"][-1] for r in all_runs)),
                             "any_reused": any(r["reused"] for r in all_runs)}
            table = experiment_table(name, info, summaries)
            print(table)
            tables.append(table)
            results[name] = {"runs": runs, "max_pieces": cap}
            payload_exps[name] = {
                **info, "threshold": EXPERIMENTS[name]["threshold"], "target": EXPERIMENTS[name]["target"],
                "summary": summaries, "time": timings[name],
                "runs": [{k: r[k] for k in ("variant", "seed", "command", "seconds", "reused", "status",
                                            "eval_return", "wall_time", "env_steps", "fitness_max")}
                         for r in all_runs],
                "config_example": all_runs[0]["config"]}
        ttable = timing_table(timings)
        print(ttable)
        tables.append(ttable)
        figure = None
        if args.plot:
            figure = plot(results, args.plot_out)
            print(f"wrote {figure}")
    finally:
        if tmp is not None:
            tmp.cleanup()

    load = dict(monitor.stop(), before=before)
    print(common.contamination_line(load))
    run_seconds = time.perf_counter() - t_start
    print(f"run time {run_seconds:.0f} s"
          + (f" (of which {waited:.0f} s waiting for a quiet machine)" if waited else ""))
    payload = {"benchmark": NAME,
               "description": "noisy CEM on Tetris (Szita & Lőrincz 2006) through the mpies CLI: 10x10 "
                              "no / constant / decreasing noise, 10x20 constant noise; lines cleared by the "
                              "mean policy (eval_return over 30 games) per iteration",
               "iteration_convention": "iteration k = generation k (1-based); its eval_return scores the mean "
                                       "after k - 1 CEM updates",
               "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "command": " ".join([Path(sys.executable).name, *sys.argv]) if argv is None else None,
               "experiments": payload_exps, "run_seconds": run_seconds, "wait_quiet_seconds": waited,
               "figure": str(figure) if figure else None, "machine_load": load,
               "environment": common.environment(), "table": "\n".join(tables)}
    common.write_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
