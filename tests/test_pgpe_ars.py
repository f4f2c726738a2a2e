"""PGPE (with ClipUp) and ARS: update formulas against hand computations, ClipUp's speed limit,
top-b selection, sigma adaptation, the reward shift of member episodes, config errors, and the
tiny mode of scripts/repro_ars_pgpe.py."""

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import subprocess_env, tiny_config
from mpies import config as config_mod
from mpies.config import ConfigError
from mpies.noise import CounterNoise
from mpies.optim import ClipUp
from mpies.strategies.ars import ARS, ARSConfig, top_pairs
from mpies.strategies.pgpe import PGPE, PGPEConfig

REPO = Path(__file__).resolve().parent.parent
CENTER = np.array([1.0, -2.0, 0.5])


def quadratic(x):
    """A tiny concave quadratic, maximised at CENTER."""
    return -float(np.sum((x - CENTER) ** 2))


def evaluate(strategy, population, f=quadratic):
    return np.array([f(strategy.member_params(population, i)) for i in range(population.size)])


def perturbations(strategy, population) -> np.ndarray:
    """z(key_j) as float64 ``(N, dim)``: the hand computation may hold them all."""
    return np.array([strategy.noise.vector(int(k)) for k in population.keys], dtype=np.float64)


# --------------------------------------------------------------------------- ARS

def test_ars_step_matches_the_paper_formula_by_hand():
    theta0 = np.array([0.3, 0.1, -0.4])
    ars = ARS(ARSConfig(population=8, sigma=0.2, learning_rate=0.05, top_directions=2), theta0,
              CounterNoise(1, 3))
    population = ars.ask()
    delta = perturbations(ars, population)
    fitness = evaluate(ars, population)
    plus, minus = fitness[0::2], fitness[1::2]
    np.testing.assert_allclose(plus, [quadratic(theta0 + 0.2 * d) for d in delta])
    np.testing.assert_allclose(minus, [quadratic(theta0 - 0.2 * d) for d in delta])
    top = np.argsort(-np.maximum(plus, minus))[:2]
    sigma_r = np.std(np.concatenate([plus[top], minus[top]]))
    expected = theta0 + 0.05 / (2 * sigma_r) * ((plus[top] - minus[top])[:, None] * delta[top]).sum(axis=0)
    ars.tell(population, fitness)
    np.testing.assert_allclose(ars.mean, expected, rtol=1e-12)
    assert quadratic(ars.mean) > quadratic(theta0)  # a sign error would descend


def test_ars_step_is_invariant_to_the_scale_of_returns():
    """sigma_R divides the returns' scale out: returns x 1000 give the same step."""
    noise, config = CounterNoise(2, 3), ARSConfig(population=6, sigma=0.1, learning_rate=0.02)
    a, b = ARS(config, np.zeros(3), noise), ARS(config, np.zeros(3), noise)
    pa, pb = a.ask(), b.ask()
    fitness = evaluate(a, pa)
    a.tell(pa, fitness)
    b.tell(pb, 1000.0 * fitness)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-10)
    assert np.linalg.norm(a.mean) > 0


def test_top_pairs_keeps_the_best_by_max_and_skips_failed_pairs():
    plus = np.array([1.0, 5.0, np.nan, 2.0, 0.0])
    minus = np.array([4.0, 0.0, 9.0, 2.0, 3.0])
    assert top_pairs(plus, minus, 3).tolist() == [1, 0, 4]  # max 5, 4, 3 (pair 2 failed)
    assert top_pairs(plus, minus, 10).tolist() == [1, 0, 4, 3]
    assert top_pairs(np.array([1.0, 1.0]), np.array([0.0, 0.0]), 1).tolist() == [0]  # ties: lower index


def test_ars_equal_returns_or_failed_pairs_give_no_step():
    ars = ARS(ARSConfig(population=4, sigma=0.1, learning_rate=0.1), np.ones(3), CounterNoise(0, 3))
    ars.tell(ars.ask(), np.full(4, 7.0))
    ars.tell(ars.ask(), np.array([1.0, np.nan, np.nan, 2.0]))
    np.testing.assert_array_equal(ars.mean, np.ones(3))


# --------------------------------------------------------------------------- PGPE

