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
    evaluation in row ``i`` (0-based; generation ``i + 1``) plays the mean after ``i`` updates,
    trained on ``i * population * rollout.episodes`` member episodes: those are the episodes reported (the paper's measure,
    evaluation episodes excluded), and the steps are ``env_steps`` of row ``i - 1`` (mpies counts
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

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as common  # noqa: E402  (sets BLAS thread variables before numpy loads)
import _repro_common as repro  # noqa: E402
from _repro_common import Case, median_or_inf  # noqa: E402

NAME = "repro_ars_pgpe"
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


def _summary(case: Case, runs: list[dict]) -> dict:
    return {"threshold": case.threshold, "paper": case.paper, "runs": runs,
            "median_episodes": median_or_inf(r["episodes"] for r in runs),
            "median_steps": median_or_inf(r["steps"] for r in runs)}


def main(argv=None) -> dict:
    args = repro.parser(__doc__, NAME, common.add_common_options).parse_args(argv)
    results = repro.run_cases(CASES, args, TINY_SETTINGS, _summary)

    return repro.report(
        common, args, results,
        ["config", "threshold", "seeds", "median episodes", "median steps", "wall s", "best eval", "paper"],
        lambda name, r: [name, r["threshold"], len(r["runs"]), r["median_episodes"], r["median_steps"],
                         " ".join(f"{x['wall_seconds']:.0f}" for x in r["runs"]),
                         " ".join(f"{x['best_eval']:.0f}" for x in r["runs"]), r["paper"]],
        "first noiseless evaluation >= threshold")

if __name__ == "__main__":
    main()
