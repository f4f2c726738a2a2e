"""Intelligent Trial & Error (Cully, Clune, Tarapore & Mouret 2015, "Robots that can adapt like
animals", Nature 521:503-507): adapt to damage in a few trials with a behaviour-performance map.

A MAP-Elites archive made before the damage predicts how well each elite performs. After the
damage, M-BOA (map-based Bayesian optimisation, the paper's reference implementation in limbo)
picks which elite to try on the damaged robot, one trial at a time:

* a Gaussian process over the descriptors, normalised to ``[0, 1]^dims`` by the archive bounds,
  with a Matérn 5/2 kernel ``k(r) = s2 (1 + sqrt(5) r / l + 5 r^2 / (3 l^2)) exp(-sqrt(5) r / l)``
  (length scale ``l``, signal variance ``s2``) and observation noise ``noise`` on the diagonal;
* its prior mean is the archive: ``P(x)`` = the fitness the elite of cell ``x`` had before the
  damage, so the GP models the difference between real and expected performance. With tested
  cells ``X``, measured values ``y`` and ``K = k(X, X) + noise I``::

      mu(x)      = P(x) + k(x)^T K^-1 (y - P(X))
      sigma^2(x) = k(x, x) - k(x)^T K^-1 k(x)

* the next trial is the filled cell maximising the UCB ``mu(x) + kappa sigma(x)`` (exhaustively,
  first maximum on ties); before any trial ``sigma`` is the same everywhere, so the first trial is
  the best elite of the archive;
* after each trial the search stops when the best measured value reaches ``alpha`` times the
  highest posterior mean over the archive (``"threshold"``), or after ``max_trials`` trials
  (``"max_trials"``). A tested cell may be tried again (as in limbo).

The stop rule assumes a positive performance measure, as the paper's walking speed: when the
highest posterior mean is negative, ``alpha`` times it lies above it and the rule practically never
fires (the search runs ``max_trials`` trials). Pure numpy: no MPI, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

THRESHOLD = "threshold"
"""Stop reason: the best measured value reached ``alpha`` times the highest posterior mean."""
MAX_TRIALS = "max_trials"
"""Stop reason: ``max_trials`` trials were spent."""

__all__ = ["MAX_TRIALS", "THRESHOLD", "AdaptationResult", "GaussianProcess", "ITEConfig",
           "TrialRecord", "adapt", "matern52", "normalize", "posterior"]


@dataclass(frozen=True)
class ITEConfig:
    """Parameters of M-BOA; the defaults are those of the paper's experiments (Cully et al. 2015,
    Methods; limbo's ``ite`` example).

    Attributes:
        kappa: UCB exploration weight: the next trial maximises ``mu + kappa * sigma`` (0.05).
        length_scale: Matérn 5/2 length scale ``l``, in normalised descriptor units (0.4).
        alpha: stop once the best measured value is ``>= alpha * max_x mu(x)`` (0.9).
        max_trials: stop after this many trials at the latest (20).
        noise: observation noise variance added to the kernel's diagonal (1e-3).
        signal_variance: the kernel's variance ``s2 = k(x, x)``, in squared fitness units (1.0).
        failed_value: what a trial that measured a non-finite value (a failed episode) tells the
            GP; None: the lowest fitness in the archive. A failed trial never becomes the best.
    """

    kappa: float = 0.05
    length_scale: float = 0.4
    alpha: float = 0.9
    max_trials: int = 20
    noise: float = 1e-3
    signal_variance: float = 1.0
    failed_value: float | None = None

    def __post_init__(self):
        checks = {"kappa": self.kappa >= 0, "length_scale": self.length_scale > 0,
                  "alpha": self.alpha > 0, "max_trials": self.max_trials >= 1,
                  "noise": self.noise >= 0, "signal_variance": self.signal_variance > 0}
        for name, ok in checks.items():
            value = getattr(self, name)
            if not ok or not math.isfinite(value):
                raise ValueError(f"ITEConfig.{name}: got {value!r}; out of range")
        if self.failed_value is not None and not math.isfinite(self.failed_value):
            raise ValueError(f"ITEConfig.failed_value: got {self.failed_value!r}; must be finite")


@dataclass(frozen=True)
class TrialRecord:
    """One trial on the damaged system.

    Attributes:
        trial: 0 for the first trial.
        cell: the row of the archive arrays passed to :func:`adapt` that was tried.
        descriptor: float ``(dims,)`` that cell's (undamaged) descriptor, as stored.
        measured: the value the trial returned (NaN/inf: a failed trial).
        predicted_mean: ``mu`` at the cell before the trial.
        predicted_std: ``sigma`` at the cell before the trial.
        acquisition: ``mu + kappa * sigma`` at the cell before the trial (the maximum over cells).
        max_mean: the highest posterior mean over the archive after the trial.
        best_measured: the best finite value measured so far (NaN while none).
        stop_reason: ``""`` when the search goes on, else :data:`THRESHOLD` or :data:`MAX_TRIALS`.
    """

    trial: int
    cell: int
    descriptor: np.ndarray
    measured: float
    predicted_mean: float
    predicted_std: float
    acquisition: float
    max_mean: float
    best_measured: float
    stop_reason: str = ""


@dataclass
class AdaptationResult:
    """What :func:`adapt` found.

    Attributes:
        records: one :class:`TrialRecord` per trial, in order.
        stop_reason: :data:`THRESHOLD` or :data:`MAX_TRIALS`.
        best_cell: row of the best measured trial (first among ties); -1 if every trial failed.
        best_measured: its measured value (NaN if every trial failed).
        best_params: float ``(d,)`` its parameters (None if every trial failed).
        posterior_mean: float ``(n,)`` ``mu`` over the archive after the last trial.
        posterior_std: float ``(n,)`` ``sigma`` over the archive after the last trial.
    """

    records: list[TrialRecord]
    stop_reason: str
    best_cell: int
    best_measured: float
    best_params: np.ndarray | None
    posterior_mean: np.ndarray = field(repr=False)
    posterior_std: np.ndarray = field(repr=False)

    @property
    def trials(self) -> int:
        return len(self.records)


# --------------------------------------------------------------------------- the GP

def normalize(descriptors, lower, upper) -> np.ndarray:
    """Map descriptors into ``[0, 1]^dims`` by the bounds (values outside are clipped):
    float ``(n, dims)`` -> float ``(n, dims)``."""
    descriptors = np.asarray(descriptors, dtype=np.float64)
    lower = np.asarray(lower, dtype=np.float64)
    upper = np.asarray(upper, dtype=np.float64)
    return np.clip((descriptors - lower) / (upper - lower), 0.0, 1.0)


def matern52(a, b, length_scale: float, variance: float = 1.0) -> np.ndarray:
    """Matérn 5/2 kernel matrix between the rows of ``a (n, k)`` and ``b (m, k)``: ``(n, m)``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    diff = a[:, None, :] - b[None, :, :]
    r = np.sqrt(np.einsum("nmk,nmk->nm", diff, diff)) / length_scale
    s5r = math.sqrt(5.0) * r
    return variance * (1.0 + s5r + s5r * s5r / 3.0) * np.exp(-s5r)


