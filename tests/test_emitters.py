"""Emitters (mpies.qd.emitters) and CMA-ME / CMA-MAE (mpies.qd.cma_me), in process."""

import numpy as np
import pytest

from mpies import config as cfg
from mpies.noise import CounterNoise
from mpies.qd import CMAME, MAPElites
from mpies.qd.archives import IMPROVED, NEW, NOT_ADDED
from mpies.qd.emitters import FAILED, EmitterTable, compare, raise_thresholds, rank
from mpies.strategies.cma_es import CMAParameters

JOINTS = 6


def arm(params):
    """The planar arm of mpies.tasks.ArmTask, vectorised: fitness (n,), descriptors (n, 2)."""
    angles = np.cumsum(params, axis=1)
    return -np.var(params, axis=1), np.column_stack([np.cos(angles).mean(axis=1), np.sin(angles).mean(axis=1)])


def make(algorithm: str, **strategy):
    table = {"bins": [10, 10], "qd_offset": -100.0, **strategy}
    config = cfg.from_dict({"algorithm": algorithm, "env": "arm", "strategy": table}).strategy
    return registry_strategy(algorithm)(config, np.zeros(JOINTS), CounterNoise(3, JOINTS))


def registry_strategy(algorithm):
    from mpies import registry
    return registry.get(algorithm).strategy


def generation(strategy, fitness_of=None):
    population = strategy.ask()
    x = np.stack([strategy.member_params(population, i) for i in range(population.size)])
    fitness, descriptors = arm(x)
    if fitness_of is not None:
        fitness = fitness_of(fitness)
    return population, x, strategy.tell(population, fitness, descriptors)


def test_compare_against_thresholds_as_pyribs_batched_add():
    threshold = np.array([-np.inf, -1.0, 2.0])  # cell 0 never entered (CMA-ME: threshold_min -inf)
    fitness = np.array([5.0, 0.5, 1.0, 3.0, np.nan, 7.0])
    cells = np.array([0, 1, 2, 2, -1, 0])
    c = compare(fitness, cells, threshold, -np.inf)
    assert c.status.tolist() == [NEW, IMPROVED, NOT_ADDED, IMPROVED, FAILED, NEW]  # both new: same thresholds
    np.testing.assert_array_equal(c.value, [5.0, 1.5, -1.0, 1.0, -np.inf, 7.0])  # new cells: gain over 0
    # CMA-MAE: a cell at threshold_min was never entered, gains are over threshold_min
    c = compare(np.array([-5.0, 3.0, -20.0]), np.array([0, 1, 0]), np.array([-10.0, 1.0]), -10.0)
    assert c.status.tolist() == [NEW, IMPROVED, NOT_ADDED]
    np.testing.assert_array_equal(c.value, [5.0, 2.0, -10.0])


def test_thresholds_anneal_with_the_batch_rule_and_are_elites_at_learning_rate_one():
    fitness = np.array([4.0, 2.0, 9.0, 1.0])
    cells = np.array([0, 0, 1, 1])
    status = np.array([NEW, NEW, IMPROVED, NOT_ADDED])
    t = np.array([0.0, 5.0])
    raise_thresholds(t, fitness, cells, status, 0.1, 0.0)
    # cell 0: two members with mean 3: (0.9^2) 0 + (1 - 0.9^2) 3; cell 1: one member, 0.9 * 5 + 0.1 * 9
    np.testing.assert_allclose(t, [(1 - 0.81) * 3.0, 0.9 * 5.0 + 0.1 * 9.0], rtol=1e-15)
    t = np.array([-np.inf, 5.0])
    raise_thresholds(t, fitness, cells, status, 1.0, -np.inf)
    np.testing.assert_array_equal(t, [4.0, 9.0])  # CMA-ME: the best member, the new elite


