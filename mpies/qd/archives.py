"""Quality-diversity archives: one elite per cell of a descriptor space, as a struct of arrays.

Inspired by pyribs' ``ArrayStore`` (Tjanaka et al. 2023): every field of every cell lives in one
fixed-shape numpy array in ``archive.state``, with an ``occupied`` mask, so a checkpoint writes
the arrays in place and every rank can hold a bitwise-identical copy.

``state`` (``cells`` = number of cells, ``dims`` = descriptor dimensions, ``num_params`` =
parameters per solution):

* ``occupied``    bool    ``(cells,)``            whether the cell holds an elite
* ``fitness``     float64 ``(cells,)``            the elite's fitness (maximised), ``-inf`` when empty
* ``descriptors`` float64 ``(cells, dims)``       the elite's descriptors (as measured, not clipped)
* ``params``      float64 ``(cells, num_params)`` the elite's parameters
* ``parent_cell`` int64   ``(cells,)``            cell of the parent it was bred from (-1 = initial)
* ``key``         int64   ``(cells,)``            the perturbation key that made it

Empty cells hold ``fitness = -inf``, ``parent_cell = -1``, ``key = -1`` and zeros elsewhere.

:meth:`ArchiveBase.add` inserts a batch in member order: a member enters its cell when the cell is
empty (``NEW``) or when its fitness is strictly higher than the elite's (``IMPROVED``), otherwise
it is ``NOT_ADDED``. Members with a NaN (or otherwise non-finite) fitness or non-finite
descriptors are failed members and never enter. Everything is deterministic: no draw depends on
the machine, the BLAS or the thread count (the CVT's k-means uses elementwise arithmetic only).
Pure numpy: no MPI, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from .. import seeding

NOT_ADDED = 0
"""Status of a member that did not enter the archive (worse or equal elite, or failed)."""
IMPROVED = 1
"""Status of a member that replaced a worse elite."""
NEW = 2
"""Status of a member that filled an empty cell."""


class AddPlan(NamedTuple):
    """Where a batch goes, computed from fitness and descriptors alone (see :meth:`ArchiveBase.plan`).

    Attributes:
        cells: int64 ``(n,)`` the cell of each member, -1 for a failed member.
        status: int8 ``(n,)`` ``NOT_ADDED`` / ``IMPROVED`` / ``NEW`` per member, in member order.
        stored: bool ``(n,)`` members that are the cell's elite once the whole batch is in (at
            most one per cell: the last member of the batch that entered it).
    """

    cells: np.ndarray
    status: np.ndarray
    stored: np.ndarray


class ArchiveBase:
    """Struct-of-arrays archive over ``cells`` cells; subclasses define :meth:`index_of`.

    Args:
        dims: number of descriptor dimensions.
        cells: number of cells.
        lower: float ``(dims,)`` (or a scalar) lower bounds of the descriptor space.
        upper: float ``(dims,)`` (or a scalar) upper bounds, each strictly above ``lower``.
        num_params: parameters of one solution.
    """

    kind = "base"

    def __init__(self, dims: int, cells: int, lower, upper, num_params: int):
        if dims < 1 or cells < 1 or num_params < 1:
            raise ValueError(f"dims, cells and num_params must be >= 1; got {dims}, {cells}, {num_params}")
        self.dims, self.cells, self.num_params = int(dims), int(cells), int(num_params)
        self.lower = np.broadcast_to(np.asarray(lower, dtype=np.float64), (self.dims,)).copy()
        self.upper = np.broadcast_to(np.asarray(upper, dtype=np.float64), (self.dims,)).copy()
        if not (np.all(np.isfinite(self.lower)) and np.all(np.isfinite(self.upper))
                and np.all(self.lower < self.upper)):
            raise ValueError(f"bounds must be finite with lower < upper; got {self.lower}, {self.upper}")
        self.state: dict[str, np.ndarray] = {
            "occupied": np.zeros(self.cells, dtype=bool),
            "fitness": np.full(self.cells, -np.inf, dtype=np.float64),
            "descriptors": np.zeros((self.cells, self.dims), dtype=np.float64),
            "params": np.zeros((self.cells, self.num_params), dtype=np.float64),
            "parent_cell": np.full(self.cells, -1, dtype=np.int64),
            "key": np.full(self.cells, -1, dtype=np.int64),
        }

    # ------------------------------------------------------------------ geometry
    def index_of(self, descriptors: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """Cell of each descriptor row: float ``(n, dims)`` -> int64 ``(n,)`` (-1 for NaN rows)."""
        raise NotImplementedError

    GEOMETRY_DOCS = {
        "centroids": ("the CVT cells' centroids in descriptor space, float64 (cells, dims)", "descriptor"),
        "bins": ("bins per descriptor dimension", "bins"),
    }
    """Docs of the geometry values stored as datasets (those of more than 64 entries)."""

    def geometry(self) -> dict:  # pragma: no cover - abstract
        """What defines the cells, as HDF5-attribute-ready values (``kind``, bounds, ...)."""
        raise NotImplementedError

    def _check_descriptors(self, descriptors) -> np.ndarray:
        descriptors = np.asarray(descriptors, dtype=np.float64)
        if descriptors.ndim != 2 or descriptors.shape[1] != self.dims:
            raise ValueError(f"descriptors have shape {descriptors.shape}, expected (n, {self.dims})")
        return descriptors

    # ------------------------------------------------------------------ queries
    def filled_cells(self) -> np.ndarray:
        """Indices of the occupied cells in ascending order, int64 ``(filled,)``."""
        return np.flatnonzero(self.state["occupied"]).astype(np.int64)

    def best_cell(self) -> int:
        """Cell of the best elite (lowest index among ties), or -1 when the archive is empty."""
        if not self.state["occupied"].any():
            return -1
        return int(np.argmax(self.state["fitness"]))  # empty cells hold -inf

    def metrics(self, offset: float) -> dict[str, float]:
        """Summary of the archive.

        Args:
            offset: subtracted from every elite's fitness in the QD score, which is
                ``sum over filled cells of (fitness - offset)``. Pick a lower bound of the fitness
                (e.g. the lowest possible fitness of the task) so that every term is >= 0 and
                filling a cell never lowers the score; keep it fixed to compare runs.

        Returns:
            ``filled`` (int, occupied cells), ``coverage`` (filled / cells), ``qd_score``,
            ``best`` and ``mean`` fitness over the filled cells (NaN when the archive is empty).
        """
        occupied = self.state["occupied"]
        fitness = self.state["fitness"][occupied]
        filled = int(occupied.sum())
        return {
            "filled": filled,
            "coverage": filled / self.cells,
            "qd_score": float(np.sum(fitness - np.float64(offset))) if filled else 0.0,
            "best": float(fitness.max()) if filled else float("nan"),
            "mean": float(fitness.mean()) if filled else float("nan"),
        }

    # ------------------------------------------------------------------ insertion
    def plan(self, fitness: np.ndarray, descriptors: np.ndarray) -> AddPlan:
        """Statuses of a batch without inserting it (what :meth:`add` would do).

        Args:
            fitness: float ``(n,)`` (maximised; NaN or non-finite = failed member).
            descriptors: float ``(n, dims)``.

        Returns:
            An :class:`AddPlan`.
        """
        descriptors = self._check_descriptors(descriptors)
        fitness = np.asarray(fitness, dtype=np.float64)
        n = descriptors.shape[0]
        if fitness.shape != (n,):
            raise ValueError(f"fitness has shape {fitness.shape}, expected ({n},)")
        ok = np.isfinite(fitness) & np.all(np.isfinite(descriptors), axis=1)
        cells = np.full(n, -1, dtype=np.int64)
        if ok.any():
            cells[ok] = self.index_of(descriptors[ok])
        status = np.zeros(n, dtype=np.int8)
        best = {}  # cell -> (fitness, member) of the running elite within this batch
        occupied, current = self.state["occupied"], self.state["fitness"]
        for i in np.flatnonzero(ok):  # member order decides between members of one cell
            c, f = int(cells[i]), float(fitness[i])
            if c in best:
                if f > best[c][0]:
                    status[i], best[c] = IMPROVED, (f, i)
            elif not occupied[c]:
                status[i], best[c] = NEW, (f, i)
            elif f > current[c]:
                status[i], best[c] = IMPROVED, (f, i)
        stored = np.zeros(n, dtype=bool)
        stored[[i for _, i in best.values()]] = True
        return AddPlan(cells, status, stored)

    def add(self, params: np.ndarray | Callable[[int], np.ndarray], fitness: np.ndarray,
            descriptors: np.ndarray, parent_cell: np.ndarray, key: np.ndarray,
            plan: AddPlan | None = None) -> np.ndarray:
        """Insert a batch of ``n`` members in member order.

        Args:
            params: float ``(n, num_params)``, or a function ``member -> (num_params,)`` called
                only for members that end up stored (all calls happen before any cell changes,
                so it may read parents from this archive).
            fitness: float ``(n,)``, maximised; NaN (or +-inf) = failed member, never inserted.
            descriptors: float ``(n, dims)``; rows with NaN/inf are treated as failed.
            parent_cell: int ``(n,)`` cell each member was bred from (-1 = initial).
            key: int ``(n,)`` the perturbation key of each member.
            plan: :meth:`plan` of this batch against the current archive, when the caller has it.

        Returns:
            int8 ``(n,)``: ``NEW`` (2) when the member filled an empty cell, ``IMPROVED`` (1) when
            it beat the elite (strictly), else ``NOT_ADDED`` (0). Members are processed in order,
            so of two members landing in one empty cell the first is ``NEW`` and the second
            ``IMPROVED`` if strictly better.
        """
        plan = self.plan(fitness, descriptors) if plan is None else plan
        n = plan.cells.shape[0]
        parent_cell = np.asarray(parent_cell, dtype=np.int64)
        key = np.asarray(key, dtype=np.int64)
        if parent_cell.shape != (n,) or key.shape != (n,):
            raise ValueError(f"parent_cell {parent_cell.shape} and key {key.shape} must be ({n},)")
        if not callable(params):
            array = np.asarray(params, dtype=np.float64)
            if array.shape != (n, self.num_params):
                raise ValueError(f"params have shape {array.shape}, expected ({n}, {self.num_params})")
            params = array.__getitem__
        rows = np.flatnonzero(plan.stored)
        values = [np.asarray(params(int(i)), dtype=np.float64) for i in rows]  # before any write
        fitness = np.asarray(fitness, dtype=np.float64)
        descriptors = np.asarray(descriptors, dtype=np.float64)
        s = self.state
        for i, value in zip(rows, values):
            if value.shape != (self.num_params,):
                raise ValueError(f"params of member {i} have shape {value.shape}, "
                                 f"expected ({self.num_params},)")
            c = plan.cells[i]
            s["occupied"][c] = True
            s["fitness"][c] = fitness[i]
            s["descriptors"][c] = descriptors[i]
            s["params"][c] = value
            s["parent_cell"][c] = parent_cell[i]
            s["key"][c] = key[i]
        return plan.status

    def clear(self) -> None:
        """Empty every cell (in place)."""
        s = self.state
        s["occupied"][...] = False
        s["fitness"][...] = -np.inf
        s["descriptors"][...] = 0.0
        s["params"][...] = 0.0
        s["parent_cell"][...] = -1
        s["key"][...] = -1

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the state arrays (fixed shapes, see the module docstring)."""
        return {k: np.array(v) for k, v in self.state.items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy ``state`` into the arrays in place; shapes must match this archive's."""
        for k, current in self.state.items():
            value = np.asarray(state[k])
            if value.shape != current.shape:
                raise ValueError(f"archive state {k!r} has shape {value.shape}, expected {current.shape}")
            current[...] = value.astype(current.dtype, copy=False)


class GridArchive(ArchiveBase):
    """Regular grid: ``bins[k]`` equal bins along descriptor dimension ``k``.

    Bin ``b`` of dimension ``k`` covers ``[lower + b w, lower + (b + 1) w)`` with
    ``w = (upper - lower) / bins``; the upper bound belongs to the last bin and descriptors outside
    the bounds are clipped into them (they land in the border cells). Cells are numbered in
    row-major (C) order of the bin indices, ``cells = prod(bins)``.

    Args:
        dims: number of descriptor dimensions.
        bins: ``dims`` positive ints, bins per dimension.
        lower: float ``(dims,)`` or scalar.
        upper: float ``(dims,)`` or scalar.
        num_params: parameters of one solution.
    """

    kind = "grid"

    def __init__(self, dims: int, bins: Sequence[int], lower, upper, num_params: int):
        bins = np.array(bins, dtype=np.int64).reshape(-1)
        if bins.shape != (dims,) or np.any(bins < 1):
            raise ValueError(f"bins must be {dims} positive ints; got {bins.tolist()}")
        self.bins = bins
        super().__init__(dims, int(np.prod(bins)), lower, upper, num_params)

    def grid_index(self, descriptors: np.ndarray) -> np.ndarray:
        """Bin of each descriptor along each dimension: float ``(n, dims)`` -> int64 ``(n, dims)``.

        Rows containing NaN get -1 everywhere.
        """
        descriptors = self._check_descriptors(descriptors)
        nan = np.isnan(descriptors).any(axis=1)
        x = np.clip(np.where(nan[:, None], self.lower, descriptors), self.lower, self.upper)
        index = np.floor((x - self.lower) / (self.upper - self.lower) * self.bins).astype(np.int64)
        index = np.minimum(np.maximum(index, 0), self.bins - 1)
        index[nan] = -1
        return index

    def index_of(self, descriptors: np.ndarray) -> np.ndarray:
        """Cell of each descriptor row, float ``(n, dims)`` -> int64 ``(n,)``; -1 for NaN rows."""
        index = self.grid_index(descriptors)
        nan = index[:, 0] < 0
        cells = np.ravel_multi_index(tuple(np.maximum(index, 0).T), tuple(self.bins)).astype(np.int64)
        cells[nan] = -1
        return cells

    def geometry(self) -> dict:
        """``kind = "grid"``, ``bins`` int64 ``(dims,)``, ``lower``/``upper`` float64 ``(dims,)``."""
        return {"kind": self.kind, "bins": self.bins.copy(), "lower": self.lower.copy(),
                "upper": self.upper.copy()}


def nearest_centroid(points: np.ndarray, centroids: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """Index of the nearest centroid (first among ties) of each point: ``(n, d), (k, d) -> (n,)``.

    Squared distances are summed dimension by dimension with elementwise operations only (no
    BLAS), so the result is the same bit for bit on every machine.
    """
    n, k = points.shape[0], centroids.shape[0]
    out = np.empty(n, dtype=np.int64)
    rows = max(1, chunk // k)
    for start in range(0, n, rows):
        block = points[start:start + rows]
        distance = np.zeros((block.shape[0], k), dtype=np.float64)
        diff = np.empty_like(distance)
        for j in range(points.shape[1]):
            np.subtract(block[:, j, None], centroids[None, :, j], out=diff)
            np.multiply(diff, diff, out=diff)
            distance += diff
        out[start:start + rows] = np.argmin(distance, axis=1)
    return out


def cvt_centroids(cells: int, lower: np.ndarray, upper: np.ndarray, seed: int, samples: int,
                  iterations: int) -> np.ndarray:
    """Centroids of a centroidal Voronoi tessellation by Lloyd's k-means, float64 ``(cells, dims)``.

    ``samples`` points are drawn uniformly in the bounds from the run's ``CVT_SAMPLES`` stream
    (:mod:`mpies.seeding`, seeded with ``seed``);
    the first ``cells`` of them are the initial centroids; each of ``iterations`` Lloyd steps
    moves every centroid to the mean of its points (a centroid without points stays put).
    Deterministic for a given seed on any machine.
    """
    if samples < cells:
        raise ValueError(f"samples ({samples}) must be >= cells ({cells})")
    rng = seeding.generator(seed, seeding.CVT_SAMPLES)
    points = lower + rng.random((samples, lower.shape[0])) * (upper - lower)
    centroids = points[:cells].copy()
    for _ in range(iterations):
        label = nearest_centroid(points, centroids)
        count = np.bincount(label, minlength=cells)
        has = count > 0
        for j in range(lower.shape[0]):
            total = np.bincount(label, weights=points[:, j], minlength=cells)
            centroids[has, j] = total[has] / count[has]
    return centroids


class CVTArchive(ArchiveBase):
    """Centroidal Voronoi tessellation (Vassiliades et al. 2018): a descriptor's cell is the
    nearest centroid (Euclidean; first centroid among ties). Descriptors outside the bounds are
    not clipped: they belong to the nearest centroid anyway.

    Args:
        dims: number of descriptor dimensions.
        cells: number of centroids.
        lower: float ``(dims,)`` or scalar.
        upper: float ``(dims,)`` or scalar.
        num_params: parameters of one solution.
        seed: seeds the uniform samples of the k-means (the centroids depend on it alone, with
            ``samples`` and ``iterations``).
        samples: uniform samples clustered by k-means (>= cells). The k-means costs about
            ``samples * cells * dims * iterations`` elementwise operations (1000 cells, 2 dims,
            the defaults: about a second).
        iterations: Lloyd iterations (fixed: no convergence test, for determinism).
        centroids: float ``(cells, dims)`` to use instead of computing them (e.g. read back from
            a run file's :meth:`geometry`).
    """

    kind = "cvt"

    def __init__(self, dims: int, cells: int, lower, upper, num_params: int, seed: int,
                 samples: int = 10_000, iterations: int = 20, centroids: np.ndarray | None = None):
        super().__init__(dims, cells, lower, upper, num_params)
        self.seed, self.samples, self.iterations = int(seed), int(samples), int(iterations)
        if centroids is None:
            centroids = cvt_centroids(self.cells, self.lower, self.upper, self.seed, self.samples,
                                      self.iterations)
        self.centroids = np.array(centroids, dtype=np.float64)
        if self.centroids.shape != (self.cells, self.dims):
            raise ValueError(f"centroids have shape {self.centroids.shape}, "
                             f"expected ({self.cells}, {self.dims})")

    def index_of(self, descriptors: np.ndarray) -> np.ndarray:
        """Nearest centroid of each descriptor row, float ``(n, dims)`` -> int64 ``(n,)``; -1 for NaN rows."""
        descriptors = self._check_descriptors(descriptors)
        nan = np.isnan(descriptors).any(axis=1)
        cells = nearest_centroid(np.where(nan[:, None], 0.0, descriptors), self.centroids)
        cells[nan] = -1
        return cells

    def geometry(self) -> dict:
        """``kind = "cvt"``, ``centroids`` float64 ``(cells, dims)``, ``lower``/``upper``, and
        ``seed``/``samples``/``iterations`` that rebuild them. (Attributes above 64 KiB need
        HDF5's dense attribute storage; store large ``centroids`` as a dataset instead.)"""
        return {"kind": self.kind, "centroids": self.centroids.copy(), "lower": self.lower.copy(),
                "upper": self.upper.copy(), "seed": self.seed, "samples": self.samples,
                "iterations": self.iterations}


def make_archive(config, num_params: int, seed: int) -> ArchiveBase:
    """The archive a MAP-Elites config describes.

    Args:
        config: with ``archive`` (``"grid"`` or ``"cvt"``), ``lower`` and ``upper`` (one entry per
            descriptor dimension), ``bins`` (grid) or ``cells`` (cvt); optional ``cvt_samples``
            and ``cvt_iterations`` (default ``max(10_000, 4 * cells)`` samples, 20 iterations).
        num_params: parameters of one solution.
        seed: the run seed (CVT centroids derive from it).
    """
    lower = np.asarray(config.lower, dtype=np.float64)
    upper = np.asarray(config.upper, dtype=np.float64)
    if lower.ndim != 1 or upper.shape != lower.shape:
        raise ValueError(f"lower and upper need one entry per descriptor dimension; "
                         f"got {config.lower}, {config.upper}")
    if config.archive == "grid":
        return GridArchive(lower.shape[0], config.bins, lower, upper, num_params)
    if config.archive == "cvt":
        return CVTArchive(lower.shape[0], config.cells, lower, upper, num_params, seed,
                          samples=getattr(config, "cvt_samples", max(10_000, 4 * config.cells)),
                          iterations=getattr(config, "cvt_iterations", 20))
    raise ValueError(f"archive: got {config.archive!r}; expected grid or cvt")
