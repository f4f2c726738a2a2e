"""POET's task: one deterministic episode of a policy on a BipedalWalker terrain
(:mod:`mpies.envs.bipedal_terrain`); every pair of a POET run has its own terrain."""

from __future__ import annotations

import numpy as np

from ..envs.bipedal_terrain import BipedalTerrain, TerrainParams
from ..policies import Policy
from ..rollout import run_episode


class TerrainEvaluator:
    """Episodes of a 24-H-H-4 tanh policy on terrains; environments are cached per terrain and
    rebuilt on demand. The reset seed is the terrain's seed, as in POET, so a score is one rollout.

    Args:
        hidden: hidden layer sizes.
        max_steps: episode cap (POET: 2000).
    """

    params_field = "policy.hidden"  # the fields mpies.memory names, as a Task's
    buffer_bytes, buffer_field = 0, "rollout.max_steps"

    def __init__(self, hidden, max_steps: int):
        probe = BipedalTerrain()
        self.policy = Policy(probe.observation_space, probe.action_space, "mlp", hidden)
        probe.close()
        self.num_params, self.obs_dim, self.max_steps = self.policy.num_params, self.policy.obs_dim, max_steps
        self._zeros, self._ones = np.zeros(self.obs_dim), np.ones(self.obs_dim)
        self._envs: dict[tuple, BipedalTerrain] = {}

    def episode(self, params: np.ndarray, terrain: np.ndarray, terrain_seed: int) -> tuple[float, int]:
        """(return, steps) of ``params`` on terrain vector ``terrain`` (5,) with ``terrain_seed``."""
        key = (*terrain.tolist(), int(terrain_seed))
        env = self._envs.get(key)
        if env is None:
            env = self._envs[key] = BipedalTerrain(TerrainParams.from_vector(terrain), int(terrain_seed))
        result = run_episode(env, self.policy.actor(params, self._zeros, self._ones), int(terrain_seed),
                             self.max_steps)
        return result.total_return, result.length

    def keep_only(self, keys: set[tuple]) -> None:
        """Close cached environments whose ``(*terrain, seed)`` is not in ``keys``."""
        for key in [k for k in self._envs if k not in keys]:
            self._envs.pop(key).close()

    def close(self) -> None:
        self.keep_only(set())