def _pgpe(**overrides):
    settings = dict(population=8, sigma=0.3, shaping="none", optimizer="sgd", momentum=0.0,
                    learning_rate=0.1, stdev_learning_rate=0.05, stdev_max_change=0.2)
    return PGPE(PGPEConfig(**{**settings, **overrides}), np.array([0.3, 0.1, -0.4]), CounterNoise(4, 3))


def test_pgpe_gradients_and_update_match_the_paper_by_hand():
    pgpe = _pgpe()
    population = pgpe.ask()
    theta, sigma = pgpe.mean.copy(), pgpe.state.sigma.copy()
    eps = sigma * perturbations(pgpe, population)
    fitness = evaluate(pgpe, population)
    plus, minus = fitness[0::2], fitness[1::2]
    np.testing.assert_allclose(plus, [quadratic(theta + e) for e in eps])
    np.testing.assert_allclose(minus, [quadratic(theta - e) for e in eps])
    # Sehnke et al. 2010, symmetric sampling: r_T = (r+ + r-)/2 - baseline, baseline = its mean
    n = len(eps)
    g_theta = (((plus - minus) / 2)[:, None] * eps).sum(axis=0) / n
    r_t = (plus + minus) / 2 - ((plus + minus) / 2).mean()
    g_sigma = (r_t[:, None] * (eps**2 - sigma**2) / sigma).sum(axis=0) / n
    got_theta, got_sigma = pgpe.gradients(population, fitness)
    np.testing.assert_allclose(got_theta, g_theta, rtol=1e-10)
    np.testing.assert_allclose(got_sigma, g_sigma, rtol=1e-10, atol=1e-14)
    pgpe.tell(population, fitness)
    np.testing.assert_allclose(pgpe.mean, theta + 0.1 * g_theta, rtol=1e-12)  # sgd, no momentum
    np.testing.assert_allclose(pgpe.state.sigma, np.clip(sigma + 0.05 * g_sigma, 0.8 * sigma, 1.2 * sigma))
    assert quadratic(pgpe.mean) > quadratic(theta)


@pytest.mark.parametrize("sign, direction", [(-1.0, -1.0), (1.0, 1.0)])
def test_pgpe_sigma_shrinks_at_a_maximum_and_grows_at_a_minimum(sign, direction):
    """At the top of -|x|^2 wider samples are worse (sigma shrinks); at the bottom of +|x|^2 they
    are better (sigma grows), on every coordinate, within the 20 % limit per generation."""
    pgpe = PGPE(PGPEConfig(population=40, sigma=0.5, stdev_learning_rate=0.2),
                np.zeros(3), CounterNoise(5, 3))
    for _ in range(5):
        population = pgpe.ask()
        before = pgpe.state.sigma.copy()
        pgpe.tell(population, evaluate(pgpe, population, lambda x: sign * float(x @ x)))
        ratio = pgpe.state.sigma / before
        assert np.all(ratio >= 0.8 - 1e-12) and np.all(ratio <= 1.2 + 1e-12)
    assert np.all(direction * (pgpe.state.sigma - 0.5) > 0), pgpe.state.sigma


def test_pgpe_radius_sets_sigma_and_failed_pairs_get_no_weight():
    pgpe = PGPE(PGPEConfig(population=6, radius=3.0, shaping="none"), np.zeros(9), CounterNoise(0, 9))
    np.testing.assert_allclose(pgpe.state.sigma, np.full(9, 1.0))  # radius / sqrt(9)
    population = pgpe.ask()
    fitness = evaluate(pgpe, population, lambda x: -float((x - 1) @ (x - 1)))
    broken = fitness.copy()
    broken[[0, 3]] = np.nan  # pairs 0 and 1 failed: pair 2 alone is averaged
    zeroed = fitness.copy()
    zeroed[:4] = 0.0  # pairs 0 and 1 valid with no difference: pair 2 over three pairs
    g_theta, g_sigma = pgpe.gradients(population, broken)
    np.testing.assert_allclose(g_theta, 3 * pgpe.gradients(population, zeroed)[0], rtol=1e-12)
    np.testing.assert_array_equal(g_sigma, 0.0)  # one pair is its own baseline
    assert np.all(np.isfinite(g_theta)) and np.linalg.norm(g_theta) > 0