def test_two_stage_ranking_puts_new_cells_first_and_failed_last():
    c = compare(np.array([-0.5, 1.0, 0.3, 2.0, np.nan]), np.array([1, 0, 2, 3, -1]),
                np.array([-np.inf, 0.0, 0.0, -np.inf]), -np.inf)
    assert c.status.tolist() == [NOT_ADDED, NEW, IMPROVED, NEW, FAILED]
    assert rank(c, "two_stage").tolist() == [3, 1, 2, 0, 4]
    assert rank(c, "improvement").tolist() == [3, 1, 2, 0, 4]  # by value alone
    c = compare(np.array([0.1, 5.0]), np.array([0, 1]), np.array([-np.inf, 4.0]), -np.inf)
    assert rank(c, "two_stage").tolist() == [0, 1] and rank(c, "improvement").tolist() == [1, 0]


def test_explicit_mu_gives_the_default_weights_for_an_even_population():
    default = CMAParameters.default(10, 36, separable=False, active=False)
    explicit = CMAParameters.default(10, 36, separable=False, active=False, mu=18)
    np.testing.assert_allclose(explicit.weights, default.weights, rtol=1e-14)
    three = CMAParameters.default(10, 36, separable=False, active=False, mu=3)
    assert np.count_nonzero(three.weights) == 3 and three.weights.sum() == pytest.approx(1.0)
    assert three.weights[0] > three.weights[1] > three.weights[2] > 0


def test_emitter_rows_are_views_and_a_restart_resets_one_emitter():
    table = EmitterTable.initial(3, np.zeros(4), 0.5, separable=False)
    row = table.row(1)
    row.mean[...] = 7.0
    row.C[...] = 2.0 * np.eye(4)
    assert np.all(table.mean[1] == 7.0) and np.all(table.mean[0] == 0.0)
    table.restart(1, np.arange(4.0), 0.25)
    np.testing.assert_array_equal(table.mean[1], np.arange(4.0))
    np.testing.assert_array_equal(table.C[1], np.eye(4))
    assert table.sigma.tolist() == [0.5, 0.25, 0.5] and table.restarts.tolist() == [0, 1, 0]
    separable = EmitterTable.initial(2, np.zeros(4), 0.5, separable=True)
    assert separable.C.shape == (2, 4) and separable.B.shape == (2, 0)


def test_members_are_the_emitter_distributions_and_improvement_moves_them():
    me = make("cma_me", emitters=3, batch=6, sigma=0.3)
    population = me.ask()
    assert population.size == 18 and population.offsets.tolist() == [0, 6, 12, 18]
    z = me.noise.vector(int(population.keys[7])).astype(np.float64)
    np.testing.assert_array_equal(me.member_params(population, 7), 0.3 * z)  # emitter 1 at theta0, C = I
    fitness, descriptors = arm(np.stack([me.member_params(population, i) for i in range(18)]))
    info = me.tell(population, fitness, descriptors)
    assert info["new_cells"] > 0 and info["emitter_restarts"] == 0
    assert not np.array_equal(me.state.emitters.mean[0], np.zeros(JOINTS))  # parents moved the mean
    assert not np.array_equal(me.state.emitters.mean[0], me.state.emitters.mean[1])  # each its own batch
    np.testing.assert_array_equal(me.state.threshold[me.state.occupied], me.state.fitness[me.state.occupied])


def test_no_improvement_restarts_every_emitter_at_an_elite():
    me = make("cma_me", emitters=3, batch=6, sigma=0.3)
    generation(me)
    elites = me.state.params[me.state.occupied].copy()
    population = me.ask()
    worse = -1e6 - np.arange(population.size)  # every member lands in an elite's cell, below it
    on_elite = np.tile(me.state.descriptors[me.archive.filled_cells()[0]], (population.size, 1))
    info = me.tell(population, worse, on_elite)
    assert info["new_cells"] == info["improved_cells"] == 0 and info["emitter_restarts"] == 3
    assert me.state.emitters.restarts.tolist() == [1, 1, 1]
    for e in range(3):  # a restart begins at an elite with sigma0, C = I and zero paths
        assert any(np.array_equal(me.state.emitters.mean[e], x) for x in elites)
        assert me.state.emitters.sigma[e] == 0.3 and np.array_equal(me.state.emitters.C[e], np.eye(JOINTS))
        assert not me.state.emitters.p_c[e].any() and me.state.emitters.restart_generation[e] == 0
    basic = make("cma_mae", emitters=3, batch=6, sigma=0.3, threshold_min=-100.0, restart="basic")
    generation(basic)
    population = basic.ask()
    basic.tell(population, worse, on_elite)
    assert basic.state.emitters.restarts.tolist() == [0, 0, 0]  # only CMA-ES's stop criteria restart it
    population = basic.ask()
    basic.tell(population, np.full(population.size, -1e6), on_elite)  # flat ranking values: a stop criterion
    assert basic.state.emitters.restarts.tolist() == [1, 1, 1]


