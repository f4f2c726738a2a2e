"""CMA-ME and CMA-MAE: MAP-Elites fed by CMA-ES improvement emitters (:mod:`mpies.qd.emitters`).

* **CMA-ME** (Fontaine et al. 2020, arXiv:1912.02400): each emitter ranks its members new cells
  first, then improved cells, each by the gain over the cell's elite (``ranking = "two_stage"``),
  takes the members that entered the archive as parents (``selection = "filter"``) and restarts at
  a random elite when none entered (``restart = "no_improvement"``).
* **CMA-MAE** (Fontaine & Nikolaidis 2023, arXiv:2205.10752): the same emitters rank by the gain
  over a per-cell threshold that starts at ``threshold_min`` and moves towards what enters the cell
  at the archive learning rate ``alpha`` (``learning_rate``): ``alpha = 1`` is CMA-ME's greedy
  archive, ``alpha = 0`` plain CMA-ES on the objective; the paper's default is 0.01, with
  ``ranking = "improvement"``, ``selection = "mu"``, ``restart = "basic"``.

The defaults are pyribs' published configurations of both (``examples/sphere.py``, the papers'
15 emitters of 36 members, ``sigma0 = 0.5``). As in pyribs, the elites reported (``/archive``, QD
score, coverage) are the best member ever found per cell; CMA-MAE's thresholds live beside them in
``strategy/threshold``. One difference from pyribs' CMA-MAE: an emitter restarts at an elite of
that archive of bests, whereas pyribs samples its thresholded archive, whose cell may hold a
later, lower member. Pure numpy: no MPI, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import ConfigError, option
from ..registry import Algorithm
from .emitters import RANKINGS, RESTARTS, SELECTIONS, EmitterTable, ESEmitter
from .map_elites import ArchiveConfig, MAPElitesState, QDStrategy, checked_archive


@dataclass
class CMAMEConfig(ArchiveConfig):
    """CMA-ME (Fontaine et al. 2020): CMA-ES improvement emitters over a grid or CVT archive."""

    emitters: int = option(15, "CMA-ES emitters", min=1)
    batch: int = option(36, "members per emitter per generation (population = emitters x batch)", min=2)
    sigma: float = option(0.5, "step size of each emitter at every (re)start", gt=0.0)
    covariance: str = option("full", "full, or separable (diagonal: O(n) per member, for neural policies)",
                             choices=("full", "separable"))
    ranking: str = option("two_stage", "two_stage: new cells, then improved, by gain (CMA-ME); improvement: "
                          "by gain over the cell's threshold (CMA-MAE)", choices=RANKINGS)
    selection: str = option("filter", "parents: filter = members that entered the archive, mu = best half",
                            choices=SELECTIONS)
    restart: str = option("no_improvement", "no_improvement: also restart when nothing entered the archive; "
                          "basic: CMA-ES stop criteria only", choices=RESTARTS)
    learning_rate: float = option(1.0, "archive learning rate alpha of the thresholds (1 = CMA-ME's elites)",
                                  min=0.0, max=1.0)
    threshold_min: float = option(-np.inf, "initial threshold of every cell (CMA-MAE: a lower bound of the "
                                  "fitness, e.g. qd_offset; -inf = CMA-ME)", finite=False)

    population_field = "strategy.batch"

    def validate(self, run) -> None:
        super().validate(run)
        if self.learning_rate < 1.0 and not np.isfinite(self.threshold_min):
            raise ConfigError(f"strategy.threshold_min: got {self.threshold_min}; an archive learning rate "
                              f"below 1 ({self.learning_rate}) anneals from a finite threshold: set it to a "
                              f"lower bound of the fitness (e.g. qd_offset = {self.qd_offset})")

    @property
    def population(self) -> int:
        return self.emitters * self.batch


@dataclass
class CMAMAEConfig(CMAMEConfig):
    """CMA-MAE (Fontaine & Nikolaidis 2023): CMA-ME with an annealing threshold per cell."""

    ranking: str = option("improvement", CMAMEConfig.__dataclass_fields__["ranking"].metadata["help"],
                          choices=RANKINGS)
    selection: str = option("mu", CMAMEConfig.__dataclass_fields__["selection"].metadata["help"],
                            choices=SELECTIONS)
    restart: str = option("basic", CMAMEConfig.__dataclass_fields__["restart"].metadata["help"],
                          choices=RESTARTS)
    learning_rate: float = option(0.01, "archive learning rate alpha of the thresholds (the paper's 0.01)",
                                  min=0.0, max=1.0)
    threshold_min: float = option(0.0, "initial threshold of every cell: a lower bound of the fitness "
                                  "(the paper's 0 for objectives in [0, 100])", finite=False)


@dataclass
class CMAMEState(MAPElitesState):
    """``generation``, the archive's arrays (as :class:`mpies.qd.map_elites.MAPElitesState`), the
    thresholds and the emitters' CMA-ES states.

    Attributes:
        generation: int64 ``()`` batches told so far.
        occupied: bool ``(cells,)``.
        fitness: float64 ``(cells,)`` the best fitness found in each cell, ``-inf`` when empty.
        descriptors: float64 ``(cells, dims)``.
        params: float64 ``(cells, num_params)``.
        parent_cell: int64 ``(cells,)``, -1 for members of an emitter's distribution.
        key: int64 ``(cells,)`` the perturbation key that made the elite.
        threshold: float64 ``(cells,)`` what a member must exceed to count as an improvement of its
            cell (threshold_min until the cell is first entered; CMA-ME: the elite's fitness).
        emitters: the emitters' CMA-ES states, stacked (:class:`mpies.qd.emitters.EmitterTable`).
    """

    threshold: np.ndarray
    emitters: EmitterTable


class CMAME(QDStrategy):
    """Ask/tell CMA-ME / CMA-MAE (the config's ranking, selection, restart and learning rate decide).

    Args:
        config: a :class:`CMAMEConfig` (or :class:`CMAMAEConfig`).
        theta0: float ``(num_params,)`` where every emitter starts.
        noise: a noise source from :mod:`mpies.noise`.
        archive: as :class:`mpies.qd.map_elites.MAPElites`.
    """

    family = "qd_emitters"
    thresholds = True

    def __init__(self, config: CMAMEConfig, theta0: np.ndarray, noise, archive=None):
        self.config, self.noise = config, noise
        self.theta0, self.archive = checked_archive(config, theta0, noise, archive)
        self.learning_rate, self.threshold_min = float(config.learning_rate), float(config.threshold_min)
        separable = config.covariance == "separable"
        table = EmitterTable.initial(config.emitters, self.theta0, config.sigma, separable)
        self.emitters = [ESEmitter(e, table, config.batch, config.sigma, config.ranking, config.selection,
                                   config.restart, self.theta0, noise, separable) for e in range(config.emitters)]
        self.state = CMAMEState(generation=np.zeros((), dtype=np.int64), **self.archive.state,
                                threshold=np.full(self.archive.cells, self.threshold_min), emitters=table)


ALGORITHMS = (
    Algorithm("cma_me", CMAMEConfig, "CMA-ME: MAP-Elites fed by CMA-ES improvement emitters (Fontaine et al. 2020)",
              strategy=CMAME),
    Algorithm("cma_mae", CMAMAEConfig, "CMA-MAE: CMA-ME with annealed cell thresholds (Fontaine & Nikolaidis 2023)",
              strategy=CMAME),
)
