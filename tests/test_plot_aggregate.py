"""``mpies plot``: a panel per requested column with its unit, the axes' units, and seeds drawn
as one curve with a band (``--aggregate``, :mod:`mpies.cli.aggregate`)."""

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import one_line_error, run_mpies, tiny_config
from mpies.cli import main
from mpies.cli.aggregate import GRID_POINTS, aggregate, group_runs
from mpies.io.history import RunHistory


def run(path, config):
    return RunHistory(path, "X", "search", np.zeros(0), config)


# --------------------------------------------------------------------------- the statistics
def test_median_and_quartiles_at_shared_generations():
    x = np.arange(1, 5, dtype=float)
    curves = [(x, np.array([1.0, 2.0, np.nan, 4.0])), (x, np.array([3.0, 6.0, np.nan, 8.0])),
              (x, np.array([5.0, 10.0, np.nan, 12.0]))]
    grid, centre, low, high, runs = aggregate(curves, "median", by_index=True)
    assert grid.tolist() == [1.0, 2.0, 4.0]  # generation 3 has no value in any run: dropped
    assert centre.tolist() == [3.0, 6.0, 8.0] and runs.tolist() == [3, 3, 3]
    assert low.tolist() == [2.0, 4.0, 6.0] and high.tolist() == [4.0, 8.0, 10.0]


def test_mean_with_a_95_percent_interval_of_the_mean():
    x = np.arange(1, 4, dtype=float)
    ys = [np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 5.0]), np.array([5.0, 2.0, 4.0])]
    grid, centre, low, high, _ = aggregate([(x, y) for y in ys], "mean", by_index=True)
    table = np.array(ys)
    half = 1.96 * table.std(axis=0, ddof=1) / np.sqrt(3)
    np.testing.assert_allclose(centre, table.mean(axis=0))
    np.testing.assert_allclose(high - centre, half) and np.testing.assert_allclose(centre - low, half)
    assert high[1] == low[1] == 2.0  # no spread, no band
    _, one, one_low, one_high, _ = aggregate([(x, ys[0])], "mean", by_index=True)
    assert np.array_equal(one, one_low) and np.array_equal(one, one_high)  # one run: zero width


def test_steps_are_interpolated_over_the_range_every_run_covers():
    a = (np.array([0.0, 100.0, 200.0]), np.array([0.0, 10.0, 20.0]))
    b = (np.array([50.0, 150.0, 300.0]), np.array([5.0, 15.0, 30.0]))
    grid, centre, low, high, runs = aggregate([a, b], "median")
    assert grid.size == GRID_POINTS and grid[0] == 50.0 and grid[-1] == 200.0
    np.testing.assert_allclose(centre, grid / 10.0)  # both are y = x / 10 where they overlap
    assert (runs == 2).all()
    nothing = aggregate([(np.array([0.0, 1.0]), np.ones(2)), (np.array([5.0, 6.0]), np.ones(2))])
    assert nothing[0].size == 0  # no shared range: nothing to compare


def test_a_bad_statistic_is_refused():
    with pytest.raises(ValueError, match="statistic: got 'max'"):
        aggregate([(np.ones(1), np.ones(1))], "max")


# --------------------------------------------------------------------------- groups
CONFIG = 'name = "{name}"\nseed = {seed}\nalgorithm = "{algorithm}"\n[strategy]\npopulation = {population}\n'


def config(name="a", seed=0, algorithm="openai_es", population=8):
    return CONFIG.format(name=name, seed=seed, algorithm=algorithm, population=population)


def test_runs_differing_only_in_seed_name_and_output_form_one_group():
    runs = [run("r/a0.h5", config(seed=0)), run("r/a1.h5", config(seed=1, name="renamed")),
            run("r/b0.h5", config(population=16)), run("r/b1.h5", config(population=16, seed=1))]
    groups = group_runs(runs)
    assert list(groups) == ["a", "a (2)"]  # same name, other config: told apart
    assert [r.path for r in groups["a"]] == ["r/a0.h5", "r/a1.h5"]
    assert [r.path for r in groups["a (2)"]] == ["r/b0.h5", "r/b1.h5"]


