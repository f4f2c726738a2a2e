"""`mpies eval --video`: gif and mp4 files of the episode `mpies eval` plays, Tetris boards drawn
with numpy, POET pairs on their terrain, and one-line errors for what cannot be written."""

import json
import sys

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

import mpies
from conftest import POET_TINY, one_line_error, tiny_config
from mpies import video
from mpies.cli import main
from mpies.rollout import run_episode

imageio = pytest.importorskip("imageio.v3")

SEED = 7
CARTPOLE_SIZE = (400, 600)  # gymnasium's CartPole rgb_array: height, width


def quiet(line):
    """A ``log`` that prints nothing."""


@pytest.fixture(scope="module")
def cartpole_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cartpole")
    return mpies.run(tiny_config(tmp, generations=2, max_steps=60), path=tmp / "cartpole.h5", log=quiet).path


def gif_durations(path) -> list[int]:
    """Milliseconds of every frame stored in a GIF."""
    from PIL import Image, ImageSequence

    with Image.open(path) as image:
        return [frame.info["duration"] for frame in ImageSequence.Iterator(image)]


def eval_json(*args) -> dict:
    result = CliRunner().invoke(main, ["eval", *map(str, args), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_cartpole_gif_has_a_frame_per_state_of_the_episode_mpies_eval_plays(cartpole_run, tmp_path):
    out = tmp_path / "cartpole.gif"
    shown = eval_json(cartpole_run, "--video", out, "--seed", SEED)
    played = eval_json(cartpole_run, "--episodes", 1, "--seed", SEED)
    assert (shown["return"], shown["length"]) == (played["returns"][0], played["lengths"][0])
    # the start, then after every step, each 1/50 s (pillow merges identical neighbours into one
    # longer frame: the duration counts them)
    assert (shown["frames"], shown["height"], shown["width"], shown["fps"]) == (shown["length"] + 1, *CARTPOLE_SIZE, 50)
    durations = gif_durations(out)
    assert sum(durations) == 20 * shown["frames"] and len(durations) > shown["frames"] // 2
    frames = imageio.imread(out, index=None)
    assert frames.shape[1:3] == CARTPOLE_SIZE and frames.std(axis=0).max() > 0  # the cart moves


def test_an_mp4_of_the_final_policy(cartpole_run, tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    import imageio.v2

    out = tmp_path / "cartpole.mp4"
    shown = eval_json(cartpole_run, "--video", out, "--which", "final", "--seed", SEED)
    reader = imageio.v2.get_reader(out)
    assert reader.count_frames() == shown["length"] + 1 == shown["frames"]
    assert reader.get_meta_data()["size"] == CARTPOLE_SIZE[::-1]  # (width, height)
    assert shown["fps"] == 50 and shown["policy"] == "final"


def test_video_errors_are_one_line(cartpole_run, tmp_path, monkeypatch):
    cli = CliRunner()
    result = cli.invoke(main, ["eval", str(cartpole_run), "--video", str(tmp_path / "a.avi")])
    one_line_error(result, "--video", "a.avi", ".gif or .mp4")
    result = cli.invoke(main, ["eval", str(cartpole_run), "--pair", "0"])
    one_line_error(result, "--pair pick the policy of --video")
    monkeypatch.setitem(sys.modules, "imageio", None)  # as if it were not installed
    result = cli.invoke(main, ["eval", str(cartpole_run), "--video", str(tmp_path / "a.gif")])
    one_line_error(result, "--video", "imageio", "pip install 'mpies[video]'")
    assert not (tmp_path / "a.gif").exists()


def test_board_frames_draw_filled_cells_from_the_bottom():
    board = np.zeros((6, 10), dtype=bool)
    board[0, 0] = board[0, 1] = board[2, 9] = True  # row 0 is the bottom row
    frame = video.board_frame(board, cell=4)
    assert frame.shape == (24, 40, 3) and frame.dtype == np.uint8
    centres = frame[2::4, 2::4]  # one pixel inside every cell, top row of the board first
    filled = (centres == video.FILLED).all(axis=2)
    np.testing.assert_array_equal(filled, board[::-1])
    assert ((centres == video.EMPTY).all(axis=2) == ~board[::-1]).all()
    assert (frame[::4] == video.GRID).all() and (frame[:, ::4] == video.GRID).all()


def test_a_tetris_video_shows_the_game_play_games_plays(tmp_path):
    pytest.importorskip("numba")
    from mpies.envs.tetris import TetrisEnv, play_games

    outcome = mpies.run("tetris-cem-small", path=tmp_path / "tetris.h5", log=quiet, generations=1,
                        strategy={"population": 10}, rollout={"eval_episodes": 2})
    policy = mpies.load_policy(outcome.path)
    recording = video.render_video(policy, tmp_path / "tetris.gif", seed=SEED)
    lines, pieces = play_games(policy.params, "bt", 10, [SEED])
    assert (recording.episode_return, recording.length) == (lines[0], pieces[0])
    assert recording.frames.shape == (pieces[0] + 1, 10 * video.CELL_PIXELS, 10 * video.CELL_PIXELS, 3)
    env = TetrisEnv(height=10)
    env.reset(seed=SEED)
    for frame in recording.frames[1:6]:  # every frame is the board after one more placement
        env.step(env.best_placement(policy.params))
        np.testing.assert_array_equal(frame, video.board_frame(env.board))
    assert not (recording.frames[0] == video.FILLED).all(axis=2).any()  # the empty board first
    assert sum(gif_durations(tmp_path / "tetris.gif")) == 100 * (pieces[0] + 1)  # 10 placements per second


def test_a_poet_pair_walks_on_its_terrain(tmp_path):
    pytest.importorskip("Box2D")
    source = tmp_path / "poet.toml"
    source.write_text(POET_TINY.replace("max_steps = 100", "max_steps = 30"))
    outcome = mpies.run(source, path=tmp_path / "poet.h5", log=quiet, generations=2)
    shown = eval_json(outcome.path, "--pair", 0, "--video", tmp_path / "walker.gif", "--seed", SEED)
    assert shown["policy"] == "pair 0" and shown["frames"] == shown["length"] + 1 and shown["length"] <= 30
    policy = mpies.load_policy(outcome.path, pair=0)
    episode = run_episode(policy.make_env(), policy, SEED, policy.max_steps)
    assert (shown["return"], shown["length"]) == (episode.total_return, episode.length)


def test_an_ant_elite_walks_its_stored_distance(tmp_path):
    pytest.importorskip("mujoco")
    outcome = mpies.run("ant-map-elites", path=tmp_path / "ant.h5", log=quiet, generations=1,
                        env_kwargs={"duration": 0.25}, strategy={"population": 2})
    with h5py.File(outcome.path, "r") as f:
        cell = int(np.flatnonzero(f["archive/occupied"][()])[0])
        fitness = float(f["archive/fitness"][cell])
    shown = eval_json(outcome.path, "--cell", cell, "--video", tmp_path / "ant.gif")
    # a deterministic episode: the gait walks the distance the archive holds, one frame per 0.05 s
    assert (shown["policy"], shown["return"], shown["length"], shown["frames"]) == (f"cell {cell}", fitness, 5, 6)
    assert shown["fps"] == 20 and sum(gif_durations(tmp_path / "ant.gif")) == 50 * 6