class GaussianProcess:
    """Exact GP regression with zero prior mean (:func:`posterior` adds the archive's prior).

    Args:
        length_scale: Matérn 5/2 length scale.
        noise: observation noise variance (added to the training kernel's diagonal).
        signal_variance: ``k(x, x)``.
    """

    def __init__(self, length_scale: float, noise: float, signal_variance: float = 1.0):
        self.length_scale, self.noise, self.signal_variance = length_scale, noise, signal_variance
        self.x = None

    def fit(self, x, y) -> "GaussianProcess":
        """Condition on observations ``y (t,)`` at ``x (t, k)`` (t may be 0)."""
        self.x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if self.x.shape[0]:
            gram = matern52(self.x, self.x, self.length_scale, self.signal_variance)
            self.chol = np.linalg.cholesky(gram + self.noise * np.eye(self.x.shape[0]))
            # alpha = K^-1 y through the two triangular factors (tiny systems: a general solve)
            self.alpha = np.linalg.solve(self.chol.T, np.linalg.solve(self.chol, y))
        return self

    def predict(self, x) -> tuple[np.ndarray, np.ndarray]:
        """Posterior ``(mean (n,), variance (n,))`` at ``x (n, k)``; the variance excludes the
        observation noise and is clipped at 0."""
        x = np.asarray(x, dtype=np.float64)
        n = x.shape[0]
        if self.x is None or self.x.shape[0] == 0:
            return np.zeros(n), np.full(n, self.signal_variance)
        cross = matern52(self.x, x, self.length_scale, self.signal_variance)  # (t, n)
        mean = cross.T @ self.alpha
        v = np.linalg.solve(self.chol, cross)
        variance = self.signal_variance - np.einsum("tn,tn->n", v, v)
        return mean, np.maximum(variance, 0.0)


