"""Quality diversity: grid and CVT archives, batch insertion statuses, metrics, MAP-Elites."""

import numpy as np
import pytest

from mpies.noise import CounterNoise, NoiseTable
from mpies.qd import (IMPROVED, NEW, NOT_ADDED, CVTArchive, GridArchive, MAPElites,
                      MAPElitesConfig, make_archive)

# --------------------------------------------------------------------------- toy: planar arm

JOINTS = 10
ARM_OFFSET = -np.pi ** 2  # lowest possible fitness: angles are clipped to [-pi, pi]


def planar_arm(params):
    """``n`` joint angles (clipped to [-pi, pi]), links of length 1/n: fitness = -variance of the
    angles (maximum 0, a straight or evenly curved arm), descriptor = end-effector position in
    the unit disk. ``(m, n) -> fitness (m,), descriptors (m, 2)``."""
    angles = np.clip(params, -np.pi, np.pi)
    cumulative = np.cumsum(angles, axis=1)
    position = np.stack([np.cos(cumulative).sum(1), np.sin(cumulative).sum(1)], axis=1)
    return -np.var(angles, axis=1), position / angles.shape[1]


def arm_map_elites(variation, seed=0, sigma=0.05, archive=None, population=64):
    archive = archive if archive is not None else GridArchive(2, (20, 20), -1.0, 1.0, JOINTS)
    config = MAPElitesConfig(population=population, variation=variation, sigma=sigma,
                             line_sigma=0.2, init_sigma=0.5)
    return MAPElites(config, np.zeros(JOINTS), NoiseTable(seed, JOINTS, 20_000), archive)


def step(me):
    population = me.ask()
    params = np.stack([me.member_params(population, i) for i in range(population.size)])
    fitness, descriptors = planar_arm(params)
    return me.tell(population, fitness, descriptors)


def run_generations(me, generations):
    for _ in range(generations):
        step(me)
    return me


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


# --------------------------------------------------------------------------- grid indexing

def test_grid_index_bins_bounds_and_clipping():
    archive = GridArchive(2, (4, 2), [0.0, -1.0], [1.0, 1.0], num_params=3)
    assert archive.cells == 8
    d = np.array([[0.0, -1.0],      # lower corner -> bins (0, 0)
                  [0.25, 0.0],      # bin edges belong to the upper bin -> (1, 1)
                  [0.2499, -0.01],  # -> (0, 0)
                  [1.0, 1.0],       # the upper bound belongs to the last bin -> (3, 1)
                  [-5.0, 7.0],      # clipped -> (0, 1)
                  [3.0, -np.inf],   # clipped -> (3, 0)
                  [0.6, 0.5]])      # -> (2, 1)
    expected_bins = [[0, 0], [1, 1], [0, 0], [3, 1], [0, 1], [3, 0], [2, 1]]
    np.testing.assert_array_equal(archive.grid_index(d), expected_bins)
    cells = archive.index_of(d)
    assert cells.dtype == np.int64
    np.testing.assert_array_equal(cells, [0, 3, 0, 7, 1, 6, 5])  # row-major: 2 * b0 + b1
    np.testing.assert_array_equal(archive.index_of(np.array([[np.nan, 0.0], [0.9, 0.9]])), [-1, 7])
    geometry = archive.geometry()
    assert geometry["kind"] == "grid"
    np.testing.assert_array_equal(geometry["bins"], [4, 2])
    np.testing.assert_array_equal(geometry["lower"], [0.0, -1.0])
    with pytest.raises(ValueError):
        archive.index_of(np.zeros((3, 3)))


def test_grid_rejects_bad_geometry():
    with pytest.raises(ValueError):
        GridArchive(2, (4,), 0.0, 1.0, 1)
    with pytest.raises(ValueError):
        GridArchive(1, (0,), 0.0, 1.0, 1)
    with pytest.raises(ValueError):
        GridArchive(1, (4,), 1.0, 1.0, 1)


def test_state_has_fixed_shapes_and_empty_values():
    archive = GridArchive(2, (3, 5), 0.0, 1.0, num_params=4)
    s = archive.state
    assert s["occupied"].shape == (15,) and s["occupied"].dtype == bool and not s["occupied"].any()
    assert s["fitness"].dtype == np.float64 and np.all(s["fitness"] == -np.inf)
    assert s["descriptors"].shape == (15, 2) and s["params"].shape == (15, 4)
    assert s["parent_cell"].dtype == np.int64 and np.all(s["parent_cell"] == -1)
    assert s["key"].dtype == np.int64