def test_cma_mae_thresholds_lag_the_elites_and_a_zero_rate_keeps_them():
    mae = make("cma_mae", emitters=2, batch=6, sigma=0.3, threshold_min=-100.0)
    for _ in range(3):
        generation(mae)
    occupied = mae.state.occupied
    assert np.all(mae.state.threshold[occupied] < mae.state.fitness[occupied])  # alpha 0.01: far below
    assert np.all(mae.state.threshold[occupied] > -100.0) and np.all(mae.state.threshold[~occupied] == -100.0)
    frozen = make("cma_mae", emitters=2, batch=6, sigma=0.3, threshold_min=-100.0, learning_rate=0.0)
    generation(frozen)
    assert np.all(frozen.state.threshold == -100.0)


def test_a_learning_rate_below_one_needs_a_finite_threshold_min():
    with pytest.raises(cfg.ConfigError, match="strategy.threshold_min: got -inf"):
        cfg.from_dict({"algorithm": "cma_me", "env": "arm", "strategy": {"learning_rate": 0.5}})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cma_me_finds_better_elites_than_gaussian_map_elites_at_equal_evaluations(seed):
    def make_seeded(algorithm, **strategy):
        table = {"bins": [30, 30], "qd_offset": -100.0, **strategy}
        config = cfg.from_dict({"algorithm": algorithm, "env": "arm", "strategy": table}).strategy
        return registry_strategy(algorithm)(config, np.zeros(JOINTS), CounterNoise(seed, JOINTS))
    me = make_seeded("cma_me", emitters=4, batch=30, sigma=0.3)
    ga = make_seeded("map_elites", population=120, variation="gaussian", sigma=0.3)
    for _ in range(30):  # 3600 evaluations each
        generation(me)
        generation(ga)
    ours, theirs = me.archive.metrics(-100.0), ga.archive.metrics(-100.0)
    assert ours["mean"] > theirs["mean"] and ours["filled"] > 0.95 * theirs["filled"], (ours, theirs)


def test_map_elites_is_one_variation_emitter():
    me = make("map_elites", population=8)
    assert isinstance(me, MAPElites) and len(me.emitters) == 1 and me.population_size == 8
    assert not isinstance(me, CMAME) and me.family == "qd"


def test_inspect_reports_the_emitters_restarts_and_step_size(tmp_path):
    import mpies
    from mpies.io.summary import summarize
    out = mpies.run("arm-cma-me", path=tmp_path / "run.h5", log=lambda line: None, generations=4,
                    strategy={"emitters": 2, "batch": 4, "bins": [5, 5]})
    summary = summarize(out.path)
    history = mpies.io.history.read_run_history(out.path).history
    assert summary["history_family"] == "qd_emitters" and history.size == 4
    assert summary["emitter_restarts"] == int(history["emitter_restarts"].sum())
    assert summary["emitter_sigma_mean"] == float(history["sigma_mean"][-1]) > 0


def test_fewer_members_than_ranks_names_the_emitter_batch(tmp_path):
    from conftest import one_line_error, run_mpies
    proc = run_mpies(4, "run", "arm-cma-me", "--set", "strategy.emitters=1", "--set", "strategy.batch=2",
                     "-o", tmp_path / "run.h5", check_rc=2)
    one_line_error(proc, "strategy.batch: got a population of 2", "number of ranks (4)")
    assert not (tmp_path / "run.h5").exists()