def posterior(points, prior, tested, measured, config: ITEConfig) -> tuple[np.ndarray, np.ndarray]:
    """M-BOA's posterior over the archive.

    Args:
        points: float ``(n, k)`` normalised descriptors of the filled cells.
        prior: float ``(n,)`` their archive fitness (the prior mean ``P``).
        tested: int ``(t,)`` rows tried so far (repeats allowed).
        measured: float ``(t,)`` what those trials measured (finite).
        config: kernel and noise parameters.

    Returns:
        ``(mu (n,), sigma (n,))``: posterior mean and standard deviation at every cell.
    """
    points = np.asarray(points, dtype=np.float64)
    prior = np.asarray(prior, dtype=np.float64)
    tested = np.asarray(tested, dtype=np.int64)
    gp = GaussianProcess(config.length_scale, config.noise, config.signal_variance)
    gp.fit(points[tested], np.asarray(measured, dtype=np.float64) - prior[tested])
    residual, variance = gp.predict(points)
    return prior + residual, np.sqrt(variance)


# --------------------------------------------------------------------------- M-BOA

def adapt(archive_params, archive_descriptors, archive_fitness, lower, upper,
          trial: Callable[[int], float], config: ITEConfig | None = None,
          on_trial: Callable[[TrialRecord], None] | None = None) -> AdaptationResult:
    """Run M-BOA over the filled cells of an archive.

    Args:
        archive_params: float ``(n, d)`` parameters of the ``n`` filled cells' elites.
        archive_descriptors: float ``(n, k)`` their descriptors.
        archive_fitness: float ``(n,)`` their (undamaged) fitness, all finite: the prior.
        lower: float ``(k,)`` lower bounds of the descriptor space.
        upper: float ``(k,)`` upper bounds (each above its lower bound).
        trial: ``row -> measured value`` of that elite on the damaged system (maximised).
        config: :class:`ITEConfig` (None: the defaults).
        on_trial: called with each :class:`TrialRecord` right after its trial.

    Returns:
        An :class:`AdaptationResult`.
    """
    config = config or ITEConfig()
    params = np.asarray(archive_params, dtype=np.float64)
    descriptors = np.asarray(archive_descriptors, dtype=np.float64)
    prior = np.asarray(archive_fitness, dtype=np.float64)
    n = prior.shape[0]
    if n == 0 or prior.ndim != 1:
        raise ValueError(f"archive_fitness has shape {prior.shape}; need at least one filled cell")
    if descriptors.ndim != 2 or descriptors.shape[0] != n or params.ndim != 2 or params.shape[0] != n:
        raise ValueError(f"archive_params {params.shape} and archive_descriptors {descriptors.shape} "
                         f"need {n} rows")
    if not np.all(np.isfinite(prior)):
        raise ValueError("archive_fitness must be finite (pass the filled cells only)")
    lower = np.broadcast_to(np.asarray(lower, dtype=np.float64), (descriptors.shape[1],))
    upper = np.broadcast_to(np.asarray(upper, dtype=np.float64), (descriptors.shape[1],))
    if not np.all(lower < upper):
        raise ValueError(f"bounds must have lower < upper; got {lower}, {upper}")
    points = normalize(descriptors, lower, upper)
    failed_value = float(prior.min()) if config.failed_value is None else config.failed_value

    tested: list[int] = []
    observed: list[float] = []   # what the GP sees (failed trials replaced by failed_value)
    records: list[TrialRecord] = []
    mu, sigma = posterior(points, prior, tested, observed, config)
    best_cell, best = -1, -math.inf
    stop = ""
    while not stop:
        acquisition = mu + config.kappa * sigma
        cell = int(np.argmax(acquisition))
        value = float(trial(cell))
        finite = math.isfinite(value)
        tested.append(cell)
        observed.append(value if finite else failed_value)
        if finite and value > best:
            best_cell, best = cell, value
        before_mu, before_sigma = float(mu[cell]), float(sigma[cell])
        mu, sigma = posterior(points, prior, tested, observed, config)
        max_mean = float(mu.max())
        if best_cell >= 0 and best >= config.alpha * max_mean:
            stop = THRESHOLD
        elif len(tested) >= config.max_trials:
            stop = MAX_TRIALS
        record = TrialRecord(len(records), cell, descriptors[cell].copy(), value, before_mu,
                             before_sigma, float(acquisition[cell]), max_mean,
                             best if best_cell >= 0 else math.nan, stop)
        records.append(record)
        if on_trial is not None:
            on_trial(record)
    return AdaptationResult(records, stop, best_cell, best if best_cell >= 0 else math.nan,
                            params[best_cell].copy() if best_cell >= 0 else None, mu, sigma)
