"""CMA-ES: N. Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772 (2016),
with active (negative) weights (Jastrebski & Arnold 2006), and its separable variant
sep-CMA-ES (Ros & Hansen 2008). Equation numbers refer to the tutorial.

Member ``i`` is ``x_i = m + sigma * B (D * z_i)`` (eq. 38-40) with ``z_i = eps(key_i)`` rebuilt from
its key on every rank. Fitness is maximised: members are ranked best first. The update is
identical on every rank because it is a function of (state, gathered fitness) only.

Optional restarts when the run stalls (flat fitness history, tiny step or ill-conditioned
covariance), always from the initial mean ``x0`` (as pycma's ``fmin2`` with a fixed ``x0``):

* IPOP (Auger & Hansen 2005): the population is multiplied by ``ipop_factor`` at each restart.
* BIPOP (N. Hansen, "Benchmarking a BI-population CMA-ES on the BBOB-2009 function testbed",
  GECCO 2009 workshop): two interlaced regimes. A large-population run has
  ``lambda_large = lambda_default * ipop_factor^i`` (its ``i``-th run, the first run being the
  0-th) and ``sigma0``; a small-population run has
  ``lambda_s = floor(lambda_default * (lambda_last / lambda_default)^(U_1^2))`` and
  ``sigma_s = sigma0 * 10^(-2 U_2)``, ``U_1, U_2`` uniform in [0, 1], where ``lambda_last`` is the
  population of the last large run (the paper's ``lambda_large / 2`` with ``lambda_large`` the
  next large population, for ``ipop_factor = 2``). A restart is small while the evaluations spent
  in small runs are fewer than those spent in large runs, the first run counting as large.

``restarts`` caps the restarts of both regimes together. Pure numpy: no MPI, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from .. import seeding
from ..config import StrategyConfig, option
from ..registry import Algorithm
from .base import State, Strategy, best_first
from .openai_es import Population


@dataclass
class CMAESConfig(StrategyConfig):
    """CMA-ES (Hansen's tutorial defaults, as pycma), full or separable covariance."""

    population: int = option(0, "members per generation (0 = 4 + floor(3 ln n))", min=0)
    sigma: float = option(0.5, "initial step size", gt=0.0)
    active: bool = option(True, "negative weights for the worst members (active CMA)")
    restarts: int = option(0, "restarts allowed when the run stalls (both regimes of bipop together)", min=0)
    restart_regime: str = option("ipop", "ipop: population x ipop_factor at each restart; bipop: large "
                                 "runs like ipop interlaced with small runs of random population and sigma "
                                 "(Hansen 2009)", choices=("ipop", "bipop"))
    ipop_factor: float = option(2.0, "population multiplier at each (large-population) restart", gt=1.0)
    tolfun: float = option(1e-12, "stall: range of recent best fitness below this", min=0.0)
    tolx: float = option(1e-11, "stall: step-size and axes below tolx * sigma0", min=0.0)


@dataclass(frozen=True)
class CMAParameters:
    """Strategy parameters for dimension ``n`` and population ``lam`` (tutorial Table 1)."""

    lam: int
    mu: int
    weights: np.ndarray  # (lam,) positive for the mu best, negative (active) for the rest
    mueff: float
    cc: float
    cs: float
    c1: float
    cmu: float
    damps: float
    chi_n: float
    eigen_gap: float  # generations between lazy eigendecompositions

    @classmethod
    def default(cls, n: int, lam: int, separable: bool, active: bool, mu: int | None = None) -> "CMAParameters":
        """The tutorial's parameters; ``mu`` (1 to ``lam``) positive weights instead of ``lam // 2``
        (``ln(mu + 1/2) - ln i``, as pyribs' emitters select a varying number of parents)."""
        top = (lam + 1) / 2 if mu is None else mu + 0.5
        mu = lam // 2 if mu is None else mu
        raw = np.log(top) - np.log(np.arange(1, lam + 1))  # eq. 49
        positive, negative = raw[:mu], raw[mu:]
        mueff = positive.sum() ** 2 / (positive ** 2).sum()
        cc = (4 + mueff / n) / (n + 4 + 2 * mueff / n)  # eq. 56
        cs = (mueff + 2) / (n + mueff + 5)  # eq. 55
        c1 = 2 / ((n + 1.3) ** 2 + mueff)  # eq. 57
        cmu = min(1 - c1, 2 * (mueff - 2 + 1 / mueff) / ((n + 2) ** 2 + mueff))  # eq. 58
        if separable:  # Ros & Hansen 2008: a diagonal model learns (n + 2) / 3 times faster
            c1 = min(1.0, c1 * (n + 2) / 3)
            cmu = min(1 - c1, cmu * (n + 2) / 3)
        weights = np.zeros(lam)
        weights[:mu] = positive / positive.sum()
        negative = np.minimum(negative, 0.0)
        if active and negative.sum() < 0:
            mueff_neg = negative.sum() ** 2 / (negative ** 2).sum()
            alpha_mu = 1 + c1 / cmu  # eq. 50
            alpha_mueff = 1 + 2 * mueff_neg / (mueff + 2)  # eq. 51
            alpha_posdef = (1 - c1 - cmu) / (n * cmu)  # eq. 52
            weights[mu:] = negative * min(alpha_mu, alpha_mueff, alpha_posdef) / -negative.sum()
        damps = 1 + 2 * max(0.0, np.sqrt((mueff - 1) / (n + 1)) - 1) + cs  # eq. 55
        chi_n = np.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n))
        # the tutorial's gap of lam / (c1 + cmu) / n / 10 evaluations, in generations (as pycma)
        eigen_gap = 1 / (c1 + cmu) / n / 10
        return cls(lam, mu, weights, mueff, cc, cs, c1, cmu, damps, chi_n, eigen_gap)


