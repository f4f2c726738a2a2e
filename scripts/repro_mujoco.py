#!/usr/bin/env python
"""Environment steps and wall-clock until OpenAI-ES reaches TRPO's 5M-step score on the MuJoCo
tasks of Salimans et al. 2017 (arXiv:1703.03864), Table 3, at laptop scale.

What is run
    The shipped ``<task>-laptop`` configs (population 40, 64x64 tanh MLP, the paper's sigma, Adam,
    L2, action noise and observation normalisation; a 10-episode noiseless evaluation of the mean
    every 5 generations) through the real command line, ``nice -n 10 mpiexec -n RANKS python -m
    mpies run <task>-laptop --set seed=S -o FILE``; seeds 0 .. N-1 (``--seeds``; by default 3 for
    tasks a run of which takes under ~15 minutes on 2 cores, 1 otherwise).

What is read and reported (never asserted)
    Per task and seed, from ``/history``: the first evaluation whose mean return reaches the
    threshold, the environment steps before it (evaluation steps included, so slightly more than
    the paper's training steps) and the wall time at it; the median over seeds (``inf`` when a
    seed never reaches it); the paper's ES steps and the ratio ours / paper. The paper ran gym v1
    tasks on MuJoCo 1.31; gymnasium v5 tasks have other physics and reset noise, so the numbers
    compare in kind only. A figure per task (``mpies plot --aggregate median``) goes next to the JSON.

Reproduce
    python scripts/repro_mujoco.py                               # every task (hours on 2 cores)
    python scripts/repro_mujoco.py --only swimmer-laptop inverted-pendulum-laptop --seeds 3
    python scripts/repro_mujoco.py --tiny                        # 2 generations each, a smoke test

Output: a table on stdout, JSON in bench-results/repro_mujoco.json (``--out``) and, with
matplotlib, bench-results/repro_mujoco-<task>.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as common  # noqa: E402  (sets BLAS thread variables before numpy loads)
import _repro_common as repro  # noqa: E402
from _repro_common import Case, median_or_inf  # noqa: E402

NAME = "repro_mujoco"
TABLE_3 = "Salimans et al. 2017, Table 3"
CASES = (  # threshold: TRPO's score after 5M steps; paper_steps: ES timesteps to reach it
    Case("inverted-pendulum-laptop", 1000.0, 3, TABLE_3, 4.55e5),
    Case("swimmer-laptop", 128.25, 3, TABLE_3, 1.39e6),
    Case("halfcheetah-laptop", 2385.79, 3, TABLE_3, 2.88e6),
    Case("inverted-double-pendulum-laptop", 9104.07, 1, TABLE_3, 5.39e6),
    Case("hopper-laptop", 3403.46, 1, TABLE_3, 3.16e7),
    Case("walker2d-laptop", 3830.03, 1, TABLE_3, 3.79e7),
)
TINY_SETTINGS = ["generations=2", "rollout.eval_every=1", "rollout.eval_episodes=1", "rollout.max_steps=20",
                 "strategy.population=4"]
"""``--tiny``: two generations of 20-step episodes, so that every task runs in seconds."""


def _summary(case: Case, runs: list[dict], out: Path) -> dict:
    steps = median_or_inf(r["steps"] for r in runs)
    repro.plot_seeds([r["path"] for r in runs], out.with_name(f"{NAME}-{case.config}.png"))
    return {"threshold": case.threshold, "paper": case.paper, "paper_steps": case.paper_steps, "runs": runs,
            "median_steps": steps, "steps_over_paper": steps / case.paper_steps,
            "median_wall_seconds_to_reach": median_or_inf(r["wall_seconds_to_reach"] for r in runs)}


def main(argv=None) -> dict:
    args = repro.parser(__doc__, NAME, common.add_common_options).parse_args(argv)
    results = repro.run_cases(CASES, args, TINY_SETTINGS, lambda case, runs: _summary(case, runs, Path(args.out)))

    return repro.report(
        common, args, results,
        ["config", "threshold", "paper ES steps", "seeds", "median steps", "ours / paper", "median s to reach",
         "best eval per seed"],
        lambda name, r: [name, r["threshold"], f"{r['paper_steps']:.3g}", len(r["runs"]), f"{r['median_steps']:.3g}",
                         f"{r['steps_over_paper']:.2f}", f"{r['median_wall_seconds_to_reach']:.0f}",
                         " ".join(f"{x['best_eval']:.0f}" for x in r["runs"])],
        "first noiseless evaluation >= TRPO's 5M-step score")

if __name__ == "__main__":
    main()