# --------------------------------------------------------------------------- add statuses

def line_archive(num_params=2):
    """1-D grid of 4 cells over [0, 1): cell c holds descriptors in [c/4, (c+1)/4)."""
    return GridArchive(1, (4,), 0.0, 1.0, num_params)


def add(archive, fitness, cells, params=None, parent=None, key=None):
    n = len(fitness)
    d = np.array([[np.nan] if c is None else [c / 4 + 0.1] for c in cells])
    params = np.arange(n * archive.num_params, dtype=float).reshape(n, -1) if params is None else params
    parent = np.full(n, -1) if parent is None else parent
    key = np.arange(100, 100 + n) if key is None else key
    return archive.add(params, np.array(fitness, dtype=float), d, parent, key)


def test_add_statuses_in_member_order():
    archive = line_archive()
    status = add(archive, [1.0, 2.0, 1.5, np.nan, 0.0, 5.0, 3.0, 2.0],
                 [0, 0, 0, 1, 2, None, 3, 3], parent=np.array([-1, 7, -1, -1, -1, -1, -1, -1]))
    assert status.dtype == np.int8
    # same empty cell: the first is NEW, a better one IMPROVED, a worse one NOT_ADDED;
    # NaN fitness and NaN descriptors never enter
    np.testing.assert_array_equal(status, [NEW, IMPROVED, NOT_ADDED, NOT_ADDED, NEW, NOT_ADDED,
                                           NEW, NOT_ADDED])
    s = archive.state
    np.testing.assert_array_equal(s["occupied"], [True, False, True, True])
    np.testing.assert_array_equal(s["fitness"], [2.0, -np.inf, 0.0, 3.0])
    np.testing.assert_array_equal(s["params"][0], [2.0, 3.0])   # member 1's params
    np.testing.assert_array_equal(s["params"][3], [12.0, 13.0])  # member 6, not the worse member 7
    np.testing.assert_array_equal(s["parent_cell"], [7, -1, -1, -1])
    np.testing.assert_array_equal(s["key"][[0, 2, 3]], [101, 104, 106])
    np.testing.assert_allclose(s["descriptors"][:, 0], [0.1, 0.0, 0.6, 0.85])

    # against existing elites: ties do not replace, non-finite fitness never enters
    status = add(archive, [2.0, -1.0, 0.5, -np.inf, np.inf, 4.0], [0, 2, 2, 1, 1, 1])
    np.testing.assert_array_equal(status, [NOT_ADDED, NOT_ADDED, IMPROVED, NOT_ADDED, NOT_ADDED, NEW])
    np.testing.assert_array_equal(archive.state["fitness"], [2.0, 4.0, 0.5, 3.0])


def test_add_only_rebuilds_stored_members_before_any_write():
    archive = line_archive(num_params=1)
    add(archive, [1.0], [0], params=np.array([[10.0]]))
    calls = []

    def params(i):  # reads the archive: must still see the old elite of cell 0
        calls.append(i)
        return archive.state["params"][0] + i

    status = archive.add(params, np.array([5.0, 6.0, np.nan, 0.5, 7.0]),
                         np.array([[0.1], [0.1], [0.1], [0.1], [0.6]]), np.zeros(5, int), np.arange(5))
    np.testing.assert_array_equal(status, [IMPROVED, IMPROVED, NOT_ADDED, NOT_ADDED, NEW])
    assert calls == [1, 4]  # member 0 is replaced within the batch: never rebuilt
    np.testing.assert_array_equal(archive.state["params"][[0, 2], 0], [11.0, 14.0])


def test_add_checks_shapes():
    archive = line_archive()
    with pytest.raises(ValueError):
        archive.add(np.zeros((2, 3)), np.zeros(2), np.zeros((2, 1)), np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError):
        archive.add(np.zeros((2, 2)), np.zeros(3), np.zeros((2, 1)), np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError):
        archive.add(np.zeros((2, 2)), np.zeros(2), np.zeros((2, 2)), np.zeros(2), np.zeros(2))


# --------------------------------------------------------------------------- metrics, checkpoints

