"""The layout of an mpies run file (documented in the README; versioned by ``schema_version``).

::

    /                attrs: mpies_version, schema_version, history_family, algorithm, env, seed,
                            ranks, num_params, config (TOML), host, start_time, end_time, status
    /history         compound rows, one per generation (:func:`history_dtype` of the family),
                     extendable; every column's meaning and unit in the attrs ``doc:NAME`` and
                     ``units:NAME`` of the dataset
    /state/pointer   int64 (2,): [slot holding the latest complete checkpoint, its next generation]
    /state/slot0..1  two checkpoint slots, written alternately (A/B): a crash while writing one
                     leaves the other, and the pointer to it, intact
    /best            params, fitness, generation, obs_mean, obs_std of the best evaluated policy
    /archive         (quality diversity) occupied, fitness, descriptors, params, parent_cell, key
                     per cell, rewritten every generation; geometry (kind, bins or centroids, bounds)
    /poet            (POET) events, scores and pairs (see :mod:`mpies.io.poet_tables`)

History columns come in families: every file has the :data:`COMMON` columns, then those of its
algorithm's family (:data:`FAMILIES`), named by the root attribute ``history_family``. Version 1
files (mpies 0.1, one history layout for every algorithm) are still read; they are not resumed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

SCHEMA_VERSION = 2
RESUMABLE_VERSIONS = (2,)
"""Schema versions whose checkpoints this mpies can continue."""


class Column(NamedTuple):
    name: str
    dtype: object  # a numpy scalar type, a dtype string, or (base, shape) for an array column
    units: str
    doc: str


COMMON = (
    Column("generation", np.int64, "1", "generations done after this row: 1 for the first (as the progress line counts)"),
    Column("wall_time", np.float64, "s", "seconds of the run so far, summed over its invocations (resumes)"),
    Column("env_steps", np.int64, "steps", "cumulative environment steps, evaluations included"),
    Column("rollout_seconds", np.float64, "s", "rank 0's time in rollouts this generation"),
    Column("gather_seconds", np.float64, "s", "rank 0's time in the gather this generation"),
    Column("update_seconds", np.float64, "s", "time in the update (tell) this generation"),
    Column("io_seconds", np.float64, "s", "rank 0's time writing the previous generation"),
    Column("bytes_sent_per_rank", np.int64, "B", "rank 0's contribution to this generation's collectives"),
)

_FITNESS = (
    Column("fitness_mean", np.float64, "return", "mean fitness of the valid members"),
    Column("fitness_max", np.float64, "return", "best member fitness"),
    Column("fitness_min", np.float64, "return", "worst valid member fitness"),
    Column("fitness_std", np.float64, "return", "std of the valid members' fitness"),
    Column("failed", np.int64, "members", "members whose evaluation failed (NaN fitness)"),
)
_EVAL = Column("eval_return", np.float64, "return",
               "mean return of the noiseless evaluation of the mean (best elite for QD); NaN when not run")

FAMILIES = {
    "search": _FITNESS + (
        _EVAL,
        Column("sigma", np.float64, "1", "step size (perturbation std) of this generation"),
        Column("update_norm", np.float64, "1", "||theta_{t+1} - theta_t||"),
    ),
    "qd": _FITNESS + (
        _EVAL,
        Column("archive_filled", np.int64, "cells", "filled cells after the generation"),
        Column("qd_score", np.float64, "return", "sum over filled cells of (fitness - qd_offset)"),
        Column("new_cells", np.int64, "members", "members that filled an empty cell"),
        Column("improved_cells", np.int64, "members", "members that replaced a worse elite"),
    ),
    "poet": _FITNESS + (
        Column("active_pairs", np.int64, "pairs", "environment-agent pairs after the iteration"),
        Column("score_max", np.float64, "return", "best pair score this iteration"),
        Column("pairs_created", np.int64, "pairs", "pairs admitted this iteration"),
        Column("transfers_accepted", np.int64, "transfers", "transfers accepted this iteration"),
        Column("sigma_mean", np.float64, "1", "mean perturbation std over the active pairs"),
    ),
}
FAMILIES["qd_emitters"] = FAMILIES["qd"] + (  # CMA-ME, CMA-MAE
    Column("emitter_restarts", np.int64, "restarts", "emitters restarted this generation"),
    Column("sigma_mean", np.float64, "1", "mean step size of the emitters after the generation"),
)
"""History family -> its columns after :data:`COMMON`."""

TIMING_FIELDS = ("wall_time", "rollout_seconds", "gather_seconds", "update_seconds", "io_seconds",
                 "bytes_sent_per_rank")
"""Columns that depend on the machine or the rank count; every other column is bitwise
deterministic across rank counts and resumes."""


def columns(family: str) -> tuple[Column, ...]:
    return COMMON + FAMILIES[family]


def columns_dtype(table: tuple[Column, ...]) -> np.dtype:
    """The compound dtype of rows of ``table``'s columns (a ``dtype`` may be ``(base, shape)``)."""
    return np.dtype([(c.name, *c.dtype) if isinstance(c.dtype, tuple) else (c.name, c.dtype) for c in table])


def history_dtype(family: str) -> np.dtype:
    """The compound dtype of ``/history`` rows for ``family``."""
    return columns_dtype(columns(family))


def deterministic_fields(dtype: np.dtype) -> tuple[str, ...]:
    """Names of ``dtype`` that must be bitwise equal across rank counts and resumes."""
    return tuple(n for n in dtype.names if n not in TIMING_FIELDS)


ALL_FIELDS = tuple(dict.fromkeys(c.name for family in FAMILIES for c in columns(family)))
"""Every history column any family has, common ones first."""

UNITS = {c.name: c.units for family in FAMILIES for c in columns(family)}

V1_HISTORY_DTYPE = np.dtype([
    ("generation", np.int64), ("wall_time", np.float64), ("env_steps", np.int64),
    ("fitness_mean", np.float64), ("fitness_max", np.float64), ("fitness_min", np.float64),
    ("fitness_std", np.float64), ("failed", np.int64), ("eval_return", np.float64),
    ("sigma", np.float64), ("update_norm", np.float64), ("rollout_seconds", np.float64),
    ("gather_seconds", np.float64), ("update_seconds", np.float64), ("io_seconds", np.float64),
    ("bytes_sent_per_rank", np.int64), ("archive_filled", np.int64), ("qd_score", np.float64),
])
"""``/history`` of schema version 1 (mpies 0.1): one layout for every algorithm; ``archive_filled``
is -1 outside quality diversity (POET stored its active pairs there)."""
