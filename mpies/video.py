"""Videos of a stored policy (``mpies eval run.h5 --video out.mp4``, or ``.gif``).

One episode of a :class:`mpies.api.LoadedPolicy` becomes a list of frames, each uint8
``(height, width, 3)`` RGB:

* gymnasium environments and POET pairs: ``env.render()`` with ``render_mode="rgb_array"``, at
  the start and after every step (an episode of ``length`` steps has ``length + 1`` frames),
  played by :func:`mpies.rollout.run_episode` as ``mpies eval`` plays it;
* ``tetris``: the board drawn with numpy (:func:`board_frame`, :data:`CELL_PIXELS` pixels per
  cell), empty at the start and after every placement, for at most :data:`TETRIS_MAX_PIECES`
  placements (a good player's game can last millions);
* ``ant`` (MAP-Elites gaits): Ant-v5's tracking camera at the start and after every Ant-v5 step.

Files are written with imageio: ``.gif`` through pillow (which stores identical neighbouring frames
as one frame of their summed duration), ``.mp4`` (H.264) through imageio-ffmpeg;
both come with ``pip install 'mpies[video]'``. Without a display, MuJoCo renders off-screen
through EGL and pygame without a window, unless ``MUJOCO_GL`` or ``SDL_VIDEODRIVER`` say otherwise
(set on import of this module, before either loads).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .config import ConfigError
from .extras import install_hint, require

if not os.environ.get("DISPLAY"):  # a headless machine (a cluster node): render off-screen
    os.environ.setdefault("MUJOCO_GL", "egl")  # GLFW needs a window system
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame (Box2D, classic control): no window

SUFFIXES = (".gif", ".mp4")
TETRIS_MAX_PIECES = 1000
"""Placements of a Tetris video at most (10 per second: 100 s)."""
TETRIS_FPS = 10
CELL_PIXELS = 16
"""Side of a Tetris cell in a frame, in pixels."""
FILLED, EMPTY, GRID = (np.array(rgb, dtype=np.uint8) for rgb in ((70, 130, 220), (20, 20, 28), (50, 50, 60)))
DEFAULT_FPS = 30


class Recording(NamedTuple):
    """One rendered episode.

    Attributes:
        frames: uint8 ``(n, height, width, 3)``.
        fps: frames per second of the video (the environment's ``render_fps``).
        episode_return: the episode's return (Tetris: lines cleared).
        length: steps taken (Tetris: pieces placed).
    """

    frames: np.ndarray
    fps: float
    episode_return: float
    length: int


def check_path(path: str | os.PathLike) -> None:
    """Raise ConfigError unless ``path`` ends in .gif or .mp4 and the writer it needs imports."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigError(f"--video: got {os.fspath(path)!r}; expected a file ending in "
                          f"{' or '.join(SUFFIXES)}")
    require("imageio", "video", "a video", field="--video")
    if suffix == ".mp4":
        require("imageio_ffmpeg", "video", "an .mp4 video", field="--video")


def board_frame(board: np.ndarray, cell: int = CELL_PIXELS) -> np.ndarray:
    """A picture of a Tetris board: bool ``(rows, 10)``, row 0 at the bottom -> uint8
    ``(rows * cell, 10 * cell, 3)``, filled cells coloured :data:`FILLED`, empty ones
    :data:`EMPTY`, each cell outlined by a 1-pixel :data:`GRID` line on its top and left."""
    picture = np.where(np.asarray(board, dtype=bool)[::-1, :, None], FILLED, EMPTY)
    image = picture.repeat(cell, axis=0).repeat(cell, axis=1)
    image[::cell] = GRID
    image[:, ::cell] = GRID
    return image


def _record_tetris(policy, seed: int) -> Recording:
    env = policy.make_env()
    env.reset(seed=seed)
    frames = [board_frame(env.board)]
    over = False
    while not over and env.pieces < TETRIS_MAX_PIECES:
        _, _, terminated, truncated, _ = env.step(env.best_placement(policy.params))
        frames.append(board_frame(env.board))
        over = terminated or truncated
    return Recording(np.stack(frames), TETRIS_FPS, float(env.lines), int(env.pieces))


def _record_episode(policy, seed: int) -> Recording:
    import gymnasium as gym

    from .rollout import run_episode

    env = policy.make_env(render_mode="rgb_array")
    frames = []

    def act(obs):
        frames.append(env.render())
        return policy(obs)

    try:
        episode = run_episode(env, act, seed, policy.max_steps)
        frames.append(env.render())
    except gym.error.DependencyNotInstalled as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(f"--video: {policy.config.env} cannot be rendered ({reason}); install "
                          f"{install_hint('video')}") from None
    finally:
        env.close()
    fps = env.metadata.get("render_fps") or DEFAULT_FPS
    return Recording(np.stack(frames).astype(np.uint8), float(fps), episode.total_return, episode.length)


def _record_ant(policy) -> Recording:
    """The gait of an ``ant`` elite (deterministic: no seed), seen by Ant-v5's tracking camera at
    the start and after every Ant-v5 step (0.05 s), stepped as :meth:`mpies.envs.ant.AntGait.play`
    steps it; the return is the forward distance in meters."""
    import mujoco

    from .tasks import make_task

    gait = make_task(policy.config).env
    camera = gait.env.unwrapped.mujoco_renderer
    try:
        controls = gait.controls(policy.params)
        gait.reset()
        start = float(gait.data.qpos[0])
        frames = [camera.render("rgb_array")]
        for k, control in enumerate(controls, start=1):
            gait.data.ctrl[:] = control
            mujoco.mj_step(gait.model, gait.data)
            if k % gait.substeps == 0:
                frames.append(camera.render("rgb_array"))
        distance = float(gait.data.qpos[0]) - start
    finally:
        gait.close()
    return Recording(np.stack(frames), 1.0 / gait.dt, distance, gait.episode_steps)


def record(policy, seed: int) -> Recording:
    """Play one episode of ``policy`` (a :class:`mpies.api.LoadedPolicy`) with episode seed
    ``seed`` and keep its frames (see the module docstring).

    Raises:
        ConfigError: a task with nothing to render (``arm``, ``fn:NAME``), or an
            environment that cannot render (one line).
    """
    if policy.kind == "tetris":
        return _record_tetris(policy, seed)
    if policy.kind in ("gym", "poet"):
        return _record_episode(policy, seed)
    if policy.kind == "ant":
        return _record_ant(policy)
    raise ConfigError(f"--video: mpies cannot render {policy.config.env} episodes; videos are of gymnasium "
                      f"environments, POET pairs, tetris and ant gaits")


def write(path: str | os.PathLike, recording: Recording) -> None:
    """Write the frames of ``recording`` to ``path``: a looping .gif or an H.264 .mp4.

    Raises:
        ConfigError: see :func:`check_path`.
        OSError: the file cannot be written.
    """
    check_path(path)
    import imageio.v2 as imageio

    if Path(path).suffix.lower() == ".gif":
        imageio.mimwrite(path, list(recording.frames), duration=1000.0 / recording.fps, loop=0)
    else:  # even sides for H.264's 4:2:0 chroma, without imageio's resize to multiples of 16
        imageio.mimwrite(path, list(recording.frames), fps=recording.fps, macro_block_size=2)


def render_video(policy, path: str | os.PathLike, seed: int = 1_000_000) -> Recording:
    """Record one episode of ``policy`` (seed ``seed``) and write it to ``path`` (.gif or .mp4);
    the writer is checked before the episode is played. Returns the recording."""
    check_path(path)
    recording = record(policy, seed)
    write(path, recording)
    return recording
