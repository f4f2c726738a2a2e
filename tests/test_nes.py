"""xNES and SNES: the papers' utilities, rates and updates written out, det(B) = 1, exact resume,
a 100,000-parameter SNES in O(n) memory, one-line config errors, and evaluations to 1e-8 against
pypop7's XNES and SNES (stored by scripts/reference_nes.py: x0 in every coordinate, sigma = 1,
population 4 + floor(3 ln n), 11 seeds; mpies recomputed live on a private NoiseTable as there)."""

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from mpies import config as config_mod, registry
from mpies.config import ConfigError
from mpies.envs.functions import FUNCTIONS, evals_to_target
from mpies.noise import CounterNoise, NoiseTable
from mpies.strategies.nes import (SNES, XNES, SNESConfig, XNESConfig, expm_symmetric, nes_utilities,
                                  snes_rate, xnes_rate)

REFERENCE = Path(__file__).parent / "data/references/nes.json"


def fitness_of(es, population, function="sphere"):
    return -np.array([FUNCTIONS[function](es.member_params(population, i)) for i in range(population.size)])


def paper_utilities(lam):
    """Utilities by rank (best first), as written in both papers."""
    raw = np.maximum(0.0, np.log(lam / 2 + 1) - np.log(np.arange(1, lam + 1)))
    return raw / raw.sum() - 1 / lam


def test_utilities_follow_the_papers_by_rank():
    fitness = np.array([3.0, -1.0, 7.0, 0.5, 2.0, -4.0, 1.0, 6.0])
    u = nes_utilities(fitness)
    order = np.argsort(-fitness)
    np.testing.assert_allclose(u[order], paper_utilities(8), rtol=1e-14)
    assert abs(u.sum()) < 1e-15 and u[2] > u[7] > u[0] > 0
    assert np.all(u[order[4:]] == -1 / 8)  # the worse half shares the baseline


def test_failed_members_never_get_a_positive_share_and_all_failed_changes_nothing():
    fitness = np.array([np.nan, 1.0, np.nan, 2.0, np.nan, np.nan, np.nan, 0.0])  # 5 of 8 failed
    u = nes_utilities(fitness)
    raw = np.maximum(0.0, np.log(5) - np.log([1, 2, 3]))
    np.testing.assert_allclose(u[[3, 1, 7]], raw / raw.sum() - 1 / 8, rtol=1e-14)
    np.testing.assert_array_equal(u[np.isnan(fitness)], -1 / 8)
    assert abs(u.sum()) < 1e-15
    np.testing.assert_array_equal(nes_utilities(np.full(6, np.nan)), np.zeros(6))


def test_tied_members_share_their_utility():
    u = nes_utilities(np.array([5.0, 9.0, 5.0, 1.0, 5.0, 0.0]))
    by_rank = paper_utilities(6)
    assert u[1] == pytest.approx(by_rank[0])
    np.testing.assert_allclose(u[[0, 2, 4]], by_rank[1:4].mean(), rtol=1e-14)
    np.testing.assert_array_equal(nes_utilities(np.full(7, 500.0)), np.zeros(7))


def test_defaults_follow_the_papers_and_overrides_replace_them():
    es = XNES(XNESConfig(), np.zeros(10), CounterNoise(0, 10))
    rate = 0.6 * (3 + np.log(10)) / (10 * np.sqrt(10))
    assert (es.population_size, es.eta_mu, es.eta_sigma, es.eta_B) == (10, 1.0, rate, rate)
    assert xnes_rate(10) == rate
    s = SNES(SNESConfig(), np.zeros(100), CounterNoise(0, 100))
    assert (s.population_size, s.eta_mu, s.eta_sigma) == (17, 1.0, (3 + np.log(100)) / 50)
    assert snes_rate(100) == (3 + np.log(100)) / 50
    es = XNES(XNESConfig(population=6, eta_mu=0.5, eta_sigma=0.1, eta_B=0.2), np.zeros(10), CounterNoise(0, 10))
    assert (es.population_size, es.eta_mu, es.eta_sigma, es.eta_B) == (6, 0.5, 0.1, 0.2)
    assert {"xnes", "snes"} <= set(registry.algorithms())