def default_population(n: int) -> int:
    """``4 + floor(3 ln n)`` (eq. 48)."""
    return 4 + int(3 * np.log(n))


def bipop_small_regime(small_evaluations: int, large_evaluations: int) -> bool:
    """BIPOP: whether the next restart is a small-population run (fewer evaluations spent so far in
    small runs than in large runs, the first run counting as large)."""
    return small_evaluations < large_evaluations


def bipop_small_run(lambda_default: int, lambda_last: int, sigma0: float, u_lambda: float,
                    u_sigma: float) -> tuple[int, float]:
    """BIPOP's small-population run: ``(lambda_s, sigma_s)`` from two uniform draws in [0, 1].

    ``lambda_s = floor(lambda_default * (lambda_last / lambda_default)^(u_lambda^2))`` with
    ``lambda_last`` the population of the last large run, and ``sigma_s = sigma0 * 10^(-2 u_sigma)``.
    """
    lam = int(np.floor(lambda_default * (lambda_last / lambda_default) ** (u_lambda ** 2)))
    return lam, sigma0 * 10.0 ** (-2.0 * u_sigma)


def history_length(n: int, lam: int) -> int:
    """Generations of best fitness the flat-fitness stop criterion looks at (``10 + 30 n / lam``)."""
    return 10 + int(np.ceil(30 * n / lam))