def test_group_by_a_field_or_by_patterns():
    runs = [run("r/es-0.h5", config(algorithm="openai_es")), run("r/ars-0.h5", config(algorithm="ars")),
            run("r/es-1.h5", config(algorithm="openai_es", seed=1))]
    by_field = group_runs(runs, ("algorithm",))
    assert {k: [r.path for r in v] for k, v in by_field.items()} == {
        "algorithm=openai_es": ["r/es-0.h5", "r/es-1.h5"], "algorithm=ars": ["r/ars-0.h5"]}
    by_nested = group_runs(runs, ("strategy.population",))
    assert list(by_nested) == ["strategy.population=8"]
    by_pattern = group_runs(runs, ("r/ars-*", "es-*"))  # the path as given, or the file name
    assert {k: [r.path for r in v] for k, v in by_pattern.items()} == {
        "r/ars-*": ["r/ars-0.h5"], "es-*": ["r/es-0.h5", "r/es-1.h5"]}
    with pytest.raises(ValueError, match="no run's config has the field 'strategy.sigmaa'"):
        group_runs(runs, ("strategy.sigmaa",))
    with pytest.raises(ValueError, match="give one config field, or file-name patterns"):
        group_runs(runs, ("algorithm", "r/*"))


# --------------------------------------------------------------------------- the command
@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    """Three seeds of a tiny CartPole config."""
    d = tmp_path_factory.mktemp("seeds")
    config = tiny_config(d, generations=4)
    paths = []
    for seed in range(3):
        paths.append(d / f"tiny-seed{seed}.h5")
        run_mpies(None, "run", config, "--set", f"seed={seed}", "-o", paths[-1])
    return paths


def invoke(*args):
    return CliRunner().invoke(main, ["plot", *map(str, args)])


def test_each_requested_column_gets_a_panel_with_its_unit_and_the_axes_say_theirs(seeds, tmp_path, figures):
    result = invoke(seeds[0], "-y", "sigma", "-y", "update_norm", "-y", "eval_return", "-o", tmp_path / "a.png")
    assert result.exit_code == 0, result.output
    axes = figures[-1].axes
    assert [ax.get_ylabel() for ax in axes] == ["sigma", "update_norm", "eval_return (return)"]
    assert all(len(ax.get_lines()) == 1 for ax in axes)
    assert axes[-1].get_xlabel() == "generation"
    ticks = [t for t in axes[-1].get_xticks() if axes[-1].get_xlim()[0] <= t <= axes[-1].get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    for x_axis, label in (("wall_time", "wall time (s)"), ("env_steps", "environment steps")):
        result = invoke(seeds[0], "-x", x_axis, "-o", tmp_path / f"{x_axis}.png")
        assert result.exit_code == 0 and figures[-1].axes[-1].get_xlabel() == label


def test_aggregate_draws_one_curve_per_column_with_a_band(seeds, tmp_path, figures):
    result = invoke(*seeds, "--aggregate", "median", "-y", "fitness_mean", "-o", tmp_path / "m.png")
    assert result.exit_code == 0, result.output
    ax = figures[-1].axes[0]
    lines = ax.get_lines()
    assert len(lines) == 1 and lines[0].get_label() == "tiny fitness_mean: median of 3 runs (IQR)"
    histories = []
    for path in seeds:
        with h5py.File(path, "r") as f:
            histories.append(f["history"][()]["fitness_mean"])
    np.testing.assert_allclose(lines[0].get_ydata(), np.median(histories, axis=0))
    assert len(ax.collections) == 1  # the band
    result = invoke(*seeds, "--aggregate", "mean", "--group-by", "seed", "-x", "env_steps", "-o", tmp_path / "g.png")
    assert result.exit_code == 0, result.output
    assert len(figures[-1].axes[0].get_lines()) == 3 * 3  # 3 seeds x 3 default columns


def test_aggregate_errors_are_one_line(seeds, tmp_path):
    one_line_error(invoke(*seeds, "--group-by", "algorithm", "-o", tmp_path / "x.png"), "--group-by", "--aggregate")
    one_line_error(invoke(*seeds, "--aggregate", "median", "--group-by", "nothere/*", "-o", tmp_path / "x.png"),
                   "no run file matches nothere/*")
    one_line_error(invoke(*seeds, "--aggregate", "median", "-y", "qd_score", "-o", tmp_path / "x.png"),
                   "no qd_score")
    assert not (tmp_path / "x.png").exists()
