"""OpenAI-ES, fitness shaping and optimizers: pure numpy, checked against closed forms."""

import numpy as np
import pytest

from mpies import registry
from mpies.noise import CounterNoise, NoiseTable
from mpies.optim import SGD, Adam
from mpies.shaping import centered_ranks, normalized, raw
from mpies.strategies import OpenAIES, OpenAIESConfig


def quadratic(dim, seed=0):
    """F(x) = -(x - c)^T A (x - c) / 2 with A SPD; returns F and its gradient."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((dim, dim))
    a = q @ q.T / dim + np.eye(dim)
    c = rng.standard_normal(dim)
    return (lambda x: -0.5 * (x - c) @ a @ (x - c)), (lambda x: -a @ (x - c))


@pytest.mark.parametrize("mirrored", [True, False])
def test_gradient_estimate_matches_analytic_gradient_on_a_quadratic(mirrored):
    dim, n = 10, 20000
    f, grad = quadratic(dim)
    theta = np.full(dim, 0.5)
    config = OpenAIESConfig(population=n, sigma=0.05, mirrored=mirrored, shaping="none")
    es = OpenAIES(config, theta, CounterNoise(seed=1, dim=dim))
    population = es.ask()
    fitness = np.array([f(es.member_params(population, i)) for i in range(n)])
    if not mirrored:  # a baseline keeps the unmirrored estimator's variance in check
        fitness -= f(theta)
    estimate, truth = es.gradient(population, fitness), grad(theta)
    # The estimator's std per coordinate is about ||g|| / sqrt(#pairs) (mirrored: exact on a
    # quadratic up to sampling of eps); allow 4 standard errors in norm.
    pairs = n // 2 if mirrored else n
    tolerance = 4 * np.linalg.norm(truth) * np.sqrt((dim + 1) / pairs)
    assert np.linalg.norm(estimate - truth) < tolerance
    cosine = estimate @ truth / np.linalg.norm(estimate) / np.linalg.norm(truth)
    assert cosine > 0.95


def test_failed_members_get_no_weight():
    dim = 5
    es = OpenAIES(OpenAIESConfig(population=8, sigma=0.1, shaping="none"), np.zeros(dim),
                  CounterNoise(seed=0, dim=dim))
    population = es.ask()
    fitness = np.arange(8, dtype=float)
    with_nan = fitness.copy()
    with_nan[3] = np.nan  # kills pair 1 (members 2, 3)
    g = es.gradient(population, with_nan)
    eps = [es.noise.vector(int(k)) for k in population.keys]
    expected = sum((fitness[2 * j] - fitness[2 * j + 1]) * eps[j] for j in (0, 2, 3)) / (6 * 0.1)
    np.testing.assert_allclose(g, expected, rtol=1e-12)
    assert not np.any(es.gradient(population, np.full(8, np.nan)))


def test_es_climbs_a_sphere_with_adam_and_sgd():
    for optimizer in ("adam", "sgd"):
        dim = 20
        config = OpenAIESConfig(population=40, sigma=0.1, learning_rate=0.05, optimizer=optimizer,
                                weight_decay=0.0)
        es = OpenAIES(config, np.full(dim, 3.0), NoiseTable(seed=0, dim=dim, size=10_000))
        start = np.linalg.norm(es.mean)
        for _ in range(200):
            population = es.ask()
            fitness = [-np.sum(es.member_params(population, i) ** 2) for i in range(population.size)]
            es.tell(population, np.array(fitness))
        assert np.linalg.norm(es.mean) < 0.2 * start, optimizer


def test_weight_decay_and_sigma_schedule():
    config = OpenAIESConfig(population=4, sigma=1.0, sigma_decay=0.5, sigma_min=0.3,
                            weight_decay=0.1, optimizer="sgd", momentum=0.0, learning_rate=1.0)
    es = OpenAIES(config, np.ones(3), CounterNoise(seed=0, dim=3))
    population = es.ask()
    es.tell(population, np.zeros(4))  # no signal: only weight decay moves theta
    np.testing.assert_allclose(es.mean, 0.9 * np.ones(3))
    for _ in range(3):
        es.tell(es.ask(), np.zeros(4))
    assert es.sigma == 0.3


def test_ask_tell_order_is_enforced():
    es = OpenAIES(OpenAIESConfig(population=4), np.zeros(3), CounterNoise(seed=0, dim=3))
    population = es.ask()
    with pytest.raises(RuntimeError, match="ask"):
        es.ask()
    with pytest.raises(ValueError, match="expected"):
        es.tell(population, np.zeros(5))


def test_state_roundtrip_continues_identically():
    def make():
        return OpenAIES(OpenAIESConfig(population=6), np.zeros(4), CounterNoise(seed=2, dim=4))
    a, b = make(), make()
    for _ in range(3):
        p = a.ask()
        a.tell(p, np.arange(6.0) * p.generation)
    b.load_state_dict(a.state_dict())
    for es in (a, b):
        p = es.ask()
        es.tell(p, np.sin(np.arange(6.0)))
    assert a.mean.tobytes() == b.mean.tobytes()
    assert a.state_dict()["optimizer/t"] == 4


def test_shapings():
    f = np.array([3.0, np.nan, 1.0, 2.0, 2.0])
    np.testing.assert_allclose(centered_ranks(f), [0.5, 0.0, -0.5, 0.0, 0.0])
    np.testing.assert_allclose(centered_ranks(np.array([5.0, 1.0, 3.0])), [0.5, -0.5, 0.0])
    assert not np.any(centered_ranks(np.full(6, 500.0)))  # a solved task: no spurious signal
    z = normalized(f)
    assert z[1] == 0 and abs(z[[0, 2, 3, 4]].mean()) < 1e-12 and abs(z[[0, 2, 3, 4]].std() - 1) < 1e-12
    np.testing.assert_array_equal(raw(f), [3, 0, 1, 2, 2])


def test_adam_first_step_is_learning_rate_times_sign():
    adam = Adam()
    state = adam.init(3)
    step = adam.step(state, np.array([2.0, -0.5, 0.0]), learning_rate=0.1)
    np.testing.assert_allclose(step, [0.1, -0.1, 0.0], atol=1e-6)
    assert int(state.t) == 1 and state.t.shape == () and np.any(state.m) and np.any(state.v)
    sgd = SGD(momentum=0.0)
    np.testing.assert_allclose(sgd.step(sgd.init(2), np.array([1.0, -2.0]), learning_rate=0.5), [0.5, -1.0])


def test_optimizer_state_is_updated_in_place_and_the_learning_rate_comes_from_the_state():
    config = OpenAIESConfig(population=4, weight_decay=0.0)
    es = OpenAIES(config, np.zeros(3), CounterNoise(seed=0, dim=3))
    m, theta = es.state.optimizer.m, es.state.theta
    es.state.learning_rate[...] = 0.0  # a zero step size: the moments move, theta does not
    population = es.ask()
    es.tell(population, np.arange(4.0))
    assert es.state.optimizer.m is m and es.state.theta is theta and np.any(m)
    np.testing.assert_array_equal(es.mean, np.zeros(3))
    assert float(es.state.learning_rate) == 0.0  # OpenAI-ES itself never changes it


def test_registry_names_every_strategy():
    assert registry.get("openai_es").strategy is OpenAIES
    assert registry.get("openai_es").config is OpenAIESConfig