@dataclass
class CMAESState(State):
    """What changes each generation (``n`` parameters; ``B`` is empty when separable).

    Attributes:
        mean: float64 ``(n,)`` the distribution mean ``m``.
        x0: float64 ``(n,)`` the initial mean (where IPOP restarts begin).
        sigma: float64 ``()`` the step size.
        C: float64 ``(n, n)`` the covariance matrix, or ``(n,)`` its diagonal when separable.
        B: float64 ``(n, n)`` eigenvectors of ``C`` (full), ``(0,)`` when separable.
        D: float64 ``(n,)`` square roots of the eigenvalues of ``C`` (of ``diag(C)`` when separable).
        p_sigma, p_c: float64 ``(n,)`` the evolution paths (eq. 43, 45).
        generation: int64 ``()`` generations over all restarts (so keys never repeat).
        restart_generation: int64 ``()`` generations since the last (re)start.
        eigen_generation: int64 ``()`` ``restart_generation`` of the last eigendecomposition.
        population: int64 ``()`` the current lambda (multiplied at each IPOP restart).
        restarts: int64 ``()`` restarts so far (both regimes).
        large_restarts: int64 ``()`` restarts with a large population so far (every IPOP restart).
        small_run: int64 ``()`` 1 while the current run is a BIPOP small-population run, else 0.
        large_evaluations: int64 ``()`` evaluations spent in large-population runs, the first run
            included (every evaluation under IPOP).
        small_evaluations: int64 ``()`` evaluations spent in BIPOP's small-population runs.
        best_history: float64 ``(10 + 30 n,)`` best fitness of recent generations, newest last
            (long enough for any population; NaN until filled).
    """

    mean: np.ndarray
    x0: np.ndarray
    sigma: np.ndarray
    C: np.ndarray
    B: np.ndarray
    D: np.ndarray
    p_sigma: np.ndarray
    p_c: np.ndarray
    generation: np.ndarray
    restart_generation: np.ndarray
    eigen_generation: np.ndarray
    population: np.ndarray
    restarts: np.ndarray
    large_restarts: np.ndarray
    small_run: np.ndarray
    large_evaluations: np.ndarray
    small_evaluations: np.ndarray
    best_history: np.ndarray

    @classmethod
    def initial(cls, x0: np.ndarray, sigma: float, lam: int, separable: bool) -> CMAESState:
        """A (re)start at ``x0`` with step size ``sigma``, population ``lam``, ``C = I``."""
        n = x0.shape[0]
        counter = np.zeros((), dtype=np.int64)
        return cls(mean=np.array(x0, dtype=np.float64), x0=np.array(x0, dtype=np.float64),
                   sigma=np.asarray(sigma, dtype=np.float64),
                   C=np.ones(n) if separable else np.eye(n), B=np.ones(0) if separable else np.eye(n),
                   D=np.ones(n), p_sigma=np.zeros(n), p_c=np.zeros(n), generation=counter.copy(),
                   restart_generation=counter.copy(), eigen_generation=counter.copy(),
                   population=np.asarray(lam, dtype=np.int64), restarts=counter.copy(),
                   large_restarts=counter.copy(), small_run=counter.copy(),
                   large_evaluations=counter.copy(), small_evaluations=counter.copy(), best_history=np.full(history_length(n, 1), np.nan))


