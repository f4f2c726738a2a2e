"""The readers (``mpies.io.history``, ``.summary``, ``.archive``, ``.policy``) and ``mpies inspect`` /
``mpies plot`` on files of every history family, written by hand: schema version 2 (a family's
columns, ``history_family``) and version 1 (mpies 0.1: one layout, ``archive_filled = -1`` outside
quality diversity, POET's active pairs in it)."""

import json

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import one_line_error
from mpies import config as config_mod
from mpies.cli import main
from mpies.io import RunFileError, open_run, poet_tables
from mpies.io.archive import read_archive, read_archive_run
from mpies.io.history import history_family, read_family_history, read_run_history
from mpies.io.policy import read_policy
from mpies.io.schema import V1_HISTORY_DTYPE, history_dtype
from mpies.io.writer import create_group
from mpies.io.summary import solved_score, summarize
from mpies.qd.archives import CVTArchive, GridArchive

GENERATIONS = 4
ALGORITHM = {"search": "openai_es", "qd": "map_elites", "poet": "poet"}
ENV = {"search": "CartPole-v1", "qd": "arm", "poet": "bipedal_terrain"}


def grid_archive() -> GridArchive:
    """A 4 x 4 grid over [-1, 1]^2 of 3-parameter solutions, 5 cells filled."""
    archive = GridArchive(2, [4, 4], -1.0, 1.0, 3)
    d = np.array([[-0.9, -0.9], [0.1, 0.2], [0.6, -0.4], [0.9, 0.9], [-0.3, 0.7]])
    archive.add(np.arange(15.0).reshape(5, 3), -np.arange(5.0), d, np.full(5, -1), np.arange(5))
    return archive


def history_rows(family: str, version: int) -> np.ndarray:
    """``GENERATIONS`` rows with recognisable values in every column."""
    dtype = history_dtype(family) if version == 2 else V1_HISTORY_DTYPE
    rows = np.zeros(GENERATIONS, dtype)
    g = np.arange(GENERATIONS)
    for name in dtype.names:
        rows[name] = 10 * g + 1 if np.issubdtype(dtype[name], np.integer) else 0.5 * g + 0.25
    rows["generation"] = g
    if version == 1:
        rows["archive_filled"] = 3 + g if family != "search" else -1
        if family == "search":
            rows["qd_score"] = np.nan
    return rows


def write_run(path, family: str, version: int = 2, archive=None):
    """A finished run file of ``family`` as the writer of schema ``version`` lays it out."""
    overrides = {"search": {}, "qd": {"strategy": {"archive": "grid", "bins": [4, 4], "lower": [-1, -1],
                                                   "upper": [1, 1]}},
                 "poet": {"strategy": {"solved_score": 5.0}}}[family]
    cfg = config_mod.from_dict({"algorithm": ALGORITHM[family], "env": ENV[family],
                                "generations": 10, **overrides})
    with h5py.File(path, "w") as f:
        f.attrs.update({"schema_version": version, "algorithm": ALGORITHM[family], "env": ENV[family],
                        "seed": 0, "ranks": 2, "num_params": 3, "config": config_mod.to_toml(cfg),
                        "status": "finished", "host": "test", "start_time": "", "end_time": "",
                        "mpies_version": "test"})
        if version == 2:
            f.attrs["history_family"] = family
        f.create_dataset("history", data=history_rows(family, version), maxshape=(None,))
        f["state/pointer"] = np.array([0, GENERATIONS], dtype=np.int64)
        slot = f.create_group("state/slot0")
        slot["mean"] = np.array([1.0, 2.0, 3.0])
        slot["normalizer/sum"], slot["normalizer/sumsq"] = np.array([4.0, 8.0]), np.array([10.0, 40.0])
        slot["normalizer/count"] = np.array(4.0)
        best = f.create_group("best")
        best["params"], best["fitness"], best["generation"] = np.array([3.0, 2.0, 1.0]), np.array(7.5), np.array(2)
        best["obs_mean"], best["obs_std"] = np.zeros(2), np.ones(2)
        if family == "qd":
            archive = archive or grid_archive()
            create_group(f, "archive", archive.state, archive.geometry())
        if family == "poet":
            poet_tables.create(f)
            terrain = np.array([1.0, 0.0, 0.0, 0.0, 0.0])
            events = [(0, b"created", 0, -1, -1, 1.0, terrain, 1), (2, b"created", 1, 0, 0, 2.0, terrain * 2, 2),
                      (3, b"transfer_direct", 1, 0, -1, 6.0, terrain * 2, 2)]
            scores = [(t, p, 1.0 + t + p, 2.0, 0.1) for t in range(GENERATIONS) for p in (0, 1) if p == 0 or t >= 2]
            poet_tables.append(f, events, scores)
    return path


