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
from ..config import ConfigError, StrategyConfig, echo, option
from ..registry import Algorithm
from ..strategies.base import State, Strategy
from .archives import IMPROVED, NEW, make_archive

SELECTION_STREAM = seeding.ELITE_SELECTION
"""Seeding stream of parent selection and line scalars (after :data:`mpies.seeding.PARENT_SELECTION`)."""

VARIATIONS = ("gaussian", "iso_line_dd")

__all__ = ["SELECTION_STREAM", "VARIATIONS", "MAPElites", "MAPElitesConfig", "MAPElitesPopulation",
           "MAPElitesState"]


@dataclass
class MAPElitesConfig(StrategyConfig):
    """MAP-Elites (Mouret & Clune 2015) over a grid or CVT archive of behaviour descriptors."""

    population: int = option(64, "offspring per generation", min=1)
    variation: str = option("iso_line_dd", "mutation: gaussian, or Iso+LineDD (Vassiliades & Mouret 2018)",
                            choices=VARIATIONS)
    sigma: float = option(0.1, "std of the isotropic Gaussian mutation", gt=0.0)
    line_sigma: float = option(0.2, "std of the directional (line) term of Iso+LineDD", min=0.0)
    init_sigma: float = option(1.0, "std around the initial parameters while the archive is empty", gt=0.0)
    archive: str = option("grid", "archive geometry", choices=("grid", "cvt"))
    bins: list[int] = option([50, 50], "grid: bins per descriptor dimension", min=1)
    cells: int = option(1000, "cvt: number of cells (centroids by k-means on uniform samples)", min=1)
    lower: list[float] = option([-1.0, -1.0], "lower bound of each descriptor dimension")
    upper: list[float] = option([1.0, 1.0], "upper bound of each descriptor dimension")
    qd_offset: float = option(0.0, "QD score = sum over filled cells of (fitness - qd_offset)")

    def validate(self, run) -> None:
        dims = len(self.lower)
        if not dims:
            raise ConfigError("strategy.lower: got []; give one lower bound per descriptor dimension")
        if len(self.upper) != dims or (self.archive == "grid" and len(self.bins) != dims):
            raise ConfigError(f"strategy.upper: lower, upper (and bins for a grid) need one entry per "
                              f"descriptor dimension; got {len(self.lower)}, {len(self.upper)}, {len(self.bins)}")
        if any(lo >= hi for lo, hi in zip(self.lower, self.upper)):
            raise ConfigError(f"strategy.upper: got {echo(self.upper)}; every upper bound must exceed its "
                              f"lower bound {echo(self.lower)}")


@dataclass
class MAPElitesState(State):
    """``generation`` (int64 ``()``) and the archive's arrays, shared with ``archive.state``
    (``cells`` cells, ``dims`` descriptor dimensions; see :mod:`mpies.qd.archives`).

    Attributes:
        generation: int64 ``()`` batches told so far.
        occupied: bool ``(cells,)``.
        fitness: float64 ``(cells,)``, ``-inf`` when empty.
        descriptors: float64 ``(cells, dims)``.
        params: float64 ``(cells, num_params)``.
        parent_cell: int64 ``(cells,)``, -1 = bred from ``theta0``.
        key: int64 ``(cells,)`` the perturbation key that made the elite.
    """

    generation: np.ndarray
    occupied: np.ndarray
    fitness: np.ndarray
    descriptors: np.ndarray
    params: np.ndarray
    parent_cell: np.ndarray
    key: np.ndarray


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
        config: a :class:`MAPElitesConfig` (``population``, ``variation``, ``sigma``,
            ``line_sigma``, ``init_sigma``, ``qd_offset``; the archive fields are read when
            ``archive`` is None).
        theta0: float ``(num_params,)`` initial parameters (centre of the first batch).
        noise: a noise source from :mod:`mpies.noise` (``seed``, ``keys``, ``vector``).
        archive: an archive from :mod:`mpies.qd.archives` with ``num_params = len(theta0)``;
            the strategy owns and updates it. None: built by :func:`mpies.qd.archives.make_archive`
            from ``config`` (CVT seeded by ``noise.seed``), so ``MAPElites(config, theta0, noise)``
            matches the constructor of the other strategies.

    The state (:class:`MAPElitesState`) is the archive's arrays plus ``generation``.
    """

    uses_descriptors = True
    family = "qd"

    def __init__(self, config: MAPElitesConfig, theta0: np.ndarray, noise, archive=None):
        if config.variation not in VARIATIONS:
            raise ValueError(f"variation: got {config.variation!r}; expected one of {VARIATIONS}")
        self.theta0 = np.array(theta0, dtype=np.float64).reshape(-1)
        if archive is None:
            archive = make_archive(config, self.theta0.shape[0], noise.seed)
        self.config, self.noise, self.archive = config, noise, archive
        if self.theta0.shape[0] != archive.num_params or self.theta0.shape[0] != noise.dim:
            raise ValueError(f"theta0 has {self.theta0.shape[0]} parameters; the archive holds "
                             f"{archive.num_params} and the noise source draws {noise.dim}")
        self.state = MAPElitesState(generation=np.zeros((), dtype=np.int64), **archive.state)

    @property
    def descriptor_dims(self) -> int:
        return self.archive.dims

    @property
    def mean(self) -> np.ndarray:
        """Parameters of the best elite (``theta0`` while the archive is empty), float64 ``(num_params,)``."""
        best = self.archive.best_cell()
        return self.theta0 if best < 0 else self.state.params[best]

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
        params = self.state.params
        p = int(population.parent_cell[member])
        base = self.theta0 if p < 0 else params[p]
        eps = self.noise.vector(int(population.keys[member])).astype(np.float64)
        x = base + np.float64(population.sigma) * eps
        q = int(population.partner_cell[member])
        if q >= 0:
            x += np.float64(population.line_sigma) * population.line[member] * (params[q] - base)
        return x

    def _tell(self, population: MAPElitesPopulation, fitness: np.ndarray,
              descriptors: np.ndarray) -> dict[str, float]:
        """Insert the batch into the archive (NaN fitness = failed, never inserted).

        Returns:
            ``new_cells`` and ``improved_cells`` (members that filled an empty cell / beat an
            elite), and the archive's ``archive_filled`` and ``qd_score`` (offset
            ``config.qd_offset``) after the insertion.
        """
        # offspring params are rebuilt only for members that end up stored, all before any write
        status = self.archive.add(lambda i: self.member_params(population, i), fitness, descriptors,
                                  population.parent_cell, population.keys)
        metrics = self.archive.metrics(offset=self.config.qd_offset)
        return {"archive_filled": metrics["filled"], "qd_score": metrics["qd_score"],
                "new_cells": int(np.sum(status == NEW)), "improved_cells": int(np.sum(status == IMPROVED))}


ALGORITHMS = (Algorithm("map_elites", MAPElitesConfig,
                        "MAP-Elites over a grid or CVT archive of behaviour descriptors "
                        "(gaussian or Iso+LineDD variation)", strategy=MAPElites),)
