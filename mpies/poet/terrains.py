"""Terrain mutation, novelty and difficulty for POET (rules of the reference code, uber-research/poet).

A terrain is a :class:`mpies.envs.bipedal_terrain.TerrainParams`; as a vector it is
``[roughness, pit lo, pit hi, stump lo, stump hi]`` (pit and stump sizes in terrain steps).
"""

from __future__ import annotations

import numpy as np

from ..envs.terrain_params import TerrainParams

# "Challenging" thresholds of the paper (section 4): stump height, pit gap, roughness.
CHALLENGING = {"stump_height": 2.4, "pit_gap": 6.0, "roughness": 4.5}
DIFFICULTY_NAMES = ("easy", "challenging", "very challenging", "extremely challenging")


def _mutate_range(current: tuple[float, float], init: list[float], step: float, top: float,
                  rng: np.random.Generator) -> tuple[float, float]:
    """A range that first appears takes ``init``; later each end moves by -step, 0 or +step (not
    both 0), the ends are sorted, kept in [0, top] and rounded to 1e-9 so that repeated steps of
    0.2 or 0.4 do not accumulate binary noise."""
    if current[1] <= 0.0:
        return float(init[0]), float(init[1])
    while True:
        moves = rng.choice([-step, 0.0, step], size=2)
        if moves.any():
            break
    lo, hi = sorted(np.clip(np.asarray(current) + moves, 0.0, top))
    return round(float(lo), 9), round(float(hi), 9)


def mutate(parent: TerrainParams, config, rng: np.random.Generator) -> TerrainParams:
    """A child terrain: every feature named in ``config.mutate`` changes (a POETConfig)."""
    roughness, pit, stump = parent.roughness, parent.pit_gap, parent.stump_height
    if "roughness" in config.mutate:
        roughness = parent.roughness + rng.uniform(-config.roughness_step, config.roughness_step)
        roughness = float(np.clip(round(roughness, 1), 0.0, config.roughness_max))
    if "pit_gap" in config.mutate:
        pit = _mutate_range(pit, config.pit_gap_init, config.pit_gap_step, config.pit_gap_max, rng)
    if "stump_height" in config.mutate:
        stump = _mutate_range(stump, config.stump_height_init, config.stump_height_step,
                              config.stump_height_max, rng)
    return TerrainParams(roughness, pit, stump)


def novelty(vector: np.ndarray, archive: np.ndarray, k: int) -> float:
    """Mean Euclidean distance from ``vector`` (5,) to its ``k`` nearest rows of ``archive`` (A, 5)."""
    if archive.shape[0] == 0:
        return float("inf")
    distances = np.sort(np.linalg.norm(archive - vector, axis=1))
    return float(distances[:k].mean())


def difficulty(params: TerrainParams) -> int:
    """How many of the paper's "challenging" thresholds the terrain meets: 0 (easy) .. 3."""
    return int(params.stump_height[1] >= CHALLENGING["stump_height"]) \
        + int(params.pit_gap[1] >= CHALLENGING["pit_gap"]) \
        + int(params.roughness >= CHALLENGING["roughness"])
