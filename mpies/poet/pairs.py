"""The table of POET pairs that every rank holds identically.

Capacity is fixed (``max_pairs + max_admitted`` slots, :data:`ARCHIVE_CAPACITY` archived
terrains) so a checkpoint has the same array shapes for the whole run. A slot holds one pair:
its terrain, its agent ``theta`` and the OpenAI-ES state that improves it (sigma, learning rate,
Adam moments, steps taken). Pairs are identified by ids given in creation order; "oldest" means
the smallest id.
"""

from __future__ import annotations

import numpy as np

from ..envs.bipedal_terrain import TerrainParams
from ..strategies.openai_es import OpenAIES

ARCHIVE_CAPACITY = 4096  # terrains ever admitted; POET admits at most a few per mutation step

# Salts of perturbation keys (see mpies.noise.SaltedNoise): an ES step of pair p uses
# (ES_STEP, p); a proposal transfer of source s into target p at iteration t uses (PROPOSAL, p, s, t).
ES_STEP, PROPOSAL = 1, 2


class PairTable:
    """Fixed-capacity arrays of pairs plus the archive of every admitted terrain.

    Args:
        capacity: pair slots.
        dim: policy parameters.
        es_config: the POETConfig (its OpenAI-ES fields drive every pair's ES step).
    """

    def __init__(self, capacity: int, dim: int, es_config):
        self.es_config = es_config
        self.state = {
            "active": np.zeros(capacity, dtype=bool),
            "pair_id": np.full(capacity, -1, dtype=np.int64),
            "parent_id": np.full(capacity, -1, dtype=np.int64),
            "created_at": np.zeros(capacity, dtype=np.int64),
            "terrain": np.zeros((capacity, 5), dtype=np.float64),
            "terrain_seed": np.zeros(capacity, dtype=np.int64),
            "score": np.full(capacity, np.nan),        # return of the pair's theta on its terrain
            "theta": np.zeros((capacity, dim)),
            "sigma": np.zeros(capacity),
            "learning_rate": np.zeros(capacity),
            "steps": np.zeros(capacity, dtype=np.int64),  # ES steps taken = key generation
            "adam_m": np.zeros((capacity, dim)),
            "adam_v": np.zeros((capacity, dim)),
            "adam_t": np.zeros(capacity, dtype=np.int64),
            "next_id": np.zeros((), dtype=np.int64),
            "archive": np.zeros((ARCHIVE_CAPACITY, 5)),
            "archive_size": np.zeros((), dtype=np.int64),
        }

    # ------------------------------------------------------------------ queries
    def slots(self) -> list[int]:
        """Active slots, oldest pair first."""
        active = np.flatnonzero(self.state["active"])
        return [int(s) for s in active[np.argsort(self.state["pair_id"][active], kind="stable")]]

    def terrain(self, slot: int) -> TerrainParams:
        return TerrainParams.from_vector(self.state["terrain"][slot])

    def pair_id(self, slot: int) -> int:
        return int(self.state["pair_id"][slot])

    def archive(self) -> np.ndarray:
        """Terrain vectors of every admitted environment, ``(A, 5)``."""
        return self.state["archive"][: int(self.state["archive_size"])]

    # ------------------------------------------------------------------ changes
    def add(self, terrain: TerrainParams, terrain_seed: int, theta: np.ndarray, iteration: int,
            parent_id: int = -1) -> int:
        """Admit a new pair with a fresh optimiser; returns its id."""
        s = self.state
        free = np.flatnonzero(~s["active"])
        if free.size == 0:
            raise RuntimeError("no free pair slot: remove the oldest pair before adding")
        if int(s["archive_size"]) >= ARCHIVE_CAPACITY:
            raise RuntimeError(f"the terrain archive is full ({ARCHIVE_CAPACITY}); lower strategy.max_admitted")
        slot, pair_id = int(free[0]), int(s["next_id"])
        s["active"][slot], s["pair_id"][slot], s["parent_id"][slot] = True, pair_id, parent_id
        s["created_at"][slot], s["terrain"][slot] = iteration, terrain.vector()
        s["terrain_seed"][slot], s["score"][slot], s["theta"][slot] = terrain_seed, np.nan, theta
        s["sigma"][slot], s["learning_rate"][slot] = self.es_config.sigma, self.es_config.learning_rate
        s["steps"][slot] = 0
        self.reset_optimizer(slot)
        s["next_id"] = np.asarray(pair_id + 1, dtype=np.int64)
        s["archive"][int(s["archive_size"])] = terrain.vector()
        s["archive_size"] = np.asarray(int(s["archive_size"]) + 1, dtype=np.int64)
        return pair_id

    def remove(self, slot: int) -> None:
        """Retire a pair; its terrain stays in the archive."""
        self.state["active"][slot] = False

    def reset_optimizer(self, slot: int) -> None:
        """Zero the Adam moments (after a transfer replaces theta, as the reference code does)."""
        self.state["adam_m"][slot] = 0.0
        self.state["adam_v"][slot] = 0.0
        self.state["adam_t"][slot] = 0

    # ------------------------------------------------------------------ ES steps
    def strategy(self, slot: int, noise, theta: np.ndarray | None = None, salt=None) -> OpenAIES:
        """An OpenAI-ES positioned at this slot's state.

        Args:
            noise: the run's noise source; keys are salted per pair (or per proposal).
            theta: start from these parameters instead of the pair's own (proposal transfers).
            salt: key salt; default ``(ES_STEP, pair_id)``.
        """
        s = self.state
        salt = (ES_STEP, self.pair_id(slot)) if salt is None else salt
        es = OpenAIES(self.es_config, s["theta"][slot] if theta is None else theta, noise.salted(salt))
        es.state["sigma"] = np.asarray(s["sigma"][slot])
        es.state["generation"] = np.asarray(s["steps"][slot], dtype=np.int64)
        es.optimizer.learning_rate = float(s["learning_rate"][slot])
        es.optimizer.state.update(m=s["adam_m"][slot].copy(), v=s["adam_v"][slot].copy(),
                                  t=np.asarray(s["adam_t"][slot], dtype=np.int64))
        return es

    def store(self, slot: int, es: OpenAIES) -> None:
        """Write an ES step's result back and decay the learning rate."""
        s, c = self.state, self.es_config
        s["theta"][slot], s["sigma"][slot] = es.mean, es.sigma
        s["steps"][slot] = es.generation
        s["adam_m"][slot], s["adam_v"][slot] = es.optimizer.state["m"], es.optimizer.state["v"]
        s["adam_t"][slot] = es.optimizer.state["t"]
        s["learning_rate"][slot] = max(s["learning_rate"][slot] * c.learning_rate_decay, c.learning_rate_min)

    # ------------------------------------------------------------------ checkpoint
    def state_dict(self) -> dict[str, np.ndarray]:
        return {k: np.array(v) for k, v in self.state.items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for k in self.state:
            self.state[k] = np.array(state[k], dtype=self.state[k].dtype)
