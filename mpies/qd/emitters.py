"""Emitters: what feeds a quality-diversity archive, one batch of members per generation.

pyribs' model (Tjanaka et al. 2023): an emitter proposes ``batch`` members each generation and
learns from how they fared against the archive. :class:`mpies.qd.map_elites.QDStrategy` asks
every emitter in turn, evaluates the concatenated batches as one population, inserts them all into
the archive at once, then tells each emitter its slice. Two kinds:

* :class:`VariationEmitter`: MAP-Elites' variation of uniformly chosen elites, ``gaussian`` or
  ``iso_line_dd`` (Vassiliades & Mouret 2018); it learns nothing.
* :class:`ESEmitter`: a CMA-ES distribution that climbs the archive's improvement, CMA-ME's
  improvement emitter (Fontaine et al. 2020, "Covariance matrix adaptation for the rapid
  illumination of behavior space", GECCO, arXiv:1912.02400) and CMA-MAE's (Fontaine & Nikolaidis
  2023, "Covariance matrix adaptation MAP-annealing", GECCO, arXiv:2205.10752). Its CMA-ES state
  is a row of the stacked :class:`EmitterTable`, so a checkpoint writes fixed-shape arrays.

Improvement is measured against per-cell *thresholds* (:func:`compare`,
:func:`raise_thresholds`): with ``learning_rate = 1`` and ``threshold_min = -inf`` a cell's
threshold is its elite's fitness (CMA-ME); with ``learning_rate = alpha < 1`` it anneals towards
the fitness of what enters the cell (CMA-MAE). Nothing here draws a random number of its own:
members come from noise keys and every choice from the generator the strategy passes, seeded by
(run seed, stream, generation), so every rank rebuilds every member. Pure numpy: no MPI, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..strategies.base import State
from ..strategies.cma_es import CMAParameters, update_distribution
from .archives import IMPROVED, NEW, NOT_ADDED

VARIATIONS = ("gaussian", "iso_line_dd")
RANKINGS = ("two_stage", "improvement")
"""``two_stage``: members that filled a new cell first, then those that improved one, then the
rest, each group by improvement (pyribs' ``2imp``, CMA-ME); ``improvement``: by improvement over
the cell's threshold alone (pyribs' ``imp``, CMA-MAE)."""
SELECTIONS = ("filter", "mu")
"""``filter``: the members that entered the archive are the parents; ``mu``: the best half."""
RESTARTS = ("no_improvement", "basic")
"""``no_improvement``: restart when no member entered the archive, or on a CMA-ES stop criterion;
``basic``: on a CMA-ES stop criterion only."""
FAILED = -1
"""Improvement status of a failed member (NaN fitness or descriptors): ranked after every other."""


# ---------------------------------------------------------------------- thresholds
@dataclass(frozen=True)
class Improvement:
    """How a batch compares with the archive before it is inserted (pyribs' ``add_info``).

    Attributes:
        status: int64 ``(n,)`` ``NEW`` (its cell had no threshold yet and it exceeds
            ``threshold_min``), ``IMPROVED`` (it exceeds its cell's threshold), ``NOT_ADDED``, or
            :data:`FAILED`.
        value: float64 ``(n,)`` fitness minus its cell's threshold (minus ``threshold_min`` for a
            new cell, or minus 0 when that is ``-inf``); ``-inf`` for failed members.
    """

    status: np.ndarray
    value: np.ndarray


def compare(fitness: np.ndarray, cells: np.ndarray, threshold: np.ndarray,
                threshold_min: float) -> Improvement:
    """Statuses and improvement values of a batch against the thresholds before it (every member
    against the same thresholds, as pyribs' batched ``add``).

    Args:
        fitness: float64 ``(n,)``; members with ``cells == -1`` are failed.
        cells: int64 ``(n,)`` each member's cell (:attr:`mpies.qd.archives.AddPlan.cells`).
        threshold: float64 ``(cells,)``; a cell whose threshold is still ``threshold_min`` has
            never been entered.
        threshold_min: the thresholds' initial value.
    """
    ok = cells >= 0
    status = np.full(fitness.shape, FAILED, dtype=np.int64)
    value = np.full(fitness.shape, -np.inf)
    t = threshold[cells[ok]]
    entered = t > threshold_min
    floor = 0.0 if threshold_min == -np.inf else threshold_min
    gain = fitness[ok] - np.where(entered, t, floor)
    status[ok] = np.where(fitness[ok] > t, np.where(entered, IMPROVED, NEW), NOT_ADDED)
    value[ok] = gain
    return Improvement(status, value)


def raise_thresholds(threshold: np.ndarray, fitness: np.ndarray, cells: np.ndarray,
                     status: np.ndarray, learning_rate: float, threshold_min: float) -> None:
    """Update the thresholds in place after a batch (CMA-MAE's batch rule).

    For a cell that ``k`` members of the batch exceeded (status ``NEW`` or ``IMPROVED``), with mean
    fitness ``f``: ``t <- (1 - alpha)^k t + (1 - (1 - alpha)^k) f``. With ``threshold_min = -inf``
    (CMA-ME) the threshold becomes the best of them instead, i.e. the elite's fitness.
    """
    entered = status > NOT_ADDED
    members = np.flatnonzero(entered)
    if not members.size:
        return
    touched, inverse = np.unique(cells[members], return_inverse=True)
    if threshold_min == -np.inf:
        best = np.full(touched.size, -np.inf)
        np.maximum.at(best, inverse, fitness[members])
        threshold[touched] = best
        return
    count = np.bincount(inverse, minlength=touched.size)
    total = np.zeros(touched.size)
    np.add.at(total, inverse, fitness[members])
    ratio = (1.0 - learning_rate) ** count
    threshold[touched] = ratio * threshold[touched] + (1.0 - ratio) * (total / count)


def rank(improvement: Improvement, ranking: str) -> np.ndarray:
    """Member indices best first by ``ranking`` (:data:`RANKINGS`); ties keep member order."""
    if ranking == "two_stage":
        return np.lexsort((-improvement.value, -improvement.status))
    return np.argsort(-improvement.value, kind="stable")


# ---------------------------------------------------------------------- variation emitter
@dataclass(frozen=True)
class VariationBatch:
    """Member ``i`` is

    ``base_i + sigma * eps(keys[i]) + line_sigma * line[i] * (params[partner_cell[i]] - base_i)``

    where ``base_i`` is ``params[parent_cell[i]]``, or ``theta0`` when ``parent_cell[i] = -1``
    (while the archive is empty, with ``sigma = init_sigma``); the line term is absent when
    ``partner_cell[i] = -1`` (gaussian variation).
    """

    keys: np.ndarray          # int64 (b,) mutation keys
    parent_cell: np.ndarray   # int64 (b,) cell of x_i, -1 = theta0
    partner_cell: np.ndarray  # int64 (b,) cell of x_j, -1 = no line term
    line: np.ndarray          # float64 (b,) the scalar N(0, 1) of the line term (0 when unused)
    sigma: float
    line_sigma: float

    @property
    def size(self) -> int:
        return int(self.keys.shape[0])


class VariationEmitter:
    """MAP-Elites' variation: parents (and line partners) uniform over the filled cells.

    Args:
        variation: ``gaussian`` or ``iso_line_dd``.
        batch: members per generation.
        sigma, line_sigma: the mutation's isotropic and line stds.
        init_sigma: std around ``theta0`` while the archive is empty.
        theta0: float64 ``(num_params,)``.
        noise: a noise source of :mod:`mpies.noise`.
    """

    def __init__(self, variation: str, batch: int, sigma: float, line_sigma: float, init_sigma: float,
                 theta0: np.ndarray, noise):
        if variation not in VARIATIONS:
            raise ValueError(f"variation: got {variation!r}; expected one of {VARIATIONS}")
        self.variation, self.batch, self.theta0, self.noise = variation, batch, theta0, noise
        self.sigma, self.line_sigma, self.init_sigma = float(sigma), float(line_sigma), float(init_sigma)

    def ask(self, archive, keys: np.ndarray, rng: np.random.Generator) -> VariationBatch:
        """This generation's batch (``keys`` int64 ``(batch,)``; ``rng`` draws parents and lines)."""
        n = keys.shape[0]
        filled = archive.filled_cells()
        none = np.full(n, -1, dtype=np.int64)
        if filled.size == 0:
            return VariationBatch(keys, none, none.copy(), np.zeros(n), self.init_sigma, 0.0)
        parent = filled[rng.integers(0, filled.size, n)]
        if self.variation == "iso_line_dd":
            partner = filled[rng.integers(0, filled.size, n)]
            return VariationBatch(keys, parent, partner, rng.standard_normal(n), self.sigma, self.line_sigma)
        return VariationBatch(keys, parent, none, np.zeros(n), self.sigma, 0.0)

    def member_params(self, archive, batch: VariationBatch, member: int) -> np.ndarray:
        """Member ``member`` of ``batch``, float64 ``(num_params,)`` (reads parents from ``archive``)."""
        params = archive.state["params"]
        p = int(batch.parent_cell[member])
        base = self.theta0 if p < 0 else params[p]
        x = base + np.float64(batch.sigma) * self.noise.vector(int(batch.keys[member])).astype(np.float64)
        q = int(batch.partner_cell[member])
        if q >= 0:
            x += np.float64(batch.line_sigma) * batch.line[member] * (params[q] - base)
        return x

    def tell(self, archive, batch: VariationBatch, improvement: Improvement, rng) -> bool:
        """Nothing to learn; never restarts."""
        return False


# ---------------------------------------------------------------------- ES emitter
@dataclass
class EmitterTable(State):
    """The CMA-ES state of every ES emitter, stacked (``E`` emitters, ``n`` parameters; the
    arrays of a separable table are diagonals, ``B`` then has 0 columns).

    Attributes:
        mean: float64 ``(E, n)`` each emitter's distribution mean.
        sigma: float64 ``(E,)`` each emitter's step size.
        C: float64 ``(E, n, n)`` covariance matrices (``(E, n)`` diagonals when separable).
        B: float64 ``(E, n, n)`` their eigenvectors (``(E, 0)`` when separable).
        D: float64 ``(E, n)`` square roots of their eigenvalues.
        p_sigma, p_c: float64 ``(E, n)`` the evolution paths.
        restart_generation: int64 ``(E,)`` generations since each emitter's last (re)start.
        eigen_generation: int64 ``(E,)`` restart_generation of the last eigendecomposition.
        restarts: int64 ``(E,)`` restarts of each emitter so far.
    """

    mean: np.ndarray
    sigma: np.ndarray
    C: np.ndarray
    B: np.ndarray
    D: np.ndarray
    p_sigma: np.ndarray
    p_c: np.ndarray
    restart_generation: np.ndarray
    eigen_generation: np.ndarray
    restarts: np.ndarray

    @classmethod
    def initial(cls, count: int, x0: np.ndarray, sigma: float, separable: bool) -> EmitterTable:
        """``count`` emitters at ``x0`` with step size ``sigma`` and ``C = I``."""
        n = x0.shape[0]
        zeros = np.zeros((count, n))
        counter = np.zeros(count, dtype=np.int64)
        return cls(mean=np.tile(np.asarray(x0, dtype=np.float64), (count, 1)), sigma=np.full(count, float(sigma)),
                   C=np.ones((count, n)) if separable else np.tile(np.eye(n), (count, 1, 1)),
                   B=np.ones((count, 0)) if separable else np.tile(np.eye(n), (count, 1, 1)),
                   D=np.ones((count, n)), p_sigma=zeros.copy(), p_c=zeros.copy(),
                   restart_generation=counter.copy(), eigen_generation=counter.copy(), restarts=counter.copy())

    def row(self, emitter: int) -> EmitterTable:
        """Emitter ``emitter``'s state as views (``mean`` ``(n,)``, ``sigma`` ``()``, ...)."""
        return self.view({name: value[emitter, ...] for name, value in self.arrays().items()})

    def restart(self, emitter: int, x0: np.ndarray, sigma: float) -> None:
        """Emitter ``emitter`` starts afresh at ``x0``: step size ``sigma``, ``C = I``, zero paths."""
        s = self.row(emitter)
        s.mean[...], s.sigma[...], s.D[...] = x0, sigma, 1.0
        if s.B.size:  # full covariance
            s.C[...] = s.B[...] = np.eye(s.mean.shape[0])
        else:
            s.C[...] = 1.0
        s.p_sigma[...] = s.p_c[...] = 0.0
        s.restart_generation[...] = s.eigen_generation[...] = 0
        s.restarts[...] = s.restarts + 1


@dataclass(frozen=True)
class ESBatch:
    """Member ``i`` is ``mean + sigma * B (D * eps(keys[i]))`` of emitter ``emitter`` as it was at
    ask time (its state changes only in its ``tell``)."""

    emitter: int
    keys: np.ndarray   # int64 (b,)
    sigma: float

    @property
    def size(self) -> int:
        return int(self.keys.shape[0])

    @property
    def parent_cell(self) -> np.ndarray:
        """-1 for every member: none is bred from a single elite."""
        return np.full(self.size, -1, dtype=np.int64)


class ESEmitter:
    """One improvement emitter over its row of an :class:`EmitterTable`.

    Args:
        emitter: its row in ``table``.
        table: the stacked CMA-ES states (shared by every ES emitter of the run).
        batch: members per generation.
        sigma0: step size of every (re)start.
        ranking, selection, restart: one of :data:`RANKINGS`, :data:`SELECTIONS`, :data:`RESTARTS`.
        theta0: float64 ``(n,)`` where a restart begins while the archive is empty.
        noise: a noise source of :mod:`mpies.noise`.
        separable: diagonal covariance (sep-CMA-ES, O(n) per member).
    """

    def __init__(self, emitter: int, table: EmitterTable, batch: int, sigma0: float, ranking: str,
                 selection: str, restart: str, theta0: np.ndarray, noise, separable: bool):
        self.emitter, self.table, self.batch, self.sigma0 = emitter, table, batch, float(sigma0)
        self.ranking, self.selection, self.restart_rule = ranking, selection, restart
        self.theta0, self.noise, self.separable = theta0, noise, separable
        self.n = theta0.shape[0]

    def ask(self, archive, keys: np.ndarray, rng) -> ESBatch:
        return ESBatch(self.emitter, keys, float(self.table.sigma[self.emitter]))

    def _z(self, batch: ESBatch, member: int) -> np.ndarray:
        return self.noise.vector(int(batch.keys[member])).astype(np.float64)

    def member_params(self, archive, batch: ESBatch, member: int) -> np.ndarray:
        t, e = self.table, self.emitter  # plain indexing: this runs once per member episode
        dz = t.D[e] * self._z(batch, member)
        return t.mean[e] + batch.sigma * (dz if self.separable else t.B[e] @ dz)

    def stalled(self, ranked_values: np.ndarray) -> bool:
        """pyribs' CMA-ES stop criteria: condition number above 1e14, ``sigma * max(D)`` below
        1e-11, or a batch whose best and worst ranking values are within 1e-12."""
        s = self.table.row(self.emitter)
        d = s.D
        if d.max() ** 2 > 1e14 * d.min() ** 2 or float(s.sigma) * d.max() < 1e-11:
            return True
        return ranked_values.shape[0] >= 2 and bool(np.linalg.norm(ranked_values[0] - ranked_values[-1]) < 1e-12)

    def tell(self, archive, batch: ESBatch, improvement: Improvement, rng: np.random.Generator) -> bool:
        """Rank, update the distribution, restart at a uniformly chosen elite (``theta0`` while the
        archive is empty) when a restart rule fires. Returns whether it restarted."""
        order = rank(improvement, self.ranking)
        added = int(np.sum(improvement.status > NOT_ADDED))
        parents = added if self.selection == "filter" else self.batch // 2
        if parents:
            p = CMAParameters.default(self.n, self.batch, self.separable, active=False, mu=parents)
            z = np.stack([self._z(batch, int(i)) for i in order])
            update_distribution(self.table.row(self.emitter), p, z, self.separable)
        values = (np.stack([improvement.status, improvement.value], axis=1) if self.ranking == "two_stage"
                  else improvement.value[:, None])[order]
        values = values[np.all(np.isfinite(values), axis=1)]  # failed members say nothing about a stall
        if not (self.stalled(values) or (self.restart_rule == "no_improvement" and added == 0)):
            return False
        filled = archive.filled_cells()
        x0 = self.theta0 if filled.size == 0 else archive.state["params"][filled[rng.integers(0, filled.size)]]
        self.table.restart(self.emitter, x0, self.sigma0)
        return True


__all__ = ["FAILED", "RANKINGS", "RESTARTS", "SELECTIONS", "VARIATIONS", "ESBatch", "ESEmitter", "EmitterTable",
           "Improvement", "VariationBatch", "VariationEmitter", "compare", "raise_thresholds", "rank"]