@pytest.fixture(params=[1, 2], ids=["v1", "v2"])
def version(request):
    return request.param


# --------------------------------------------------------------------------- history
@pytest.mark.parametrize("family", ["search", "qd", "poet"])
def test_family_and_columns_of_either_version(tmp_path, family, version):
    path = write_run(tmp_path / f"{family}.h5", family, version)
    with open_run(path) as f:
        assert history_family(f) == family
        history = read_family_history(f)
    expected = history_dtype(family).names
    assert set(history.dtype.names) <= set(expected)
    assert list(history.dtype.names) == [n for n in expected if n in history.dtype.names]
    if version == 2:
        assert history.dtype == history_dtype(family)
    if family == "poet" and version == 1:  # what version 1 kept elsewhere, under its own name
        assert "archive_filled" not in history.dtype.names and "sigma" not in history.dtype.names
        np.testing.assert_array_equal(history["active_pairs"], 3 + np.arange(GENERATIONS))
        np.testing.assert_array_equal(history["score_max"], 0.5 * np.arange(GENERATIONS) + 0.25)
        assert "pairs_created" not in history.dtype.names  # never stored by version 1
    if family == "search":
        assert "archive_filled" not in history.dtype.names and "qd_score" not in history.dtype.names


def test_a_v1_qd_file_without_rows_is_known_by_its_archive(tmp_path):
    path = write_run(tmp_path / "qd.h5", "qd", version=1)
    with h5py.File(path, "a") as f:
        f["history"].resize((0,))
    with open_run(path) as f:
        assert history_family(f) == "qd"