def test_clipup_never_exceeds_max_speed_and_follows_the_gradient():
    clipup, rng = ClipUp(momentum=0.9, max_speed=0.2), np.random.default_rng(0)
    state = clipup.init(5)
    first = clipup.step(state, np.array([3.0, 0, 0, 4.0, 0]), learning_rate=0.1)
    np.testing.assert_allclose(first, [0.06, 0, 0, 0.08, 0])  # lr * g / |g|
    speeds = []
    for _ in range(50):
        step = clipup.step(state, rng.standard_normal(5) * 100 + 50, learning_rate=0.1)
        speeds.append(np.linalg.norm(step))
        np.testing.assert_array_equal(step, state.velocity)
    assert max(speeds) <= 0.2 + 1e-12 and max(speeds) > 0.19  # clipped, and the clip is reached
    zero = clipup.step(state, np.zeros(5), learning_rate=0.1)
    np.testing.assert_allclose(np.linalg.norm(zero), 0.9 * speeds[-1])  # a zero gradient only decays


# --------------------------------------------------------------------------- config

@pytest.mark.parametrize("algorithm, table, words", [
    ("ars", {"population": 7}, ["strategy.population: got 7", "even"]),
    ("ars", {"population": 8, "top_directions": 5}, ["strategy.top_directions: got 5", "<= the 4"]),
    ("pgpe", {"population": 9}, ["strategy.population: got 9", "even"]),
    ("pgpe", {"optimizer": "rmsprop"}, ["strategy.optimizer: got 'rmsprop'", "'clipup'"]),
])
def test_config_errors_are_one_line(algorithm, table, words):
    with pytest.raises(ConfigError) as info:
        config_mod.from_dict({"algorithm": algorithm, "strategy": table})
    message = str(info.value)
    assert "\n" not in message and all(w in message for w in words), message


def test_openai_es_optimizer_choices_are_unchanged():
    with pytest.raises(ConfigError, match="strategy.optimizer"):
        config_mod.from_dict({"algorithm": "openai_es", "strategy": {"optimizer": "clipup"}})


def test_linear_policy_at_init_scale_zero_starts_at_zero():
    from mpies import seeding
    from mpies.tasks import make_task
    cfg = config_mod.load("hopper-ars")
    task = make_task(cfg)
    try:
        theta0 = task.initial_params(seeding.generator(cfg.seed, seeding.INIT_PARAMS))
    finally:
        task.close()
    assert theta0.shape == (11 * 3 + 3,) and np.all(theta0 == 0)


# --------------------------------------------------------------------------- reward shift

def test_reward_shift_applies_to_member_episodes_only(tmp_path):
    """CartPole pays 1 per step: shifted by 1, every member's return is exactly 0, while the
    noiseless evaluation of the same run still scores its episode lengths."""
    from mpies import driver
    from mpies.tasks import make_task
    from mpies.policies import ObsNormalizer

    path = tiny_config(tmp_path, generations=3, population=8)
    cfg = config_mod.load(str(path), ["rollout.reward_shift=1.0"])
    cfg.output.path = str(tmp_path / "shift.h5")
    assert driver.run(cfg, log=lambda line: None).status == "finished"
    with h5py.File(cfg.output.path, "r") as f:
        history = f["history"][()]
    assert np.all(history["fitness_max"] == 0.0) and np.all(history["fitness_min"] == 0.0)
    evaluated = history["eval_return"][~np.isnan(history["eval_return"])]
    assert evaluated.size and np.all(evaluated >= 8)  # CartPole lasts at least 8 steps

    task = make_task(cfg)
    try:
        params, normalizer = np.zeros(task.num_params), ObsNormalizer(task.obs_dim)
        member = task.evaluate(params, [11], normalizer, reward_shift=cfg.rollout.reward_shift)
        noiseless = task.evaluate(params, [11], normalizer)
    finally:
        task.close()
    assert member.steps == noiseless.steps > 0
    assert (member.fitness, noiseless.fitness) == (0.0, float(noiseless.steps))


# --------------------------------------------------------------------------- repro script

def test_repro_script_tiny_mode(tmp_path):
    out = tmp_path / "repro.json"
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "repro_ars_pgpe.py"), "--tiny",
                           "--ranks", "1", "--only", "cartpole-ars", "cartpole-pgpe", "hopper-ars",
                           "--out", str(out)],
                          capture_output=True, text=True, timeout=300, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(out.read_text())
    assert set(payload["cases"]) == {"cartpole-ars", "cartpole-pgpe", "hopper-ars"}
    for case in payload["cases"].values():
        (run,) = case["runs"]
        assert run["generations_run"] == 2 and np.isfinite(run["best_eval"])
    assert "median episodes" in proc.stdout
