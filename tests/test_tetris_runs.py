"""Tetris through the driver: CEM runs are rank-count invariant and resume exactly."""

import pytest

from conftest import assert_bitwise_equal, load_result, run_mpies
from mpies import config as cfg
from mpies.config import ConfigError
from mpies.tasks import make_task

SHORT = ["--set", "generations=5", "--set", "strategy.population=20", "--set", "rollout.eval_episodes=6"]


def test_short_cem_run_is_rank_count_invariant_and_resumes_exactly(tmp_path):
    results = {}
    for ranks in (1, 2, 4):
        out = tmp_path / f"n{ranks}.h5"
        run_mpies(ranks, "run", "tetris-cem-small", "-o", out, *SHORT)
        results[ranks] = load_result(out)
    assert_bitwise_equal(results[1], results[2])
    assert_bitwise_equal(results[1], results[4])
    assert results[1]["history/fitness_max"].max() > 0  # some sample cleared lines
    resumed = tmp_path / "resumed.h5"
    run_mpies(2, "run", "tetris-cem-small", "-o", resumed, *SHORT, "--stop-after", "2", check_rc=75)
    run_mpies(4, "resume", resumed)
    assert_bitwise_equal(results[1], load_result(resumed))


@pytest.mark.parametrize("kwargs, field", [
    ("{height = 2}", "env_kwargs.height"), ("{features = \"xyz\"}", "env_kwargs.features"),
    ("{max_pieces = -1}", "env_kwargs.max_pieces"), ("{width = 12}", "env_kwargs")])
def test_tetris_options_are_validated(kwargs, field):
    config = cfg.load("tetris-cem", [f"env_kwargs={kwargs}"])
    with pytest.raises(ConfigError) as info:
        make_task(config)
    assert str(info.value).startswith(field + ":")


def test_tetris_task_plays_the_engine_games():
    config = cfg.load("tetris-cem-small", ["env_kwargs={height = 10, features = \"dt\"}"])
    task = make_task(config)
    assert task.num_params == 8
    dellacherie = [-1.0, 1.0, -1.0, -1.0, -4.0, -1.0, 0.0, 0.0]
    result = task.evaluate(dellacherie, [1, 2, 3])
    assert result.fitness > 50 and result.steps > 3 * 2.5 * result.fitness * 0.9