def test_metrics_with_offset():
    archive = GridArchive(1, (10,), 0.0, 1.0, 1)
    empty = archive.metrics(offset=-5.0)
    assert empty["filled"] == 0 and empty["coverage"] == 0.0 and empty["qd_score"] == 0.0
    assert np.isnan(empty["best"]) and np.isnan(empty["mean"])
    archive.add(np.zeros((3, 1)), np.array([1.0, 3.0, -2.0]), np.array([[0.05], [0.55], [0.95]]),
                np.full(3, -1), np.arange(3))
    m = archive.metrics(offset=-5.0)
    assert m["filled"] == 3 and m["coverage"] == pytest.approx(0.3)
    assert m["qd_score"] == pytest.approx((1 + 5) + (3 + 5) + (-2 + 5))
    assert m["best"] == 3.0 and m["mean"] == pytest.approx(2 / 3)
    assert archive.metrics(offset=0.0)["qd_score"] == pytest.approx(2.0)
    assert archive.best_cell() == 5


def test_archive_state_dict_round_trip_in_place():
    archive = line_archive()
    add(archive, [1.0, 2.0], [0, 3])
    saved = archive.state_dict()
    arrays = {k: id(v) for k, v in archive.state.items()}
    other = line_archive()
    other.load_state_dict(saved)
    assert_same_state(other.state_dict(), saved)
    archive.clear()
    assert not archive.state["occupied"].any() and np.all(archive.state["fitness"] == -np.inf)
    archive.load_state_dict(saved)
    assert {k: id(v) for k, v in archive.state.items()} == arrays  # written in place
    assert_same_state(archive.state_dict(), saved)
    with pytest.raises(ValueError):
        GridArchive(1, (5,), 0.0, 1.0, 2).load_state_dict(saved)


# --------------------------------------------------------------------------- CVT

def test_cvt_centroids_deterministic_per_seed_and_roughly_uniform():
    kwargs = dict(dims=2, cells=40, lower=[0.0, -1.0], upper=[1.0, 1.0], num_params=3, samples=4000)
    a, b = CVTArchive(seed=1, **kwargs), CVTArchive(seed=1, **kwargs)
    np.testing.assert_array_equal(a.centroids, b.centroids)
    c = CVTArchive(seed=2, **kwargs)
    assert not np.allclose(a.centroids, c.centroids)
    assert a.centroids.shape == (40, 2)
    assert np.all(a.centroids >= a.lower) and np.all(a.centroids <= a.upper)
    np.testing.assert_array_equal(a.index_of(a.centroids), np.arange(40))
    # fresh uniform samples: every cell gets some, none gets far more than its share (500)
    x = np.random.default_rng(7).uniform([0.0, -1.0], [1.0, 1.0], (20_000, 2))
    counts = np.bincount(a.index_of(x), minlength=40)
    assert counts.min() > 250 and counts.max() < 1000
    geometry = a.geometry()
    assert geometry["kind"] == "cvt" and geometry["seed"] == 1
    np.testing.assert_array_equal(geometry["centroids"], a.centroids)
    rebuilt = CVTArchive(seed=1, centroids=geometry["centroids"], **kwargs)
    np.testing.assert_array_equal(rebuilt.index_of(x), a.index_of(x))


def test_cvt_index_is_nearest_centroid():
    archive = CVTArchive(3, 25, 0.0, 1.0, 1, seed=0, samples=1000, iterations=5)
    x = np.random.default_rng(1).uniform(-0.5, 1.5, (500, 3))  # outside the bounds too
    brute = np.argmin(np.linalg.norm(x[:, None, :] - archive.centroids[None], axis=2), axis=1)
    np.testing.assert_array_equal(archive.index_of(x), brute)
    assert archive.index_of(np.array([[np.nan, 0.0, 0.0]]))[0] == -1
    with pytest.raises(ValueError):
        CVTArchive(2, 50, 0.0, 1.0, 1, seed=0, samples=10)


# --------------------------------------------------------------------------- MAP-Elites

@pytest.fixture(scope="module")
def arm_runs():
    return {v: run_generations(arm_map_elites(v), 300) for v in ("gaussian", "iso_line_dd")}


