"""The table of POET pairs that every rank holds identically.

Capacity is fixed (``max_pairs + max_admitted`` slots, :data:`ARCHIVE_CAPACITY` archived
terrains) so a checkpoint has the same array shapes for the whole run. A slot holds one pair:
its terrain, its score, and the :class:`mpies.strategies.openai_es.OpenAIESState` that improves
its agent (``theta``, ``sigma``, ``learning_rate``, ES steps taken as ``generation``, Adam moments
as ``optimizer/m``, ``optimizer/v``, ``optimizer/t``). Those states are rows of stacked arrays of
:attr:`PairTable.state` (``state["theta"]`` is ``(capacity, dim)``, ``state["sigma"]``
``(capacity,)``), and :meth:`PairTable.strategy` hands out an OpenAI-ES that updates its row in
place. Pairs are identified by ids given in creation order; "oldest" means the smallest id.
"""

from __future__ import annotations

import numpy as np

from ..envs.terrain_params import TerrainParams
from ..strategies.openai_es import OpenAIES, OpenAIESState

ARCHIVE_CAPACITY = 4096  # terrains ever admitted; POET admits at most a few per mutation step

# Salts of perturbation keys (see mpies.noise.SaltedNoise): an ES step of pair p uses
# (ES_STEP, p); a proposal transfer of source s into target p at iteration t uses (PROPOSAL, p, s, t).
ES_STEP, PROPOSAL = 1, 2


