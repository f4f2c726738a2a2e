"""``mpies plot`` for quality-diversity runs: archive heatmaps (``--archive``), the nested-grid
layout of archives with more than 2 descriptor dimensions, and the QD curves by default."""

import shutil

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import one_line_error, run_mpies
from mpies.cli import main
from mpies.cli.plot_cmd import nested_grid_image
from mpies.io.writer import create_group
from mpies.qd.archives import CVTArchive, GridArchive


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 10-generation arm MAP-Elites run (2-D grid), a CVT one, and a 1-generation CartPole run."""
    d = tmp_path_factory.mktemp("qdruns")
    arm, cvt, cartpole = d / "arm.h5", d / "cvt.h5", d / "cartpole.h5"
    run_mpies(None, "run", "arm-map-elites", "--set", "generations=10", "-o", arm)
    run_mpies(None, "run", "arm-map-elites", "--set", "generations=3", "--set", "strategy.archive=cvt",
              "--set", "strategy.cells=64", "-o", cvt)
    run_mpies(None, "run", "cartpole", "--set", "generations=1", "-o", cartpole)
    return {"arm": arm, "cvt": cvt, "cartpole": cartpole}


def invoke(*args):
    return CliRunner().invoke(main, ["plot", *map(str, args)])


def assert_png(path):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def replace_archive(src, dst, archive):
    """A copy of the run file ``src`` whose /archive holds ``archive`` (as the writer lays it out)."""
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        del f["archive"]
        create_group(f, "archive", archive.state, archive.geometry())
    return dst


# --------------------------------------------------------------------------- --archive
def test_archive_heatmap_of_a_2d_grid_run(runs, tmp_path, figures):
    png = tmp_path / "map.png"
    result = invoke(runs["arm"], "--archive", "-o", png)
    assert result.exit_code == 0, result.output
    assert_png(png)
    with h5py.File(runs["arm"], "r") as f:
        occupied, fitness = f["archive/occupied"][()], f["archive/fitness"][()]
        bins = f["archive"].attrs["bins"]
    ax = figures[-1].axes[0]
    image = np.ma.filled(ax.images[0].get_array().astype(float), np.nan)
    assert image.shape == (bins[1], bins[0])  # rows: descriptor 1, columns: descriptor 0
    expected = np.where(occupied, fitness, np.nan).reshape(tuple(bins)).T
    np.testing.assert_array_equal(image, expected)  # empty cells blank (NaN), the rest the elite
    assert 0 < occupied.sum() < occupied.size
    assert ax.images[0].get_extent() == [-1.0, 1.0, -1.0, 1.0]  # axes span the descriptor bounds
    assert f"{occupied.sum()}/{occupied.size} cells filled" in ax.get_title()


def test_archive_heatmap_of_a_cvt_run(runs, tmp_path, figures):
    png = tmp_path / "cvt.png"
    result = invoke(runs["cvt"], "--archive", "-o", png)
    assert result.exit_code == 0, result.output
    assert_png(png)
    with h5py.File(runs["cvt"], "r") as f:
        group = f["archive"]
        centroids = group["centroids"][()] if "centroids" in group else group.attrs["centroids"]
        occupied, fitness = group["occupied"][()], group["fitness"][()]
    image = np.ma.filled(figures[-1].axes[0].images[0].get_array().astype(float), np.nan)
    # every filled cell shows its fitness somewhere (its Voronoi region), and nothing else shows
    shown = set(np.unique(image[~np.isnan(image)]))
    assert shown <= set(fitness[occupied]) and len(shown) >= 0.8 * occupied.sum()
    assert centroids.shape == (64, 2)


def test_archive_heatmap_of_4d_grid_and_3d_cvt_files(runs, tmp_path, figures):
    rng = np.random.default_rng(0)
    grid = GridArchive(4, [3, 4, 2, 5], -1.0, 1.0, 10)
    d = rng.uniform(-1, 1, (200, 4))
    grid.add(np.zeros((200, 10)), -np.sum(d ** 2, axis=1), d, np.full(200, -1), np.arange(200))
    path = replace_archive(runs["arm"], tmp_path / "grid4.h5", grid)
    result = invoke(path, "--archive", "-o", tmp_path / "grid4.png")
    assert result.exit_code == 0, result.output
    image = np.ma.filled(figures[-1].axes[0].images[0].get_array().astype(float), np.nan)
    expected = nested_grid_image(np.where(grid.state["occupied"], grid.state["fitness"], np.nan), grid.bins)
    np.testing.assert_array_equal(image, expected)
    assert image.shape == (4 * 5, 3 * 2)

    cvt = CVTArchive(3, 40, -1.0, 1.0, 10, seed=0, samples=2000, iterations=5)
    d = rng.uniform(-1, 1, (100, 3))
    cvt.add(np.zeros((100, 10)), -np.sum(d ** 2, axis=1), d, np.full(100, -1), np.arange(100))
    path = replace_archive(runs["arm"], tmp_path / "cvt3.h5", cvt)
    result = invoke(path, "--archive", "-o", tmp_path / "cvt3.png")
    assert result.exit_code == 0, result.output
    assert_png(tmp_path / "cvt3.png")


def test_archive_on_a_file_without_archive_is_a_one_line_error(runs, tmp_path):
    result = invoke(runs["cartpole"], "--archive", "-o", tmp_path / "x.png")
    one_line_error(result, "cartpole.h5", "no /archive", "openai_es", "MAP-Elites")
    assert not (tmp_path / "x.png").exists()
    one_line_error(invoke(runs["arm"], runs["arm"], "--archive", "-o", tmp_path / "y.png"), "one run file")


# --------------------------------------------------------------------------- nested grids
def test_nested_grid_image_places_every_cell_of_a_4d_grid():
    bins = (3, 4, 2, 5)  # all different, so that any mixed-up axis shows
    image = nested_grid_image(np.arange(np.prod(bins)), bins)
    assert image.shape == (4 * 5, 3 * 2)
    for i in np.ndindex(*bins):
        cell = np.ravel_multi_index(i, bins)  # GridArchive's numbering
        row, col = i[1] * bins[3] + i[3], i[0] * bins[2] + i[2]
        assert image[row, col] == cell, (i, row, col)
    # outer block (i0, i1) holds exactly the cells of dims (0, 1) = (i0, i1), an inner image over (2, 3)
    block = image[1 * 5:2 * 5, 2 * 2:3 * 2]
    assert np.all(np.unravel_index(block, bins)[0] == 2) and np.all(np.unravel_index(block, bins)[1] == 1)


def test_nested_grid_image_agrees_with_grid_archive_indexing():
    archive = GridArchive(4, [5, 5, 5, 5], [0, 0, 0, 0], [1, 2, 3, 4], 1)
    descriptor = np.array([[0.75, 0.3, 2.9, 1.2]])  # bins (3, 0, 4, 1)
    values = np.full(archive.cells, np.nan)
    values[archive.index_of(descriptor)] = 7.0
    image = nested_grid_image(values, archive.bins)
    assert np.argwhere(~np.isnan(image)).tolist() == [[0 * 5 + 1, 3 * 5 + 4]]


def test_nested_grid_image_in_2d_and_odd_dimensions():
    values = np.arange(12)
    np.testing.assert_array_equal(nested_grid_image(values, (3, 4)), values.reshape(3, 4).T)
    one = nested_grid_image(np.arange(5), (5,))
    np.testing.assert_array_equal(one, [[0, 1, 2, 3, 4]])
    three = nested_grid_image(np.arange(2 * 3 * 4), (2, 3, 4))  # trailing dimension of one bin
    assert three.shape == (3, 8)
    assert three[2, 1 * 4 + 3] == np.ravel_multi_index((1, 2, 3), (2, 3, 4))
    with pytest.raises(ValueError):
        nested_grid_image(np.arange(5), (2, 3))


# --------------------------------------------------------------------------- curves
def curve_labels(fig):
    return {ax.get_ylabel(): [line.get_label() for line in ax.get_lines()] for ax in fig.axes}


def test_qd_runs_default_to_qd_curves(runs, tmp_path, figures):
    result = invoke(runs["arm"], "-o", tmp_path / "curves.png")
    assert result.exit_code == 0, result.output
    assert_png(tmp_path / "curves.png")
    labels = curve_labels(figures[-1])
    assert labels == {"QD score": ["arm (arm) qd_score"], "filled cells": ["arm (arm) archive_filled"]}
    with h5py.File(runs["arm"], "r") as f:
        history = f["history"][()]
    qd = figures[-1].axes[0].get_lines()[0]
    np.testing.assert_array_equal(qd.get_ydata(), history["qd_score"])
    filled = figures[-1].axes[1].get_lines()[0]
    np.testing.assert_array_equal(filled.get_ydata(), history["archive_filled"])

    # an explicit -y wins, each requested column in a panel of its own labelled with its unit
    result = invoke(runs["arm"], "-y", "fitness_max", "-y", "qd_score", "-o", tmp_path / "y.png")
    assert result.exit_code == 0, result.output
    assert curve_labels(figures[-1]) == {"fitness_max (return)": ["arm (arm) fitness_max"],
                                         "QD score": ["arm (arm) qd_score"]}


def test_non_qd_runs_keep_the_fitness_curves(runs, tmp_path, figures):
    result = invoke(runs["cartpole"], "-o", tmp_path / "c.png")
    assert result.exit_code == 0, result.output
    fig = figures[-1]
    assert len(fig.axes) == 1 and fig.axes[0].get_ylabel() == "return"
    assert [line.get_label().split()[-1] for line in fig.axes[0].get_lines()] == [
        "fitness_mean", "fitness_max", "eval_return"]
    # a QD field of a non-QD run: a one-line error, and no image
    result = invoke(runs["cartpole"], "-y", "archive_filled", "-o", tmp_path / "q.png")
    one_line_error(result, "cartpole.h5", "no archive_filled", "search run")
    assert not (tmp_path / "q.png").exists()
    # mixed: each run gets its own defaults
    result = invoke(runs["arm"], runs["cartpole"], "-o", tmp_path / "m.png")
    assert result.exit_code == 0, result.output
    labels = curve_labels(figures[-1])
    assert set(labels) == {"QD score", "filled cells", "return"}
    assert all("cartpole" in label for label in labels["return"])