@pytest.mark.parametrize("variation", ["gaussian", "iso_line_dd"])
def test_map_elites_illuminates_the_arm(arm_runs, variation):
    me = arm_runs[variation]
    m = me.archive.metrics(offset=ARM_OFFSET)
    # the reachable unit disk covers about 85% of the 400 cells (those it intersects)
    assert m["coverage"] > 0.6, m
    assert m["best"] > -1e-3 and m["mean"] > -0.2
    assert me.generation == 300
    np.testing.assert_array_equal(me.mean, me.archive.state["params"][me.archive.best_cell()])
    # every elite's stored fitness and descriptors are those of its parameters
    s, filled = me.archive.state, me.archive.filled_cells()
    fitness, descriptors = planar_arm(s["params"][filled])
    np.testing.assert_allclose(fitness, s["fitness"][filled], rtol=1e-12)
    np.testing.assert_allclose(descriptors, s["descriptors"][filled], rtol=1e-12)
    np.testing.assert_array_equal(me.archive.index_of(descriptors), filled)


def test_iso_line_dd_beats_or_matches_gaussian(arm_runs):
    gaussian = arm_runs["gaussian"].archive.metrics(offset=ARM_OFFSET)
    iso_line = arm_runs["iso_line_dd"].archive.metrics(offset=ARM_OFFSET)
    assert iso_line["qd_score"] >= gaussian["qd_score"], (iso_line, gaussian)


def test_first_batch_and_offspring_formula():
    me = arm_map_elites("iso_line_dd", seed=3, population=8)
    assert me.mean is me.theta0
    population = me.ask()
    assert np.all(population.parent_cell == -1) and population.batches[0].sigma == 0.5
    np.testing.assert_array_equal(me.member_params(population, 2),
                                  0.5 * me.noise.vector(int(population.keys[2])).astype(np.float64))
    params = np.stack([me.member_params(population, i) for i in range(8)])
    fitness, descriptors = planar_arm(params)
    info = me.tell(population, fitness, descriptors)
    filled = me.archive.filled_cells()
    assert info["new_cells"] == filled.size and info["new_cells"] + info["improved_cells"] <= 8
    assert set(info) == {"archive_filled", "qd_score", "new_cells", "improved_cells"}
    np.testing.assert_array_equal(me.mean, params[np.argmax(fitness)])

    population = me.ask()
    batch = population.batches[0]  # MAP-Elites has one variation emitter
    assert np.all(np.isin(population.parent_cell, filled))
    assert np.all(np.isin(batch.partner_cell, filled))
    i = 5
    xi, xj = (me.archive.state["params"][c[i]] for c in (population.parent_cell, batch.partner_cell))
    eps = me.noise.vector(int(population.keys[i])).astype(np.float64)
    expected = xi + me.config.sigma * eps + me.config.line_sigma * batch.line[i] * (xj - xi)
    np.testing.assert_allclose(me.member_params(population, i), expected, rtol=1e-12, atol=1e-15)
    # another rank with the same archive and seed rebuilds the same offspring
    twin = arm_map_elites("iso_line_dd", seed=3, population=8)
    twin.load_state_dict(me.state_dict())
    twin_population = twin.ask()
    for i in range(8):
        np.testing.assert_array_equal(twin.member_params(twin_population, i), me.member_params(population, i))

    gaussian = arm_map_elites("gaussian", seed=3, population=8)
    gaussian.load_state_dict(me.state_dict())
    batch = gaussian.ask().batches[0]
    assert np.all(batch.partner_cell == -1) and np.all(batch.line == 0.0)


def test_failed_members_are_never_inserted_and_empty_archive_restarts_from_theta0():
    me = arm_map_elites("gaussian", population=6)
    population = me.ask()
    info = me.tell(population, np.full(6, np.nan), np.zeros((6, 2)))
    assert info["new_cells"] == 0 and not me.archive.state["occupied"].any()
    population = me.ask()  # still empty: a fresh initial batch, new keys
    assert np.all(population.parent_cell == -1) and population.generation == 1
    fitness = np.array([np.nan, -1.0, np.nan, -2.0, np.nan, np.nan])
    me.tell(population, fitness, np.array([[0.5, 0.5]] * 3 + [[-0.5, -0.5]] * 3))
    assert me.archive.metrics(0.0)["filled"] == 2
    np.testing.assert_array_equal(me.archive.state["fitness"][me.archive.filled_cells()], [-2.0, -1.0])


