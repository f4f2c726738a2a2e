"""BIPOP restarts of CMA-ES (Hansen 2009): the regime choice, the small run's lambda and sigma,
the restart sequence, exact resume across a restart, and success against pycma's fmin2 (stored by
scripts/reference_bipop.py)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from mpies import seeding
from mpies.envs.functions import FUNCTIONS, evals_to_target
from mpies.noise import CounterNoise, NoiseTable
from mpies.strategies import CMAES, CMAESConfig
from mpies.strategies.cma_es import bipop_small_regime, bipop_small_run

REFERENCE = Path(__file__).parent / "data/references/bipop.json"


def rastrigin_generation(es):
    population = es.ask()
    fitness = -np.array([FUNCTIONS["rastrigin"](es.member_params(population, i)) for i in range(population.size)])
    return population, es.tell(population, fitness)


def test_the_small_regime_runs_while_its_budget_is_below_the_large_one():
    assert bipop_small_regime(0, 270) and bipop_small_regime(269, 270)
    assert not bipop_small_regime(270, 270) and not bipop_small_regime(500, 270)
    assert not bipop_small_regime(0, 0)


def test_small_run_population_and_step_size():
    assert bipop_small_run(10, 80, 2.0, 0.0, 0.0) == (10, 2.0)  # U = 0: the default run
    lam, sigma = bipop_small_run(10, 80, 2.0, 1.0, 1.0)  # U = 1: the last large population, sigma0 / 100
    assert lam == 80 and sigma == pytest.approx(0.02)
    lam, sigma = bipop_small_run(10, 80, 2.0, 0.5, 0.25)
    assert lam == math.floor(10 * 8 ** 0.25) == 16 and sigma == pytest.approx(2.0 * 10 ** -0.5)


def test_restart_sequence_follows_the_two_regimes():
    """Every restart is checked against the rule written out here: budgets counted per run in
    evaluations (first run as large), lambda_large = 9 * 2^i, small lambda and sigma from the
    CMA_RESTART stream of the run seed."""
    n, seed, sigma0 = 6, 3, 1.5
    es = CMAES(CMAESConfig(sigma=sigma0, restarts=12, restart_regime="bipop", tolfun=100.0),
               np.full(n, 2.5), CounterNoise(seed, n))
    budget = {"small": 0, "large": 0}
    regime, large_runs, lam_last, runs = "large", 0, 9, []
    while int(es.state.restarts) < 12:
        population, info = rastrigin_generation(es)
        budget[regime] += population.size
        if not info["restarted"]:
            continue
        restart = int(es.state.restarts)
        regime = "small" if budget["small"] < budget["large"] else "large"
        if regime == "large":
            large_runs += 1
            lam_last = 9 * 2 ** large_runs
            expected = (lam_last, sigma0)
        else:
            u_lambda, u_sigma = seeding.generator(seed, seeding.CMA_RESTART, restart).random(2)
            expected = (int(9 * (lam_last / 9) ** (u_lambda ** 2)), sigma0 * 10 ** (-2 * u_sigma))
        assert (es.population_size, es.sigma) == pytest.approx(expected), restart
        assert int(es.state.small_run) == (regime == "small")
        assert (int(es.state.small_evaluations), int(es.state.large_evaluations)) == (budget["small"], budget["large"])
        runs.append(regime)
    assert runs[0] == "small"  # the first run counts as large
    assert runs.count("large") >= 2 and runs.count("small") > runs.count("large")
    assert abs(budget["small"] - budget["large"]) < max(budget.values()) / 2  # the budgets stay balanced


def test_resume_across_a_small_restart_is_exact():
    def make():
        return CMAES(CMAESConfig(sigma=1.0, restarts=6, restart_regime="bipop", tolfun=100.0),
                     np.full(6, 2.5), NoiseTable(5, 6, 10_000))

    es, saved = make(), None
    while int(es.state.restarts) < 3:
        before = es.state_dict()
        _, info = rastrigin_generation(es)
        if info["restarted"] and int(es.state.small_run):
            saved = before  # the generation just before a small restart (which draws U)
    assert saved is not None
    resumed = make()
    resumed.load_state_dict(saved)
    straight = make()
    straight.load_state_dict(saved)
    for _ in range(40):
        rastrigin_generation(straight)
        rastrigin_generation(resumed)
    assert int(straight.state.restarts) > int(saved["restarts"])
    for k, v in straight.state_dict().items():
        assert v.tobytes() == resumed.state_dict()[k].tobytes(), k


def test_ipop_stays_the_default():
    assert CMAESConfig().restart_regime == "ipop"
    es = CMAES(CMAESConfig(sigma=1.0, restarts=2, tolfun=100.0), np.full(6, 2.5), CounterNoise(3, 6))
    sizes = set()
    while int(es.state.restarts) < 2:
        population, _ = rastrigin_generation(es)
        sizes.add(population.size)
    assert sizes == {9, 18} and es.population_size == 36 and int(es.state.small_evaluations) == 0


def reference_protocol_evals(n: int, budget: int, seed: int) -> float:
    """mpies's side of scripts/reference_bipop.py: x0 uniform in [-4, 4]^n from the seed, sigma0 = 2,
    restarts = 50 (the budget ends the run), NoiseTable(seed, n, 100_000)."""
    es = CMAES(CMAESConfig(sigma=2.0, restarts=50, restart_regime="bipop"),
               np.random.default_rng(seed).uniform(-4.0, 4.0, n), NoiseTable(seed, n, 100_000))
    return evals_to_target(es, FUNCTIONS["rastrigin"], budget)


def test_success_rate_and_evaluations_are_those_of_pycma_bipop():
    """Rastrigin 5-D within 30,000 evaluations, 11 seeds, against pycma's fmin2(bipop=True): the
    success rates differ by at most two standard errors of a difference of two proportions, and
    the median evaluations of mpies's successful runs lie within pycma's successful runs."""
    stored = json.loads(REFERENCE.read_text())
    case = stored["cases"]["rastrigin-5"]
    theirs = case["bipop"]["pycma"]
    ours = [reference_protocol_evals(case["dim"], case["budget"], seed) for seed in stored["seeds"]]
    solved = [e for e in ours if np.isfinite(e)]
    k = len(ours)
    rate = len(solved) / k
    pooled = (rate + theirs["success_rate"]) / 2
    assert abs(rate - theirs["success_rate"]) <= max(2 * np.sqrt(2 * pooled * (1 - pooled) / k), 0.2), ours
    pycma_solved = [e for e in theirs["evals"] if e is not None]
    assert min(pycma_solved) <= np.median(solved) <= max(pycma_solved), (ours, theirs["evals"])
