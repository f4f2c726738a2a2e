"""The layout of an mpies run file (documented in the README; versioned by ``schema_version``).

::

    /                attrs: mpies_version, schema_version, algorithm, env, seed, ranks,
                            config (TOML), host, start_time, end_time, status
    /history         compound rows, one per generation (HISTORY_DTYPE), extendable
    /state/pointer   int64 (2,): [slot holding the latest complete checkpoint, its next generation]
    /state/slot0..1  two checkpoint slots, written alternately (A/B): a crash while writing one
                     leaves the other, and the pointer to it, intact
    /best            params, fitness, generation, obs_mean, obs_std of the best evaluated mean
    /archive         (MAP-Elites) occupied, fitness, descriptors, params, parent_cell, key per
                     cell, rewritten every generation; geometry (kind, bins or centroids, bounds)
"""

import numpy as np

SCHEMA_VERSION = 1

HISTORY_DTYPE = np.dtype([
    ("generation", np.int64),
    ("wall_time", np.float64),        # seconds since the run (or resumed run) started
    ("env_steps", np.int64),          # cumulative environment steps, evaluations included
    ("fitness_mean", np.float64),     # over valid members
    ("fitness_max", np.float64),
    ("fitness_min", np.float64),
    ("fitness_std", np.float64),
    ("failed", np.int64),             # members whose fitness is NaN
    ("eval_return", np.float64),      # noiseless mean return of the mean; NaN when not evaluated
    ("sigma", np.float64),
    ("update_norm", np.float64),      # ||theta_{t+1} - theta_t||
    ("rollout_seconds", np.float64),  # rank 0's time in rollouts
    ("gather_seconds", np.float64),
    ("update_seconds", np.float64),
    ("io_seconds", np.float64),
    ("bytes_sent_per_rank", np.int64),  # rank 0's contribution to this generation's collectives
    ("archive_filled", np.int64),     # quality diversity: filled cells (-1 for other algorithms)
    ("qd_score", np.float64),         # quality diversity: sum of (fitness - offset) over filled cells
])

DETERMINISTIC_FIELDS = ("generation", "env_steps", "fitness_mean", "fitness_max", "fitness_min",
                        "fitness_std", "failed", "eval_return", "sigma", "update_norm",
                        "archive_filled", "qd_score")
"""History columns that must be bitwise equal across rank counts and resumes."""