def update_distribution(s, p: CMAParameters, z: np.ndarray, separable: bool) -> None:
    """One CMA-ES generation (tutorial eq. 41-47) applied in place to ``s``.

    Args:
        s: a state with the arrays ``mean`` ``(n,)``, ``sigma`` ``()``, ``C`` (``(n, n)``, or
            ``(n,)`` when separable), ``B``, ``D`` ``(n,)``, ``p_sigma``, ``p_c`` ``(n,)`` and the
            int64 counters ``restart_generation``, ``eigen_generation`` (a :class:`CMAESState`, or
            one emitter's row of :class:`mpies.qd.emitters.EmitterTable`).
        p: the strategy parameters, with one weight per row of ``z``.
        z: float64 ``(lam, n)`` the members' standard-normal samples ``z_i``, ranked best first
            (member ``x_i = m + sigma * B (D * z_i)``).
        separable: ``C`` is diagonal.
    """
    n = s.mean.shape[0]
    y = z * s.D if separable else (z * s.D) @ s.B.T  # rows y_i = B D z_i
    w_pos = p.weights[:p.mu]
    y_w = w_pos @ y[:p.mu]  # eq. 41
    s.mean[...] = s.mean + s.sigma * y_w  # eq. 42 with c_m = 1
    z_w = w_pos @ z[:p.mu]  # C^{-1/2} y_w = B z_w
    c_inv_sqrt_y_w = z_w if separable else s.B @ z_w
    s.p_sigma[...] = (1 - p.cs) * s.p_sigma + np.sqrt(p.cs * (2 - p.cs) * p.mueff) * c_inv_sqrt_y_w  # eq. 43
    g = int(s.restart_generation) + 1
    norm_ps = np.linalg.norm(s.p_sigma)
    h_sigma = norm_ps / np.sqrt(1 - (1 - p.cs) ** (2 * g)) / p.chi_n < 1.4 + 2 / (n + 1)
    s.p_c[...] = (1 - p.cc) * s.p_c + h_sigma * np.sqrt(p.cc * (2 - p.cc) * p.mueff) * y_w  # eq. 45

    # active weights rescaled by n / ||C^{-1/2} y_i||^2 = n / ||z_i||^2 (eq. 46)
    w = p.weights.copy()
    negative = w < 0
    w[negative] *= n / np.maximum((z[negative] ** 2).sum(axis=1), 1e-300)
    delta_h = (1 - h_sigma) * p.cc * (2 - p.cc)
    decay = 1 + p.c1 * delta_h - p.c1 - p.cmu * p.weights.sum()  # eq. 47
    if separable:
        s.C[...] = np.maximum(decay * s.C + p.c1 * s.p_c ** 2 + p.cmu * (w @ (y * y)), 1e-300)
        s.D[...] = np.sqrt(s.C)
    else:
        s.C[...] = decay * s.C + p.c1 * np.outer(s.p_c, s.p_c) + p.cmu * (y.T * w) @ y
    s.sigma[...] = s.sigma * np.exp((p.cs / p.damps) * (norm_ps / p.chi_n - 1))  # eq. 44

    s.restart_generation[...] = g
    if not separable and g - int(s.eigen_generation) > p.eigen_gap:
        decompose(s)


def decompose(s) -> None:
    """Lazy eigendecomposition ``C = B D^2 B^T`` of a full covariance (tutorial section B.2), in place."""
    s.C[...] = np.triu(s.C) + np.triu(s.C, 1).T  # enforce symmetry
    eigenvalues, s.B[...] = np.linalg.eigh(s.C)
    s.D[...] = np.sqrt(np.maximum(eigenvalues, 1e-300))
    s.eigen_generation[...] = s.restart_generation


