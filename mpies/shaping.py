"""Fitness shaping: pure functions from raw fitness to update weights.

Higher fitness is better everywhere in mpies. ``NaN`` marks a failed member: it gets weight 0
and does not take part in ranking or normalisation.
"""

from __future__ import annotations

import numpy as np


def centered_ranks(fitness: np.ndarray) -> np.ndarray:
    """Ranks scaled to [-0.5, 0.5] (Salimans et al. 2017); tied members share their mean rank.

    Sharing ranks matters once a task is solved: a population of equal returns (CartPole at 500)
    gets all-zero weights instead of a random walk driven by member order.

    Args:
        fitness: float array ``(n,)``; NaN entries are failed members.

    Returns:
        float64 array ``(n,)``: ``-0.5`` for the worst valid member, ``+0.5`` for the best, 0 for NaN.
    """
    fitness = np.asarray(fitness, dtype=np.float64)
    valid = np.flatnonzero(~np.isnan(fitness))
    shaped = np.zeros(fitness.shape, dtype=np.float64)
    if valid.size > 1:
        values = fitness[valid]
        order = np.argsort(values, kind="stable")
        tie_group = np.concatenate([[0], np.cumsum(np.diff(values[order]) != 0)])
        positions = np.arange(valid.size, dtype=np.float64)
        mean_rank = np.bincount(tie_group, positions) / np.bincount(tie_group)
        ranks = np.empty(valid.size, dtype=np.float64)
        ranks[order] = mean_rank[tie_group]
        shaped[valid] = ranks / (valid.size - 1) - 0.5
    return shaped


def normalized(fitness: np.ndarray) -> np.ndarray:
    """``(f - mean) / std`` over valid members; 0 for NaN or when all valid members are equal."""
    fitness = np.asarray(fitness, dtype=np.float64)
    valid = ~np.isnan(fitness)
    shaped = np.zeros(fitness.shape, dtype=np.float64)
    if valid.sum() > 1:
        std = fitness[valid].std()
        if std > 0:
            shaped[valid] = (fitness[valid] - fitness[valid].mean()) / std
    return shaped


def raw(fitness: np.ndarray) -> np.ndarray:
    """The fitness itself, 0 for NaN: the plain Monte-Carlo estimator of the lecture."""
    fitness = np.asarray(fitness, dtype=np.float64)
    return np.where(np.isnan(fitness), 0.0, fitness)


SHAPINGS = {"centered_rank": centered_ranks, "normalized": normalized, "none": raw}