class PairTable:
    """Fixed-capacity arrays of pairs plus the archive of every admitted terrain.

    Args:
        capacity: pair slots.
        dim: policy parameters.
        es_config: the POETConfig (its OpenAI-ES fields drive every pair's ES step; its
            ``learning_rate_decay`` and ``learning_rate_min`` the learning rate of each pair).
    """

    def __init__(self, capacity: int, dim: int, es_config):
        self.es_config = es_config
        template = OpenAIESState.initial(es_config, np.zeros(dim))
        self._es_names = tuple(template.arrays())
        self.state = {
            "active": np.zeros(capacity, dtype=bool),
            "pair_id": np.full(capacity, -1, dtype=np.int64),
            "parent_id": np.full(capacity, -1, dtype=np.int64),
            "created_at": np.zeros(capacity, dtype=np.int64),
            "terrain": np.zeros((capacity, 5), dtype=np.float64),
            "terrain_seed": np.zeros(capacity, dtype=np.int64),
            "score": np.full(capacity, np.nan),        # return of the pair's theta on its terrain
            **{name: np.zeros((capacity, *a.shape), dtype=a.dtype) for name, a in template.arrays().items()},
            "next_id": np.zeros((), dtype=np.int64),
            "archive": np.zeros((ARCHIVE_CAPACITY, 5)),
            "archive_size": np.zeros((), dtype=np.int64),
        }
        # slot -> its OpenAIESState, whose arrays are views of row `slot` of the stacked arrays
        self._es = [template.view({name: self.state[name][slot, ...] for name in self._es_names})
                    for slot in range(capacity)]

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

    def es_state(self, slot: int) -> OpenAIESState:
        """The ES state of ``slot``: views into this table (writing it writes the table)."""
        return self._es[slot]

    def theta(self, slot: int) -> np.ndarray:
        """The pair's agent, float64 ``(dim,)``: a view into the table (copy it to keep it)."""
        return self._es[slot].theta

    def sigma(self, slot: int) -> float:
        """The pair's perturbation std for its next ES step."""
        return float(self._es[slot].sigma)

    # ------------------------------------------------------------------ changes
    def add(self, terrain: TerrainParams, terrain_seed: int, theta: np.ndarray, iteration: int,
            parent_id: int = -1) -> int:
        """Admit a new pair with a fresh ES state at ``theta``; returns its id."""
        s = self.state
        free = np.flatnonzero(~s["active"])
        if free.size == 0:
            raise RuntimeError("no free pair slot: remove the oldest pair before adding")
        if int(s["archive_size"]) >= ARCHIVE_CAPACITY:
            raise RuntimeError(f"the terrain archive is full ({ARCHIVE_CAPACITY}); lower strategy.max_admitted")
        slot, pair_id = int(free[0]), int(s["next_id"])
        s["active"][slot], s["pair_id"][slot], s["parent_id"][slot] = True, pair_id, parent_id
        s["created_at"][slot], s["terrain"][slot] = iteration, terrain.vector()
        s["terrain_seed"][slot], s["score"][slot] = terrain_seed, np.nan
        self._es[slot].load_dict(OpenAIESState.initial(self.es_config, theta).to_dict())
        s["next_id"][...] = pair_id + 1
        s["archive"][int(s["archive_size"])] = terrain.vector()
        s["archive_size"][...] = int(s["archive_size"]) + 1
        return pair_id

    def remove(self, slot: int) -> None:
        """Retire a pair; its terrain stays in the archive."""
        self.state["active"][slot] = False

    def replace_agent(self, slot: int, theta: np.ndarray) -> None:
        """A transfer: ``theta`` becomes the pair's agent, with fresh optimizer moments (as the
        reference code does); sigma, the learning rate and the step count stay."""
        fresh = OpenAIESState.initial(self.es_config, theta).to_dict()
        for name in self._es_names:
            if name == "theta" or name.startswith("optimizer/"):
                self.state[name][slot] = fresh[name]

    # ------------------------------------------------------------------ ES steps
    def strategy(self, slot: int, noise, theta: np.ndarray | None = None, salt=None) -> OpenAIES:
        """An OpenAI-ES for this slot.

        Without ``theta`` it works on the slot's state in place: its ``tell`` is the pair's ES step
        (follow it with :meth:`stepped`). With ``theta`` (a proposal transfer: another pair's
        agent) it gets a fresh state at ``theta`` with a copy of this slot's ES settings (sigma,
        learning rate, Adam moments, steps), and the table stays as it is.

        Args:
            noise: the run's noise source; keys are salted per pair (or per proposal).
            theta: float64 ``(dim,)`` start of a proposal.
            salt: key salt; default ``(ES_STEP, pair_id)``.
        """
        salt = (ES_STEP, self.pair_id(slot)) if salt is None else salt
        state = self._es[slot]
        if theta is not None:
            state = state.copy()
            state.theta[...] = theta
        return OpenAIES(self.es_config, state.theta, noise.salted(salt), state=state)

    def stepped(self, slot: int) -> None:
        """After the pair's ES step: decay its learning rate by ``learning_rate_decay``, down to
        ``learning_rate_min``."""
        c, learning_rate = self.es_config, self._es[slot].learning_rate
        learning_rate[...] = max(float(learning_rate) * c.learning_rate_decay, c.learning_rate_min)

    # ------------------------------------------------------------------ checkpoint
    OWN_DOCS = {
        "active": "whether the slot holds a pair, bool (capacity,)",
        "pair_id": "id of the slot's pair (-1: never used), int64 (capacity,)",
        "parent_id": "id of the pair whose terrain was mutated into this one (-1: the first), int64 (capacity,)",
        "created_at": "iteration the pair was created (from 1; 0: the first pair), int64 (capacity,)",
        "terrain": "the pair's terrain vector (TerrainParams.vector), float64 (capacity, 5)",
        "terrain_seed": "seed of the pair's terrain, int64 (capacity,)",
        "score": "return of the pair's agent on its terrain, float64 (capacity,)",
        "next_id": "the id the next pair gets",
        "archive": "terrain vectors of every environment ever admitted (the first archive_size rows)",
        "archive_size": "rows of archive in use",
    }

    def docs(self) -> dict[str, str]:
        """``state`` name -> its description: the table's own arrays and, one row per slot, the
        OpenAI-ES state of each pair."""
        es = {name: f"per slot (row): {doc}" for name, doc in self._es[0].docs().items()}
        return {name: self.OWN_DOCS.get(name) or es[name] for name in self.state}

    def state_dict(self) -> dict[str, np.ndarray]:
        return {k: np.array(v) for k, v in self.state.items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy ``state`` into the table's arrays in place (the pairs' ES states are views of them)."""
        for k, current in self.state.items():
            value = np.asarray(state[k])
            if value.shape != current.shape:
                raise ValueError(f"pair table {k!r} has shape {value.shape}, expected {current.shape}")
            current[...] = value