class CMAES(Strategy):
    """Ask/tell CMA-ES with a full (or, ``separable=True``, diagonal) covariance matrix.

    Args:
        config: a :class:`CMAESConfig`.
        theta0: float64 ``(n,)`` initial mean.
        noise: a noise source from :mod:`mpies.noise` with ``noise.dim == n``.
        separable: diagonal covariance (sep-CMA-ES): O(n) memory and time per sample.
    """

    def __init__(self, config: CMAESConfig, theta0: np.ndarray, noise, separable: bool = False):
        self.config, self.noise, self.separable = config, noise, separable
        self.n = theta0.shape[0]
        self.default_population = config.population or default_population(self.n)
        self.state = CMAESState.initial(theta0, config.sigma, self.default_population, separable)
        self._params: CMAParameters | None = None

    @property
    def params(self) -> CMAParameters:
        """Strategy parameters of the current population (recomputed after a restart or a load)."""
        lam = self.population_size
        if self._params is None or self._params.lam != lam:
            self._params = CMAParameters.default(self.n, lam, self.separable, self.config.active)
        return self._params

    # -------------------------------------------------------------- state
    @property
    def mean(self) -> np.ndarray:
        return self.state.mean

    @property
    def sigma(self) -> float:
        return float(self.state.sigma)

    @property
    def population_size(self) -> int:
        return int(self.state.population)

    # -------------------------------------------------------------- sampling
    def _ask(self) -> Population:
        lam = self.population_size
        return Population(self.generation, self.noise.keys(self.generation, lam), lam, False, self.sigma)

    def _z(self, population: Population, member: int) -> np.ndarray:
        return self.noise.vector(int(population.keys[member])).astype(np.float64)

    def _y(self, z: np.ndarray) -> np.ndarray:
        """``B D z``: a sample of N(0, C)."""
        s = self.state
        return s.D * z if self.separable else s.B @ (s.D * z)

    def member_params(self, population: Population, member: int) -> np.ndarray:
        return self.mean + population.sigma * self._y(self._z(population, member))

    # -------------------------------------------------------------- update
    def _tell(self, population: Population, fitness: np.ndarray, descriptors=None) -> dict[str, float]:
        s = self.state
        ranked = best_first(fitness)
        z = np.stack([self._z(population, int(i)) for i in ranked])  # (lam, n)
        old_mean = s.mean.copy()
        update_distribution(s, self.params, z, self.separable)
        s.best_history[...] = np.roll(s.best_history, -1)
        s.best_history[-1] = fitness[ranked[0]]
        spent = s.small_evaluations if int(s.small_run) else s.large_evaluations
        spent[...] = spent + population.size
        restarted = self._maybe_restart()
        return {"sigma": population.sigma, "update_norm": float(np.linalg.norm(s.mean - old_mean)),
                "restarted": restarted}

    # -------------------------------------------------------------- restarts
    def stalled(self) -> bool:
        """Stop criteria of the tutorial's Appendix B.3 that trigger an IPOP restart."""
        s, c = self.state, self.config
        history = s.best_history[-history_length(self.n, self.population_size):]
        if not np.isnan(history).any() and np.ptp(history) < c.tolfun:
            return True
        spread = s.sigma * (np.sqrt(s.C) if self.separable else np.sqrt(np.diag(s.C)))
        if np.all(spread < c.tolx * c.sigma) and np.all(s.sigma * np.abs(s.p_c) < c.tolx * c.sigma):
            return True
        return bool(s.D.max() ** 2 > 1e14 * s.D.min() ** 2)

    def _maybe_restart(self) -> bool:
        """A fresh start at ``x0`` when the run stalls: the population and step size of the
        regime's next run (module docstring); budgets and counters carry over."""
        s, c = self.state, self.config
        if int(s.restarts) >= c.restarts or not self.stalled():
            return False
        restart = int(s.restarts) + 1
        small = c.restart_regime == "bipop" and bipop_small_regime(int(s.small_evaluations),
                                                                   int(s.large_evaluations))
        large_restarts = int(s.large_restarts) + (not small)
        sigma = c.sigma
        if c.restart_regime == "ipop":
            lam = int(round(self.population_size * c.ipop_factor))
        elif not small:
            lam = int(round(self.default_population * c.ipop_factor ** large_restarts))
        else:
            # pycma (fmin2, bipop=True) differs in two ways, and this follows the paper: it counts
            # the first run as small (so its first restart is large), and it caps a small run at
            # half the large runs' evaluations so far, which the paper's regimes do not.
            u_lambda, u_sigma = seeding.generator(self.noise.seed, seeding.CMA_RESTART, restart).random(2)
            lambda_last = int(round(self.default_population * c.ipop_factor ** large_restarts))
            lam, sigma = bipop_small_run(self.default_population, lambda_last, c.sigma, u_lambda, u_sigma)
        fresh = CMAESState.initial(s.x0, sigma, lam, self.separable)
        fresh.generation[...] = s.generation
        fresh.restarts[...] = restart
        fresh.large_restarts[...] = large_restarts
        fresh.small_run[...] = small
        fresh.large_evaluations[...] = s.large_evaluations
        fresh.small_evaluations[...] = s.small_evaluations
        s.load_dict(fresh.to_dict())
        return True


ALGORITHMS = (
    Algorithm("cma_es", CMAESConfig, "CMA-ES, full covariance, active weights, optional IPOP/BIPOP restarts",
              strategy=CMAES),
    Algorithm("sep_cma_es", CMAESConfig, "separable CMA-ES: diagonal covariance, O(n) per sample",
              strategy=partial(CMAES, separable=True)),
)
