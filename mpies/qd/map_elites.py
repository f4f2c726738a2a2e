"""MAP-Elites (Mouret & Clune 2015, "Illuminating search spaces by mapping elites",
arXiv:1504.04909) as an ask/tell strategy over an archive from :mod:`mpies.qd.archives`.

Each generation breeds ``population`` offspring from elites chosen uniformly over the filled
cells, then inserts them by fitness (maximised) and descriptors. Two variation operators:

* ``gaussian``: ``x = x_i + sigma * eps(key)``;
* ``iso_line_dd`` (Vassiliades & Mouret 2018, "Discovering the elite hypervolume by leveraging
  interspecies correlation", GECCO, arXiv:1804.03906):
  ``x = x_i + sigma * eps(key) + line_sigma * N(0, 1) * (x_j - x_i)`` with ``x_i``, ``x_j`` two
  uniformly chosen elites and one scalar ``N(0, 1)`` per offspring.

While the archive is empty (the first generation, or after a generation in which every member
failed) the batch is ``theta0 + init_sigma * eps(key)``.

As in :mod:`mpies.strategies.ga`, nothing but fitness and descriptors has to be gathered: parent
cells and line scalars come from a generator seeded with (run seed, :data:`SELECTION_STREAM`,
generation) and keys from ``noise.keys(generation, n)``, and every rank holds the same archive
(all apply the same ``tell``), so any rank rebuilds any offspring. Pure numpy: no MPI, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import seeding
from ..config import MAPElitesConfig
from ..strategies.base import Strategy
from .archives import IMPROVED, NEW, make_archive

SELECTION_STREAM = seeding.ELITE_SELECTION
"""Seeding stream of parent selection and line scalars (after :data:`mpies.seeding.PARENT_SELECTION`)."""

VARIATIONS = ("gaussian", "iso_line_dd")

__all__ = ["SELECTION_STREAM", "VARIATIONS", "MAPElites", "MAPElitesConfig", "MAPElitesPopulation"]


@dataclass(frozen=True)
class MAPElitesPopulation:
    """One batch: offspring ``i`` is

    ``base_i + sigma * eps(keys[i]) + line_sigma * line[i] * (params[partner_cell[i]] - base_i)``

    where ``base_i`` is ``params[parent_cell[i]]``, or ``theta0`` when ``parent_cell[i] = -1``
    (the initial batch, with ``sigma = init_sigma``); the line term is absent when
    ``partner_cell[i] = -1`` (gaussian variation).
    """

    generation: int
    keys: np.ndarray          # int64 (n,) mutation keys
    parent_cell: np.ndarray   # int64 (n,) cell of x_i, -1 = theta0
    partner_cell: np.ndarray  # int64 (n,) cell of x_j, -1 = no line term
    line: np.ndarray          # float64 (n,) the scalar N(0, 1) of the line term (0 when unused)
    size: int
    sigma: float
    line_sigma: float

    def episode_group(self, member: int) -> int:
        return member


class MAPElites(Strategy):
    """Ask/tell MAP-Elites; ``tell`` also takes the members' descriptors.

    Args:
        config: a :class:`mpies.config.MAPElitesConfig` (``population``, ``variation``, ``sigma``,
            ``line_sigma``, ``init_sigma``; ``qd_offset`` if present sets the reported QD score's
            offset, and the archive fields are read when ``archive`` is None).
        theta0: float ``(num_params,)`` initial parameters (centre of the first batch).
        noise: a noise source from :mod:`mpies.noise` (``seed``, ``keys``, ``vector``).
        archive: an archive from :mod:`mpies.qd.archives` with ``num_params = len(theta0)``;
            the strategy owns and updates it. None: built by :func:`mpies.qd.archives.make_archive`
            from ``config`` (CVT seeded by ``noise.seed``), so ``MAPElites(config, theta0, noise)``
            matches the constructor of the other strategies.

    The checkpoint state is the archive's arrays plus ``generation`` (see :meth:`state_dict`).
    """

    uses_descriptors = True
    """``tell`` needs ``descriptors`` (the runner gathers them from the task)."""

    def __init__(self, config, theta0: np.ndarray, noise, archive=None):
        if config.variation not in VARIATIONS:
            raise ValueError(f"variation: got {config.variation!r}; expected one of {VARIATIONS}")
        self.theta0 = np.array(theta0, dtype=np.float64).reshape(-1)
        if archive is None:
            archive = make_archive(config, self.theta0.shape[0], noise.seed)
        self.config, self.noise, self.archive = config, noise, archive
        if self.theta0.shape[0] != archive.num_params or self.theta0.shape[0] != noise.dim:
            raise ValueError(f"theta0 has {self.theta0.shape[0]} parameters; the archive holds "
                             f"{archive.num_params} and the noise source draws {noise.dim}")
        self._generation = np.zeros((), dtype=np.int64)

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> dict[str, np.ndarray]:
        """``generation`` and the archive's arrays (live references; keys do not overlap)."""
        return {"generation": self._generation, **self.archive.state}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.archive.load_state_dict({k: state[k] for k in self.archive.state})
        self._generation = np.array(state["generation"], dtype=np.int64).reshape(())
        self._population = None

    # ------------------------------------------------------------------ interface
    @property
    def mean(self) -> np.ndarray:
        """Parameters of the best elite (``theta0`` while the archive is empty), float64 ``(num_params,)``."""
        best = self.archive.best_cell()
        return self.theta0 if best < 0 else self.archive.state["params"][best]

    @property
    def sigma(self) -> float:
        return self.config.sigma

    def _ask(self) -> MAPElitesPopulation:
        n, g, c = self.config.population, self.generation, self.config
        keys = self.noise.keys(g, n)
        filled = self.archive.filled_cells()
        none = np.full(n, -1, dtype=np.int64)
        if filled.size == 0:
            return MAPElitesPopulation(g, keys, none, none.copy(), np.zeros(n), n,
                                       float(c.init_sigma), 0.0)
        rng = seeding.generator(self.noise.seed, SELECTION_STREAM, g)
        parent = filled[rng.integers(0, filled.size, n)]
        if c.variation == "iso_line_dd":
            partner = filled[rng.integers(0, filled.size, n)]
            line = rng.standard_normal(n)
            return MAPElitesPopulation(g, keys, parent, partner, line, n, float(c.sigma),
                                       float(c.line_sigma))
        return MAPElitesPopulation(g, keys, parent, none, np.zeros(n), n, float(c.sigma), 0.0)

    def member_params(self, population: MAPElitesPopulation, member: int) -> np.ndarray:
        """Offspring ``member`` of ``population``, float64 ``(num_params,)``.

        Valid until the next ``tell`` (it reads the parents from the archive).
        """
        params = self.archive.state["params"]
        p = int(population.parent_cell[member])
        base = self.theta0 if p < 0 else params[p]
        eps = self.noise.vector(int(population.keys[member])).astype(np.float64)
        x = base + np.float64(population.sigma) * eps
        q = int(population.partner_cell[member])
        if q >= 0:
            x += np.float64(population.line_sigma) * population.line[member] * (params[q] - base)
        return x

    def tell(self, population: MAPElitesPopulation, fitness: np.ndarray,
             descriptors: np.ndarray | None = None) -> dict[str, float]:
        """Insert the batch into the archive.

        Args:
            population: what the last :meth:`ask` returned.
            fitness: float ``(n,)``, maximised, member order; NaN = failed (never inserted).
            descriptors: float64 ``(n, dims)``, member order.

        Returns:
            ``sigma``, ``update_norm`` (always 0.0: there is no mean to move), ``new`` and
            ``improved`` (how many members filled an empty cell / beat an elite), and the
            archive's ``archive_filled`` and ``qd_score`` after the insertion (offset
            ``config.qd_offset``, 0 when the config has none).
        """
        if population is not self._population:
            raise RuntimeError("tell() must receive the population returned by the last ask()")
        if descriptors is None:
            raise TypeError("MAP-Elites needs descriptors: tell(population, fitness, descriptors)")
        fitness = np.array(fitness, dtype=np.float64)
        if fitness.shape != (population.size,):
            raise ValueError(f"fitness has shape {fitness.shape}, expected ({population.size},)")
        descriptors = np.asarray(descriptors, dtype=np.float64)
        if descriptors.shape != (population.size, self.archive.dims):
            raise ValueError(f"descriptors have shape {descriptors.shape}, "
                             f"expected ({population.size}, {self.archive.dims})")
        # offspring params are rebuilt only for members that end up stored, all before any write
        status = self.archive.add(lambda i: self.member_params(population, i), fitness, descriptors,
                                  population.parent_cell, population.keys)
        self._generation = np.asarray(self.generation + 1, dtype=np.int64)
        self._population = None
        metrics = self.archive.metrics(offset=getattr(self.config, "qd_offset", 0.0))
        return {"sigma": population.sigma, "update_norm": 0.0,
                "new": int(np.sum(status == NEW)), "improved": int(np.sum(status == IMPROVED)),
                "archive_filled": metrics["filled"], "qd_score": metrics["qd_score"]}