# --------------------------------------------------------------------------- inspect
@pytest.mark.parametrize("family", ["search", "qd", "poet"])
def test_inspect_summarises_every_family(tmp_path, family, version):
    path = write_run(tmp_path / f"{family}.h5", family, version)
    result = CliRunner().invoke(main, ["inspect", "--json", str(path)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary == summarize(path)
    assert summary["history_family"] == family and summary["generations_done"] == GENERATIONS
    assert summary["generations_total"] == 10 and summary["checkpoint_generation"] == GENERATIONS
    assert summary["last_fitness_max"] == 0.5 * (GENERATIONS - 1) + 0.25
    assert summary["best_eval_return"] == 7.5 and summary["best_generation"] == 2
    if family == "qd":
        assert summary["archive_filled"] == (3 + GENERATIONS - 1 if version == 1 else 10 * (GENERATIONS - 1) + 1)
        assert isinstance(summary["archive_filled"], int) and summary["qd_score"] is not None
    else:
        assert "archive_filled" not in summary and "qd_score" not in summary
    if family == "poet":
        assert summary["last_eval_return"] is None  # POET has no evaluation column
        assert summary["active_pairs"] == (3 + GENERATIONS - 1 if version == 1 else 10 * (GENERATIONS - 1) + 1)
        poet = summary["poet"]
        assert (poet["pairs_created"], poet["transfers_accepted"], poet["pairs_removed"]) == (2, 1, 0)
        assert poet["solved_score"] == 5.0 and poet["hardest_solved"]["pair_id"] == 1
    else:
        assert summary["last_eval_return"] == 0.5 * (GENERATIONS - 1) + 0.25 and "poet" not in summary

    table = CliRunner().invoke(main, ["inspect", str(path), "--tail", "2"])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    header = next(line for line in lines if line.split()[:1] == ["gen"])
    columns = {"search": ["eval", "sigma"], "qd": ["eval", "filled", "qd score"],
               "poet": ["pairs", "best pair", "sigma" if version == 1 else "fit max"]}[family]
    assert all(c in header for c in columns), header
    rows = lines[lines.index(header) + 1:lines.index(header) + 3]
    assert [int(r.split()[0]) for r in rows] == [GENERATIONS - 2, GENERATIONS - 1]


def test_solved_score_of_a_config_this_mpies_no_longer_loads():
    assert solved_score('algorithm = "poet"\n[strategy]\nsolved_score = 12.5\nno_such_key = 1\n') == 12.5
    default = config_mod.from_dict({"algorithm": "poet", "env": "bipedal_terrain"}).strategy.solved_score
    assert solved_score("not toml [") == default


# --------------------------------------------------------------------------- plot
def invoke_plot(*args):
    return CliRunner().invoke(main, ["plot", *map(str, args)])


def curve_labels(fig):
    return {ax.get_ylabel(): [line.get_label().split()[-1] for line in ax.get_lines()] for ax in fig.axes}


@pytest.mark.parametrize("family, panels", [
    ("search", {"return": ["fitness_mean", "fitness_max", "eval_return"]}),
    ("qd", {"QD score": ["qd_score"], "filled cells": ["archive_filled"]}),
])
def test_plot_draws_each_familys_default_curves(tmp_path, figures, family, panels, version):
    path = write_run(tmp_path / f"{family}.h5", family, version)
    result = invoke_plot(path, "-o", tmp_path / "c.png")
    assert result.exit_code == 0, result.output
    assert curve_labels(figures[-1]) == panels
    np.testing.assert_array_equal(figures[-1].axes[0].get_lines()[0].get_xdata(), np.arange(GENERATIONS))


def test_plot_of_several_poet_files_draws_their_curves(tmp_path, figures, version):
    a, b = write_run(tmp_path / "a.h5", "poet", version), write_run(tmp_path / "b.h5", "poet", version)
    result = invoke_plot(a, b, "-o", tmp_path / "c.png")
    assert result.exit_code == 0, result.output
    assert curve_labels(figures[-1]) == {"return": ["fitness_mean", "fitness_max", "score_max"] * 2}
    result = invoke_plot(a, "-y", "active_pairs", "-y", "fitness_max", "-o", tmp_path / "p.png")
    assert result.exit_code == 0, result.output
    assert curve_labels(figures[-1]) == {"active_pairs (pairs)": ["active_pairs"], "fitness_max (return)": ["fitness_max"]}


def test_plot_of_one_poet_file_draws_its_pairs(tmp_path, figures, version):
    path = write_run(tmp_path / "poet.h5", "poet", version)
    result = invoke_plot(path, "-o", tmp_path / "poet.png")
    assert result.exit_code == 0, result.output
    assert "2 pairs created, 1 transfers accepted, 0 removed" in figures[-1].axes[0].get_title()


def test_plot_y_offers_every_familys_columns():
    result = CliRunner().invoke(main, ["plot", "--help"])
    for name in ("qd_score", "new_cells", "active_pairs", "sigma_mean", "update_norm"):
        assert name in result.output


@pytest.mark.parametrize("family, field", [("search", "qd_score"), ("search", "archive_filled"),
                                           ("qd", "sigma"), ("poet", "eval_return")])
def test_plot_of_a_column_a_file_lacks_is_a_one_line_error(tmp_path, family, field, version):
    path = write_run(tmp_path / f"{family}.h5", family, version)
    png = tmp_path / "x.png"
    one_line_error(invoke_plot(path, "-y", "fitness_max", "-y", field, "-o", png),
                   f"{family}.h5", f"no {field}", f"{family} run")
    assert not png.exists()
    other = write_run(tmp_path / "other.h5", "qd" if family != "qd" else "search", version)
    one_line_error(invoke_plot(other, path, "-y", field, "-o", png), f"{family}.h5", f"no {field}")
    assert not png.exists()


def test_plot_output_is_checked_before_any_work(tmp_path):
    missing_run = tmp_path / "missing.h5"  # the output is checked first: no "no such file" error
    one_line_error(invoke_plot(missing_run, "-o", tmp_path / "no" / "such" / "dir.png"),
                   "-o", "does not exist")
    one_line_error(invoke_plot(missing_run, "-o", tmp_path / "curve.xyz"), "-o", "'.xyz'", "png, ps")
    path = write_run(tmp_path / "search.h5", "search")
    result = invoke_plot(path, "-o", tmp_path / "curve")  # no extension: matplotlib's png
    assert result.exit_code == 0 and result.output.strip() == f"wrote {tmp_path / 'curve.png'}"
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    result = invoke_plot(path, "-o", tmp_path / "curve.svg")
    assert result.exit_code == 0 and (tmp_path / "curve.svg").read_text().lstrip().startswith("<?xml")


# --------------------------------------------------------------------------- archives, policies
@pytest.mark.parametrize("make", ["grid", "cvt"])
def test_read_archive_rebuilds_the_stored_archive(tmp_path, make, version):
    if make == "grid":
        archive = grid_archive()
    else:
        archive = CVTArchive(3, 80, -1.0, 1.0, 4, seed=1, samples=800, iterations=3)  # centroids > 64 values
        d = np.random.default_rng(0).uniform(-1, 1, (30, 3))
        archive.add(np.ones((30, 4)), d.sum(axis=1), d, np.full(30, -1), np.arange(30))
    path = write_run(tmp_path / "qd.h5", "qd", version, archive=archive)
    run = read_archive_run(path)
    assert type(run.archive) is type(archive) and run.archive.geometry().keys() == archive.geometry().keys()
    for name, value in archive.state.items():
        np.testing.assert_array_equal(run.archive.state[name], value)
    np.testing.assert_array_equal(run.archive.filled_cells(), archive.filled_cells())
    assert (run.env, run.algorithm, run.status) == ("arm", "map_elites", "finished")
    np.testing.assert_allclose(run.normalizer.mean_std()[0], [1.0, 2.0])
    assert run.history.size == GENERATIONS


def test_read_archive_errors_are_one_line(tmp_path):
    path = write_run(tmp_path / "es.h5", "search")
    with open_run(path) as f, pytest.raises(RunFileError, match=r"es\.h5: no /archive .*openai_es.*MAP-Elites"):
        read_archive(f)
    broken = write_run(tmp_path / "qd.h5", "qd")
    with h5py.File(broken, "a") as f:
        del f["archive/params"]
        f["archive"].attrs["kind"] = "hexagons"
    with open_run(broken) as f, pytest.raises(RunFileError, match="lacks params"):
        read_archive(f)
    with h5py.File(broken, "a") as f:
        f["archive/params"] = np.zeros((16, 3))
    with open_run(broken) as f, pytest.raises(RunFileError, match="kind 'hexagons'"):
        read_archive(f)


def test_read_policy_best_and_final(tmp_path):
    path = write_run(tmp_path / "es.h5", "search")
    with open_run(path) as f:
        best, final = read_policy(f, "best"), read_policy(f, "final")
    np.testing.assert_array_equal(best.params, [3.0, 2.0, 1.0])
    np.testing.assert_array_equal(final.params, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(final.obs_mean, [1.0, 2.0])
    np.testing.assert_allclose(final.obs_std, [np.sqrt(1.5), np.sqrt(6.0)])
    with h5py.File(path, "a") as f:
        f["best/generation"][()] = -1
        f["state/pointer"][...] = [-1, 0]
    with open_run(path) as f:
        with pytest.raises(RunFileError, match="no evaluation has run yet"):
            read_policy(f, "best")
        with pytest.raises(RunFileError, match="before its first checkpoint"):
            read_policy(f, "final")


def test_read_run_history_labels_the_curves(tmp_path):
    run = read_run_history(write_run(tmp_path / "qd.h5", "qd"))
    assert (run.env, run.family, run.history.size) == ("arm", "qd", GENERATIONS)
