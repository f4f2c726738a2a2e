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

The variation is a :class:`mpies.qd.emitters.VariationEmitter`, and :class:`QDStrategy` (the
archive, the emitters, ask and tell) is shared with CMA-ME and CMA-MAE (:mod:`mpies.qd.cma_me`).
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
from .emitters import VARIATIONS, Improvement, VariationEmitter, compare, raise_thresholds

SELECTION_STREAM = seeding.ELITE_SELECTION
"""Seeding stream of parent selection and line scalars (after :data:`mpies.seeding.PARENT_SELECTION`)."""

__all__ = ["SELECTION_STREAM", "ArchiveConfig", "MAPElites", "MAPElitesConfig", "MAPElitesState", "QDPopulation",
           "QDStrategy", "checked_archive"]


@dataclass
class ArchiveConfig(StrategyConfig):
    """The archive fields every quality-diversity strategy shares (its ``[strategy]`` table)."""

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
class MAPElitesConfig(ArchiveConfig):
    """MAP-Elites (Mouret & Clune 2015) over a grid or CVT archive of behaviour descriptors."""

    population: int = option(64, "offspring per generation", min=1)
    variation: str = option("iso_line_dd", "mutation: gaussian, or Iso+LineDD (Vassiliades & Mouret 2018)",
                            choices=VARIATIONS)
    sigma: float = option(0.1, "std of the isotropic Gaussian mutation", gt=0.0)
    line_sigma: float = option(0.2, "std of the directional (line) term of Iso+LineDD", min=0.0)
    init_sigma: float = option(1.0, "std around the initial parameters while the archive is empty", gt=0.0)


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
class QDPopulation:
    """One generation's members: the emitters' batches one after the other.

    Attributes:
        generation: the generation (0-based) it was asked in.
        batches: one batch per emitter, in emitter order (:mod:`mpies.qd.emitters`).
        offsets: int64 ``(emitters + 1,)`` first member of each batch, then ``size``.
        keys: int64 ``(size,)`` every member's perturbation key.
        parent_cell: int64 ``(size,)`` the elite each member was bred from, -1 for none.
    """

    generation: int
    batches: tuple
    offsets: np.ndarray
    keys: np.ndarray
    parent_cell: np.ndarray

    @property
    def size(self) -> int:
        return int(self.offsets[-1])

    def locate(self, member: int) -> tuple[int, int]:
        """``(emitter, index in its batch)`` of ``member``."""
        emitter = int(np.searchsorted(self.offsets, member, side="right")) - 1
        return emitter, member - int(self.offsets[emitter])

    def episode_group(self, member: int) -> int:
        return member


