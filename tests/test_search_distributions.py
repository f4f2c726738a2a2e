"""CEM, CMA-ES (full and separable) and the GA: checked against pycma and closed forms."""

import numpy as np
import pytest

from mpies.envs.functions import FUNCTIONS, evals_to_target
from mpies.noise import CounterNoise, NoiseTable
from mpies.strategies import CEM, CMAES, GA, CEMConfig, CMAESConfig, GAConfig
from mpies.strategies.cma_es import CMAParameters, default_population

cma = pytest.importorskip("cma")

TARGET = 1e-8
SEEDS = range(11)


def pycma_evals_to_target(f, x0, sigma, seed, budget, diagonal):
    options = {"seed": seed + 1, "verbose": -9, "maxfevals": budget, "tolfun": 0, "tolx": 0,
               "tolfunhist": 0, "CMA_diagonal": diagonal}
    es = cma.CMAEvolutionStrategy(list(x0), sigma, options)
    evals = 0
    while not es.stop():
        xs = es.ask()
        values = [f(np.asarray(x)) for x in xs]
        evals += len(xs)
        if min(values) <= TARGET:
            return evals
        es.tell(xs, values)
    return np.inf


@pytest.mark.parametrize("function, x0, sigma, separable", [
    ("sphere", 3.0, 2.0, False), ("ellipsoid", 3.0, 2.0, False), ("rosenbrock", 0.0, 0.5, False),
    ("sphere", 3.0, 2.0, True), ("ellipsoid", 3.0, 2.0, True)])
def test_cma_es_needs_as_many_evaluations_as_pycma(function, x0, sigma, separable):
    f, start, budget = FUNCTIONS[function], np.full(10, x0), 30_000
    ours = [evals_to_target(CMAES(CMAESConfig(sigma=sigma), start, CounterNoise(seed, 10), separable), f, budget)
            for seed in SEEDS]
    theirs = [pycma_evals_to_target(f, start, sigma, seed, budget, separable) for seed in SEEDS]
    ratio = np.median(ours) / np.median(theirs)
    assert 0.85 <= ratio <= 1.15, (ours, theirs)


def test_cma_parameters_follow_the_tutorial():
    p = CMAParameters.default(n=10, lam=default_population(10), separable=False, active=True)
    assert p.lam == 10 and p.mu == 5
    assert np.isclose(p.weights[:5].sum(), 1.0) and np.all(np.diff(p.weights) <= 0)
    assert p.weights[5:].sum() < 0  # active CMA
    # the negative weights are scaled so that C stays positive definite (eq. 52)
    assert -p.weights[5:].sum() <= (1 - p.c1 - p.cmu) / (10 * p.cmu) + 1e-12
    passive = CMAParameters.default(10, 10, separable=False, active=False)
    assert np.all(passive.weights[5:] == 0)


def test_cma_es_works_from_a_shared_noise_table_too():
    es = CMAES(CMAESConfig(sigma=2.0), np.full(10, 3.0), NoiseTable(0, 10, 100_000))
    assert evals_to_target(es, FUNCTIONS["sphere"], 5000) < 5000


def test_ipop_restarts_double_the_population_and_keep_state_shapes():
    config = CMAESConfig(sigma=2.0, restarts=2, tolfun=1e-3)
    es = CMAES(config, np.full(6, 3.0), CounterNoise(0, 6))
    shapes = {k: v.shape for k, v in es.state_dict().items()}
    sizes = []
    for _ in range(400):
        population = es.ask()
        es.tell(population, -np.array([FUNCTIONS["rastrigin"](es.member_params(population, i))
                                       for i in range(population.size)]))
        sizes.append(population.size)
    assert sorted(set(sizes)) == [9, 18, 36]
    assert {k: v.shape for k, v in es.state_dict().items()} == shapes


@pytest.mark.parametrize("seed", range(3))
def test_cem_reaches_the_target_on_the_sphere(seed):
    # with rho = 0.1 (10 elites in 10-D) the variance collapses before the target -- the premature
    # convergence that Szita & Lőrincz's extra noise is for; 20 elites suffice without it
    config = CEMConfig(population=100, elite_fraction=0.2, init_std=3.0, init_mean="policy", extra_noise="none")
    es = CEM(config, np.full(10, 2.0), CounterNoise(seed, 10))
    assert evals_to_target(es, FUNCTIONS["sphere"], 10_000) < 10_000


@pytest.mark.parametrize("schedule, floor", [("constant", 4.0), ("decreasing", None)])
def test_cem_extra_noise_keeps_a_variance_floor(schedule, floor):
    config = CEMConfig(population=50, elite_fraction=0.2, extra_noise=schedule, noise_constant=4.0,
                       noise_a=2.0, noise_b=5.0)
    es = CEM(config, np.zeros(5), CounterNoise(1, 5))
    for generation in range(30):
        population = es.ask()
        es.tell(population, -np.array([FUNCTIONS["sphere"](es.member_params(population, i)) for i in range(50)]))
        z = 4.0 if schedule == "constant" else max(2.0 - generation / 5.0, 0.0)
        assert np.all(es.state.std ** 2 >= z - 1e-12)
    if schedule == "constant":  # still exploring at std 2 around the optimum
        assert np.all(es.state.std >= 2.0)
    else:  # the noise has run out: the distribution collapses onto the optimum
        assert np.all(es.state.std < 0.5)


def test_ga_with_elitism_never_loses_its_best():
    config = GAConfig(population=20, truncation=4, sigma=0.3, elitism=True, reevaluate_elite=False)
    es = GA(config, np.full(5, 3.0), CounterNoise(2, 5))
    best = []
    for _ in range(40):
        population = es.ask()
        values = np.array([FUNCTIONS["sphere"](es.member_params(population, i)) for i in range(20)])
        es.tell(population, -values)
        best.append(es.state.parent_fitness[0])
    assert all(b >= a for a, b in zip(best, best[1:]))
    assert best[-1] > -0.5 * FUNCTIONS["sphere"](np.full(5, 3.0)) * 0.1
