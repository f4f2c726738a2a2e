#!/usr/bin/env python
"""Episodes and environment steps until ARS / PGPE first reach a return threshold, through the real
command line (``mpiexec -n RANKS python -m mpies run CONFIG --set seed=S -o FILE --overwrite``).

What is run
    The shipped configs (``mpies/configs``) of :data:`CASES`, seeds 0 .. N-1 (``--seeds``; the
    MuJoCo cases default to fewer, see ``seeds`` below, because a run takes minutes on 2 cores).
    ARS runs the paper's settings (Mania, Guy & Recht 2018, arXiv:1803.07055, Table 9; V1 on
    Swimmer, V2-t elsewhere), PGPE pgpelib's (centered ranks, ClipUp, 20 % sigma change limit).

What is read
    ``/history`` of each run file: ``eval_return`` (the mean over ``rollout.eval_episodes``
    noiseless, unshifted episodes of the mean policy), ``env_steps`` and ``wall_time``. The
    evaluation in row ``g`` plays the mean after ``g`` updates, trained on ``g * population *
    rollout.episodes`` member episodes: those are the episodes reported (the paper's measure,
    evaluation episodes excluded), and the steps are ``env_steps`` of row ``g - 1`` (mpies counts
    evaluation steps in ``env_steps``, so this slightly over-states the training steps).

What is reported (never asserted)
    Per case and seed: the first evaluated generation whose ``eval_return >= threshold``, its
    episodes and steps, the run's wall time; the median over seeds (``inf`` when a seed does not
    reach it within the config's generations); and the paper's figure for comparison. The paper
    ran gym v1 tasks (MuJoCo 1.31); gymnasium v5 tasks have other physics, so MuJoCo numbers
    compare in kind only.

Reproduce
    python scripts/repro_ars_pgpe.py                        # everything (tens of minutes on 2 cores)
    python scripts/repro_ars_pgpe.py --only cartpole-ars pendulum-pgpe --seeds 3
    python scripts/repro_ars_pgpe.py --tiny                 # 2 generations of each, 1 rank (a smoke test)

Output: a table on stdout, JSON in bench-results/repro_ars_pgpe.json (``--out``).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as common  # noqa: E402  (sets BLAS thread variables before numpy loads)

import h5py  # noqa: E402
import numpy as np  # noqa: E402

NAME = "repro_ars_pgpe"


@dataclass(frozen=True)
class Case:
    """One shipped config and its target.

    Attributes:
        config: shipped config name.
        threshold: eval return that counts as reached.
        seeds: default number of seeds.
        paper: the published figure to compare with (text).
    """

    config: str
    threshold: float
    seeds: int
    paper: str


CASES = (
    Case("cartpole-pgpe", 475.0, 3, "-"),
    Case("pendulum-pgpe", -200.0, 3, "-"),
    Case("swimmer-pgpe", 325.0, 1, "-"),
    Case("cartpole-ars", 475.0, 3, "-"),
    Case("pendulum-ars", -200.0, 3, "-"),
    Case("swimmer-ars", 325.0, 1, "ARS V1 Swimmer-v1: ~100 episodes (Table 1, recalled, unverified)"),
    Case("hopper-ars", 3120.0, 1, "ARS V2-t Hopper-v1: ~1973 episodes (Table 1, recalled, unverified)"),
    Case("halfcheetah-ars", 3430.0, 1, "ARS V2-t HalfCheetah-v1: ~1707 episodes (Table 1, recalled, unverified)"),
)

TINY_SETTINGS = ["generations=2", "rollout.eval_every=1", "rollout.eval_episodes=1", "rollout.max_steps=20"]
"""``--tiny``: two generations of 20-step episodes, so that every case runs in seconds."""


def first_reach(path: Path, threshold: float, members_per_generation: int) -> dict:
    """Where a run file's ``eval_return`` first reaches ``threshold`` (None entries when never)."""
    with h5py.File(path, "r") as f:
        history = f["history"][()]
    reached = np.flatnonzero(history["eval_return"] >= threshold)
    out = {"generations_run": int(history.shape[0]), "wall_seconds": float(history["wall_time"][-1]),
           "best_eval": float(np.nanmax(history["eval_return"])), "generation": None,
           "episodes": None, "steps": None}
    if reached.size:
        g = int(history["generation"][reached[0]])
        out.update(generation=g, episodes=g * members_per_generation,
                   steps=int(history["env_steps"][g - 1]) if g > 0 else 0)
    return out


def run_case(case: Case, seed: int, workdir: Path, ranks: int, extra: list[str]) -> dict:
    """One ``mpies run`` of ``case`` with ``seed``; its first-reach record."""
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
    record.update(seed=seed, command=" ".join(command[3:]), process_seconds=time.perf_counter() - started)
    return record


def _median(values) -> float:
    return float(statistics.median([np.inf if v is None else v for v in values]))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="CONFIG", help="run these cases only")
    parser.add_argument("--seeds", type=int, help="seeds per case (default: each case's own)")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--tiny", action="store_true", help="2 generations of 20 steps per case, 1 seed")
    parser.add_argument("--workdir", type=Path, help="keep the run files here (default: a temporary folder)")
    common.add_common_options(parser, NAME)
    args = parser.parse_args(argv)

    cases = [c for c in CASES if not args.only or c.config in args.only]
    extra = TINY_SETTINGS if args.tiny else []
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for case in cases:
            seeds = 1 if args.tiny else (args.seeds or case.seeds)
            runs = [run_case(case, seed, workdir, args.ranks, extra) for seed in range(seeds)]
            results[case.config] = {
                "threshold": case.threshold, "paper": case.paper, "runs": runs,
                "median_episodes": _median(r["episodes"] for r in runs),
                "median_steps": _median(r["steps"] for r in runs)}
            print(f"{case.config}: {[r['episodes'] for r in runs]} episodes", flush=True)

    rows = [[name, r["threshold"], len(r["runs"]), r["median_episodes"], r["median_steps"],
             " ".join(f"{x['wall_seconds']:.0f}" for x in r["runs"]),
             " ".join(f"{x['best_eval']:.0f}" for x in r["runs"]), r["paper"]]
            for name, r in results.items()]
    print(common.format_table(["config", "threshold", "seeds", "median episodes", "median steps",
                               "wall s", "best eval", "paper"], rows,
                              title=f"first noiseless evaluation >= threshold ({args.ranks} ranks)"))
    payload = {"ranks": args.ranks, "tiny": args.tiny, "environment": common.environment(), "cases": results}
    common.write_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