class QDStrategy(Strategy):
    """Ask/tell over an archive fed by emitters; ``tell`` also takes the members' descriptors.

    A subclass builds ``self.archive``, ``self.emitters`` (objects of :mod:`mpies.qd.emitters`),
    ``self.state`` (the archive's arrays, ``generation`` and, with thresholds, ``threshold``) and
    sets ``learning_rate`` and ``threshold_min`` when its emitters learn from improvement.

    Each generation: keys ``noise.keys(generation, size)`` are dealt to the emitters in order; the
    emitters draw their choices (parents, lines) in order from one generator seeded by (run seed,
    :data:`SELECTION_STREAM`, generation), and their restarts from one seeded by (run seed,
    :data:`mpies.seeding.EMITTER_RESTART`, generation). The whole batch is inserted at once;
    then every emitter is told its slice. Nothing but fitness and descriptors is gathered.
    """

    uses_descriptors = True
    family = "qd"
    thresholds = False
    """Whether ``state.threshold`` exists (emitters rank by improvement over it)."""
    learning_rate = 1.0
    threshold_min = -np.inf

    @property
    def population_size(self) -> int:
        return sum(e.batch for e in self.emitters)

    @property
    def descriptor_dims(self) -> int:
        return self.archive.dims

    @property
    def mean(self) -> np.ndarray:
        """Parameters of the best elite (``theta0`` while the archive is empty), float64 ``(num_params,)``."""
        best = self.archive.best_cell()
        return self.theta0 if best < 0 else self.state.params[best]

    def _ask(self) -> QDPopulation:
        g = self.generation
        offsets = np.cumsum([0] + [e.batch for e in self.emitters]).astype(np.int64)
        keys = self.noise.keys(g, int(offsets[-1]))
        rng = seeding.generator(self.noise.seed, SELECTION_STREAM, g)
        batches = tuple(e.ask(self.archive, keys[offsets[i]:offsets[i + 1]], rng)
                        for i, e in enumerate(self.emitters))
        return QDPopulation(g, batches, offsets, keys, np.concatenate([b.parent_cell for b in batches]))

    def member_params(self, population: QDPopulation, member: int) -> np.ndarray:
        """Member ``member`` of ``population``, float64 ``(num_params,)``.

        Valid until the next ``tell`` (it reads parents from the archive and the emitters' states).
        """
        emitter, index = population.locate(member)
        return self.emitters[emitter].member_params(self.archive, population.batches[emitter], index)

    def _tell(self, population: QDPopulation, fitness: np.ndarray,
              descriptors: np.ndarray) -> dict[str, float]:
        """Insert the batch into the archive (NaN fitness = failed, never inserted), update the
        thresholds, tell every emitter its slice.

        Returns:
            ``new_cells`` and ``improved_cells`` (members that filled an empty cell / beat an
            elite), the archive's ``archive_filled`` and ``qd_score`` (offset
            ``config.qd_offset``) after the insertion, and with thresholds ``emitter_restarts``
            (this generation) and ``sigma_mean`` (the ES emitters' mean step size after it).
        """
        plan = self.archive.plan(fitness, descriptors)
        cells = plan.cells
        threshold = self.state.threshold if self.thresholds else self.state.fitness
        compared = compare(fitness, cells, threshold, self.threshold_min)
        # offspring params are rebuilt only for members that end up stored, all before any write
        status = self.archive.add(lambda i: self.member_params(population, i), fitness, descriptors,
                                  population.parent_cell, population.keys, plan)
        if self.thresholds:
            raise_thresholds(self.state.threshold, fitness, cells, compared.status, self.learning_rate,
                             self.threshold_min)
        rng = seeding.generator(self.noise.seed, seeding.EMITTER_RESTART, population.generation)
        restarts = 0
        for i, (emitter, batch) in enumerate(zip(self.emitters, population.batches)):
            part = slice(int(population.offsets[i]), int(population.offsets[i + 1]))
            restarts += emitter.tell(self.archive, batch, Improvement(compared.status[part], compared.value[part]),
                                     rng)
        metrics = self.archive.metrics(offset=self.config.qd_offset)
        info = {"archive_filled": metrics["filled"], "qd_score": metrics["qd_score"],
                "new_cells": int(np.sum(status == NEW)), "improved_cells": int(np.sum(status == IMPROVED))}
        if self.family == "qd_emitters":
            info.update(emitter_restarts=restarts, sigma_mean=float(np.mean(self.state.emitters.sigma)))
        return info


class MAPElites(QDStrategy):
    """MAP-Elites: one :class:`mpies.qd.emitters.VariationEmitter` of ``population`` members.

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

    def __init__(self, config: MAPElitesConfig, theta0: np.ndarray, noise, archive=None):
        self.config, self.noise = config, noise
        self.theta0, self.archive = checked_archive(config, theta0, noise, archive)
        self.emitters = [VariationEmitter(config.variation, config.population, config.sigma, config.line_sigma,
                                          config.init_sigma, self.theta0, noise)]
        self.state = MAPElitesState(generation=np.zeros((), dtype=np.int64), **self.archive.state)


def checked_archive(config, theta0: np.ndarray, noise, archive=None):
    """``(theta0 as float64 (num_params,), archive)``: ``archive``, or one built from ``config``'s
    archive fields (:func:`mpies.qd.archives.make_archive`, CVT seeded by ``noise.seed``), checked
    against ``theta0`` and ``noise``."""
    theta0 = np.array(theta0, dtype=np.float64).reshape(-1)
    if archive is None:
        archive = make_archive(config, theta0.shape[0], noise.seed)
    if theta0.shape[0] != archive.num_params or theta0.shape[0] != noise.dim:
        raise ValueError(f"theta0 has {theta0.shape[0]} parameters; the archive holds "
                         f"{archive.num_params} and the noise source draws {noise.dim}")
    return theta0, archive


ALGORITHMS = (Algorithm("map_elites", MAPElitesConfig,
                        "MAP-Elites over a grid or CVT archive of behaviour descriptors "
                        "(gaussian or Iso+LineDD variation)", strategy=MAPElites),)
