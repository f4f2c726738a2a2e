"""The progress line: generations counted as the file counts them, the best evaluation so far,
elapsed time and what is left; quality diversity shows the archive instead of an empty eval."""

import re

import h5py
import numpy as np

import mpies
from conftest import SPHERE
from mpies import driver
from mpies.io.summary import summarize

SPHERE_EVALUATED = SPHERE + """
[rollout]
eval_every = 2
eval_episodes = 1
[output]
checkpoint_every = 2
"""
LINE = re.compile(r"^gen +(\d+)/(\d+) \| fit mean +\S+ max +\S+ \| eval +(\S+) \| best +(\S+) \| +\S+k steps/s \| "
                  r"(\S+) elapsed, (\S+) left \| roll \S+ gath \S+ upd \S+ io \S+ s$")


def seconds(text: str) -> float:
    """``12.3s``, ``M:SS`` or ``H:MM:SS`` as seconds."""
    if text.endswith("s"):
        return float(text[:-1])
    parts = [int(p) for p in text.split(":")]
    return float(sum(p * 60 ** i for i, p in enumerate(reversed(parts))))


def progress(lines):
    return [LINE.match(line) for line in lines if line.startswith("gen ")]


def test_progress_counts_generations_as_the_file_and_shows_the_best_so_far(tmp_path):
    config = tmp_path / "sphere.toml"
    config.write_text(SPHERE_EVALUATED)
    lines = []
    out = mpies.run(config, path=tmp_path / "a.h5", log=lines.append, generations=6)
    rows = progress(lines)
    assert all(rows) and len(rows) == 6, lines
    with h5py.File(out.path, "r") as f:
        history = f["history"][()]
        best_generation, best = int(f["best/generation"][()]), float(f["best/fitness"][()])
    assert [int(m.group(1)) for m in rows] == list(history["generation"]) == [1, 2, 3, 4, 5, 6]
    evals = [np.nan if m.group(3) == "-" else float(m.group(3)) for m in rows]
    assert np.allclose(evals, history["eval_return"], equal_nan=True, atol=0.005)
    # "best" is the running maximum of the evaluations, and ends at /best, found in best_generation
    shown_best = [np.nan if m.group(4) == "-" else float(m.group(4)) for m in rows]
    running = np.fmax.accumulate(np.where(np.isnan(history["eval_return"]), -np.inf, history["eval_return"]))
    assert np.allclose(shown_best, np.where(np.isinf(running), np.nan, running), equal_nan=True, atol=0.005)
    assert history["eval_return"][best_generation - 1] == best == running[-1]
    assert summarize(out.path)["best_generation"] == best_generation
    assert int(rows[best_generation - 1].group(1)) == best_generation
    elapsed = [seconds(m.group(5)) for m in rows]
    assert elapsed == sorted(elapsed) and seconds(rows[-1].group(6)) == 0.0


def test_a_resumed_run_counts_on_and_its_wall_time_adds_up(tmp_path):
    config = tmp_path / "sphere.toml"
    config.write_text(SPHERE_EVALUATED)
    first, second = [], []
    mpies.run(config, path=tmp_path / "a.h5", log=first.append, generations=4)
    with h5py.File(tmp_path / "a.h5", "r") as f:
        before = f["history"][()]["wall_time"]
    out = driver.resume(tmp_path / "a.h5", generations=6, log=second.append)
    assert out.status == "finished"
    rows = progress(second)
    assert [int(m.group(1)) for m in rows] == [5, 6]
    with h5py.File(tmp_path / "a.h5", "r") as f:
        wall = f["history"][()]["wall_time"]
    assert np.array_equal(wall[:4], before) and wall[4] > wall[3] and wall[5] > wall[4]
    assert seconds(rows[0].group(5)) >= round(before[3], 1)


def test_map_elites_progress_shows_coverage_and_qd_score(tmp_path):
    lines = []
    mpies.run("arm-map-elites", path=tmp_path / "arm.h5", log=lines.append, generations=3,
              strategy={"population": 8, "bins": [5, 5]})
    rows = [line for line in lines if line.startswith("gen ")]
    assert len(rows) == 3
    with h5py.File(tmp_path / "arm.h5", "r") as f:
        history = f["history"][()]
    for line, row in zip(rows, history):
        filled = int(row["archive_filled"])
        assert f"| cells {filled}/25 ({filled / 25:.1%}) qd {row['qd_score']:.4g}" in line, line
        assert "eval" not in line  # the arm config evaluates nothing: no empty eval column