def test_tell_checks_order_and_descriptors():
    me = arm_map_elites("gaussian", population=4)
    population = me.ask()
    with pytest.raises(RuntimeError):
        me.ask()
    with pytest.raises(TypeError, match=r"needs behaviour descriptors.*\(4, 2\)"):
        me.tell(population, np.zeros(4))
    with pytest.raises(ValueError, match=r"descriptors have shape \(4, 3\), expected \(4, 2\)"):
        me.tell(population, np.zeros(4), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="fitness has shape"):
        me.tell(population, np.zeros(3), np.zeros((4, 2)))
    assert me.generation == 0
    me.tell(population, np.zeros(4), np.zeros((4, 2)))  # the population is still pending
    assert me.generation == 1
    with pytest.raises(ValueError):
        MAPElites(MAPElitesConfig(variation="crossover"), np.zeros(JOINTS),
                  CounterNoise(0, JOINTS), GridArchive(2, (2, 2), 0.0, 1.0, JOINTS))
    with pytest.raises(ValueError):
        MAPElites(MAPElitesConfig(), np.zeros(3), CounterNoise(0, 3), GridArchive(2, (2, 2), 0.0, 1.0, 4))


@pytest.mark.parametrize("variation", ["gaussian", "iso_line_dd"])
def test_state_dict_round_trip_continues_identically(variation):
    me = run_generations(arm_map_elites(variation, seed=5, population=16), 20)
    saved = me.state_dict()
    assert set(saved) == {"generation", "occupied", "fitness", "descriptors", "params",
                          "parent_cell", "key"}
    shapes = {k: v.shape for k, v in saved.items()}
    run_generations(me, 15)
    resumed = arm_map_elites(variation, seed=5, population=16)
    resumed.load_state_dict(saved)
    assert resumed.generation == 20
    run_generations(resumed, 15)
    assert_same_state(resumed.state_dict(), me.state_dict())
    assert {k: v.shape for k, v in me.state_dict().items()} == shapes


def test_same_seed_same_archive_and_another_seed_differs():
    a = run_generations(arm_map_elites("iso_line_dd", seed=11, population=16), 40)
    b = run_generations(arm_map_elites("iso_line_dd", seed=11, population=16), 40)
    c = run_generations(arm_map_elites("iso_line_dd", seed=12, population=16), 40)
    assert_same_state(a.state_dict(), b.state_dict())
    assert not np.array_equal(a.archive.state["params"], c.archive.state["params"])


def test_map_elites_on_a_cvt_archive():
    archive = CVTArchive(2, 100, -1.0, 1.0, JOINTS, seed=0, samples=5000)
    me = run_generations(arm_map_elites("iso_line_dd", archive=archive), 100)
    assert me.archive.metrics(offset=ARM_OFFSET)["coverage"] > 0.5
    assert np.all(me.archive.state["parent_cell"][me.archive.filled_cells()] >= -1)


def test_archive_from_config_and_registry_style_constructor():
    config = MAPElitesConfig(population=8, archive="grid", bins=[5, 4], lower=[-1.0, 0.0],
                             upper=[1.0, 2.0], qd_offset=ARM_OFFSET)
    grid = make_archive(config, num_params=3, seed=0)
    assert isinstance(grid, GridArchive) and grid.cells == 20
    np.testing.assert_array_equal(grid.upper, [1.0, 2.0])
    cvt_config = MAPElitesConfig(archive="cvt", cells=30, lower=[0.0, 0.0], upper=[1.0, 1.0])
    a, b = make_archive(cvt_config, 3, seed=4), make_archive(cvt_config, 3, seed=4)
    assert isinstance(a, CVTArchive) and a.cells == 30
    np.testing.assert_array_equal(a.centroids, b.centroids)

    arm = MAPElitesConfig(population=16, sigma=0.05, init_sigma=0.5, bins=[20, 20],
                          qd_offset=ARM_OFFSET)
    me = MAPElites(arm, np.zeros(JOINTS), NoiseTable(0, JOINTS, 20_000))  # archive from config
    assert me.uses_descriptors and me.archive.cells == 400
    info = step(me)
    m = me.archive.metrics(offset=ARM_OFFSET)
    assert info["archive_filled"] == m["filled"] == info["new_cells"] and info["qd_score"] == m["qd_score"]