def test_expm_of_a_symmetric_matrix_equals_its_power_series():
    a = np.random.default_rng(0).standard_normal((5, 5))
    a = (a + a.T) / 4
    series, term = np.eye(5), np.eye(5)
    for k in range(1, 40):
        term = term @ a / k
        series += term
    np.testing.assert_allclose(expm_symmetric(a), series, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(expm_symmetric(a) @ expm_symmetric(-a), np.eye(5), atol=1e-13)


def xnes_after(es, population, fitness):
    """Glasmachers et al. (2010), Algorithm 1, one member at a time."""
    n = es.n
    z = [es.noise.vector(int(k)).astype(np.float64) for k in population.keys]
    u = nes_utilities(fitness)
    g_delta = sum(u_k * z_k for u_k, z_k in zip(u, z))
    g_m = sum(u_k * (np.outer(z_k, z_k) - np.eye(n)) for u_k, z_k in zip(u, z))
    g_sigma = np.trace(g_m) / n
    g_b = g_m - g_sigma * np.eye(n)
    s = es.state
    return (s.mean + es.eta_mu * s.sigma * s.B @ g_delta, s.sigma * np.exp(es.eta_sigma / 2 * g_sigma),
            s.B @ expm_symmetric(es.eta_B / 2 * g_b))


def test_xnes_tell_is_the_papers_update_and_members_are_mu_plus_sigma_b_z():
    n = 6
    es = XNES(XNESConfig(sigma=0.8), np.full(n, 1.5), CounterNoise(3, n))
    for generation in range(4):
        population = es.ask()
        z = es.noise.vector(int(population.keys[2])).astype(np.float64)
        np.testing.assert_allclose(es.member_params(population, 2), es.mean + es.sigma * es.state.B @ z, rtol=1e-13)
        fitness = fitness_of(es, population, "ellipsoid")
        if generation == 3:
            fitness[[0, 4]] = np.nan
        mean, sigma, b = xnes_after(es, population, fitness)
        info = es.tell(population, fitness)
        np.testing.assert_allclose(es.mean, mean, rtol=1e-12)
        assert es.sigma == pytest.approx(sigma, rel=1e-12) and info["sigma"] == population.sigma
        np.testing.assert_allclose(es.state.B, b, rtol=1e-10, atol=1e-13)
    assert not np.allclose(es.state.B, np.eye(n))


def test_xnes_keeps_det_b_at_one_while_b_adapts():
    n = 8
    es = XNES(XNESConfig(sigma=1.0), np.full(n, 3.0), NoiseTable(1, n, 2 ** 16))
    for _ in range(400):
        population = es.ask()
        es.tell(population, fitness_of(es, population, "ellipsoid"))
    singular = np.linalg.svd(es.state.B, compute_uv=False)
    assert singular.max() / singular.min() > 100  # the ellipsoid's scales are learnt: B is far from I
    assert abs(np.linalg.det(es.state.B) - 1.0) < 1e-10


def test_snes_tell_is_the_papers_update():
    n = 7
    es = SNES(SNESConfig(sigma=0.6), np.full(n, 2.0), CounterNoise(4, n))
    for generation in range(3):
        population = es.ask()
        fitness = fitness_of(es, population, "ellipsoid")
        if generation == 2:
            fitness[1] = np.nan
        z = np.stack([es.noise.vector(int(k)).astype(np.float64) for k in population.keys])
        u = nes_utilities(fitness)
        np.testing.assert_allclose(es.member_params(population, 5), es.mean + es.state.sigma * z[5], rtol=1e-14)
        mean = es.mean + es.eta_mu * es.state.sigma * (u @ z)
        sigma = es.state.sigma * np.exp(es.eta_sigma / 2 * (u @ (z ** 2 - 1)))
        rms_before = np.sqrt(np.mean(es.state.sigma ** 2))
        info = es.tell(population, fitness)
        np.testing.assert_allclose(es.mean, mean, rtol=1e-13)
        np.testing.assert_allclose(es.state.sigma, sigma, rtol=1e-13)
        assert info["sigma"] == pytest.approx(rms_before, rel=1e-14)  # the generation's rms step size
    assert np.ptp(es.state.sigma) > 0  # per-coordinate step sizes really differ


def test_a_generation_where_every_member_failed_changes_nothing():
    for cls, config in ((XNES, XNESConfig()), (SNES, SNESConfig())):
        es = cls(config, np.ones(5), CounterNoise(0, 5))
        before = es.state_dict()
        info = es.tell(es.ask(), np.full(es.population_size, np.nan))
        after = es.state_dict()
        assert info["update_norm"] == 0.0 and int(after.pop("generation")) == 1
        for key, value in after.items():
            np.testing.assert_array_equal(value, before[key])


@pytest.mark.parametrize("cls,config", [(XNES, XNESConfig(sigma=0.7)), (SNES, SNESConfig(sigma=0.7))])
def test_a_loaded_state_continues_bitwise_identically(cls, config):
    def run(es, generations):
        for _ in range(generations):
            population = es.ask()
            es.tell(population, fitness_of(es, population, "rosenbrock"))

    straight = cls(config, np.full(6, 0.5), CounterNoise(9, 6))
    run(straight, 5)
    saved = straight.state_dict()
    run(straight, 5)
    resumed = cls(config, np.zeros(6), CounterNoise(9, 6))
    resumed.load_state_dict(saved)
    run(resumed, 5)
    final, again = straight.state_dict(), resumed.state_dict()
    assert sorted(final) == sorted(again) and int(final["generation"]) == 10
    for key in final:
        assert final[key].tobytes() == again[key].tobytes(), key


def test_snes_with_a_hundred_thousand_parameters_stays_order_n():
    n = 100_000
    es = SNES(SNESConfig(sigma=0.1), np.ones(n), CounterNoise(2, n))
    assert es.population_size == 4 + int(3 * np.log(n)) == 38
    for _ in range(2):
        population = es.ask()
        fitness = fitness_of(es, population)
        fitness[5] = np.nan
        tracemalloc.start()
        info = es.tell(population, fitness)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        # a few (n,) float64 buffers; one (lam, n) float64 stack would be 38 * 800 kB
        assert peak < 8 * 8 * n, peak
        assert np.isfinite(info["update_norm"]) and info["update_norm"] > 0
    shapes = {k: v.shape for k, v in es.state_dict().items()}
    assert shapes == {"mean": (n,), "sigma": (n,), "generation": ()}
    assert np.ptp(es.state.sigma) > 0 and np.all(np.isfinite(es.state.sigma))


@pytest.mark.parametrize("algorithm,table,message", [
    ("xnes", {"sigma": 0.0}, "strategy.sigma: got 0.0; must be > 0.0"),
    ("snes", {"population": 1}, "strategy.population: got 1; must be 0 (the default) or >= 2"),
    ("xnes", {"eta_B": -0.1}, "strategy.eta_B: got -0.1; must be >= 0.0"),
    ("snes", {"eta_B": 0.1}, "strategy.eta_B: unknown key"),
])
def test_config_errors_are_one_line(algorithm, table, message):
    with pytest.raises(ConfigError) as info:
        config_mod.from_dict({"algorithm": algorithm, "env": "fn:sphere", "strategy": table})
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


@pytest.mark.parametrize("case", ["xnes-sphere-10", "xnes-ellipsoid-10", "xnes-rosenbrock-10", "snes-sphere-10",
                                  "snes-ellipsoid-10", "snes-sphere-100"])
def test_needs_as_many_evaluations_as_pypop7(case):
    stored = json.loads(REFERENCE.read_text())
    reference = stored["cases"][case]
    s = reference["settings"]
    strategy, config = {"xnes": (XNES, XNESConfig), "snes": (SNES, SNESConfig)}[s["method"]]
    ours = [evals_to_target(strategy(config(sigma=s["sigma"]), np.full(s["dim"], s["x0"]),
                                     NoiseTable(seed, s["dim"], stored["table_size"])),
                            FUNCTIONS[s["function"]], s["budget"])
            for seed in stored["seeds"]]
    assert reference["failures"] == 0
    ratio = np.median(ours) / reference["median"]
    assert 0.85 <= ratio <= 1.15, (ours, reference["evals"])
