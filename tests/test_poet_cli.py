"""``mpies inspect`` and ``mpies plot`` on a POET run: the pairs, the counts, the score curves and
the environment family tree."""

import json
import re
import shutil

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import POET_TINY, one_line_error, run_mpies, undocumented
from mpies.cli import main
from mpies.io import poet_tables



@pytest.fixture(scope="module")
def poet_run(tmp_path_factory):
    """A 6-iteration POET run on 2 ranks (a few pairs, transfers between them)."""
    d = tmp_path_factory.mktemp("poet_cli")
    config, out = d / "poet-tiny.toml", d / "poet.h5"
    config.write_text(POET_TINY)
    run_mpies(2, "run", config, "-o", out, timeout=180)
    return out




def test_every_dataset_of_a_poet_run_is_documented(poet_run):
    with h5py.File(poet_run, "r") as f:
        assert "poet/pairs" in f and len(f["poet/pairs"]) >= 1 and f["poet/events"].shape[0] >= 2
    assert undocumented(poet_run) == []


def _events(path):
    with h5py.File(path, "r") as f:
        return poet_tables.read(f)[0]


def _counts(events):
    kinds = events["kind"]
    return (int(np.sum(kinds == b"created")), int(np.sum(np.char.startswith(kinds, b"transfer"))),
            int(np.sum(kinds == b"removed")))


def _with_events(src, dst, extra_events):
    """A copy of the run file ``src`` with ``extra_events`` appended to /poet/events."""
    shutil.copy(src, dst)
    with h5py.File(dst, "a") as f:
        data = f["poet/events"]
        n = data.shape[0]
        data.resize((n + len(extra_events),))
        data[n:] = np.array(extra_events, dtype=poet_tables.EVENT_DTYPE)
    return dst


def test_inspect_lists_the_pairs_and_counts(poet_run):
    events = _events(poet_run)
    created = [int(i) for i in events["pair_id"][events["kind"] == b"created"]]
    assert len(created) >= 2  # the run must have created children for the test to mean anything
    n_created, n_transfers, n_removed = _counts(events)

    result = CliRunner().invoke(main, ["inspect", str(poet_run)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["pair", "parent"])
    rows = lines[header + 1:header + 1 + len(created)]
    assert [int(row.split()[0]) for row in rows] == created
    assert "rough" in rows[0] and "easy" in rows[0]
    assert (f"{n_created} pairs created, {n_transfers} transfers accepted, {n_removed} removed; "
            f"hardest terrain solved (score >= 230): none") in lines[header + 1 + len(created)]

    summary = json.loads(CliRunner().invoke(main, ["inspect", "--json", str(poet_run)]).output)
    poet = summary["poet"]
    assert [p["pair_id"] for p in poet["pairs"]] == created
    assert (poet["pairs_created"], poet["transfers_accepted"], poet["pairs_removed"]) == \
        (n_created, n_transfers, n_removed)
    assert poet["solved_score"] == 230.0 and poet["hardest_solved"] is None
    transfers_in = {p["pair_id"]: p["transfers_in"] for p in poet["pairs"]}
    for i in created:
        assert transfers_in[i] == int(np.sum(np.char.startswith(events["kind"], b"transfer")
                                             & (events["pair_id"] == i)))
    assert all(p["best_score"] is None or p["best_score"] >= p["score"] for p in poet["pairs"])


def test_inspect_reports_removals_and_the_hardest_solved_terrain(poet_run, tmp_path):
    events = _events(poet_run)
    last = int(events["iteration"].max())
    removed = _with_events(poet_run, tmp_path / "removed.h5",
                           [(last + 1, b"removed", 0, -1, -1, np.nan, np.zeros(5), 0)])
    with h5py.File(removed, "a") as f:  # every pair has solved its terrain
        config = str(f.attrs["config"])
        if re.search(r"(?m)^solved_score\s*=", config):
            config = re.sub(r"(?m)^solved_score\s*=.*$", "solved_score = -1000.0", config)
        else:
            config = config.replace("[strategy]", "[strategy]\nsolved_score = -1000.0")
        f.attrs["config"] = config
    poet = json.loads(CliRunner().invoke(main, ["inspect", "--json", str(removed)]).output)["poet"]
    assert poet["pairs_removed"] == 1 and poet["pairs"][0]["removed_at"] == last + 1
    assert poet["solved_score"] == -1000.0
    hardest = poet["hardest_solved"]
    assert hardest is not None and hardest["pair_id"] in [p["pair_id"] for p in poet["pairs"]]
    table = CliRunner().invoke(main, ["inspect", str(removed)]).output
    assert f"1 removed; hardest terrain solved (score >= -1000): pair {hardest['pair_id']} (" in table


def test_plot_draws_scores_and_family_tree(poet_run, tmp_path, figures):
    events = _events(poet_run)
    created = events[events["kind"] == b"created"]
    png = tmp_path / "poet.png"
    result = CliRunner().invoke(main, ["plot", str(poet_run), "-o", str(png)])
    assert result.exit_code == 0, result.output
    assert png.stat().st_size > 0 and png.read_bytes()[:4] == b"\x89PNG"
    (fig,) = figures
    scores_ax, tree_ax = fig.axes[0], fig.axes[2]
    labels = [line.get_label() for line in scores_ax.get_lines()]
    for pair_id in created["pair_id"]:
        assert any(label.startswith(f"{pair_id}: rough") for label in labels), labels
    (nodes,) = [c for c in tree_ax.collections if c.get_gid() == "poet-pairs"]
    offsets = nodes.get_offsets()
    assert len(offsets) == created.size
    assert np.array_equal(np.asarray(offsets)[:, 0], created["iteration"].astype(float))
    (edges,) = [c for c in tree_ax.collections if c.get_gid() == "poet-edges"]
    assert len(edges.get_segments()) == int(np.sum(created["parent_id"] >= 0))


def test_plot_other_modes_and_errors(poet_run, tmp_path, figures):
    cli = CliRunner()
    png = tmp_path / "curves.png"
    # -y asks for learning curves: one panel, as for any run
    result = cli.invoke(main, ["plot", str(poet_run), "-y", "fitness_max", "-o", str(png)])
    assert result.exit_code == 0, result.output
    assert len(figures[-1].axes) == 1
    result = cli.invoke(main, ["plot", str(poet_run), "-o", str(png), "-x", "env_steps"])
    assert result.exit_code == 0 and png.stat().st_size > 0, result.output
    # a POET file without pairs yet: a one-line error
    empty = tmp_path / "empty.h5"
    shutil.copy(poet_run, empty)
    with h5py.File(empty, "a") as f:
        f["poet/events"].resize((0,))
    one_line_error(cli.invoke(main, ["plot", str(empty), "-o", str(png)]), "no POET pairs")
    one_line_error(cli.invoke(main, ["plot", str(poet_run), "--archive", "-o", str(png)]), "no /archive")
