"""``mpies eval``: noiseless episodes of a stored policy."""

from __future__ import annotations

import json

import click

from ..evaluate import evaluate_run
from ..io.reader import check_run_file
from .errors import fail, user_errors


@click.command("eval")
@click.argument("path", type=click.Path())
@click.option("--episodes", default=10, type=click.IntRange(min=1), help="episodes to play")
@click.option("--which", default="best", type=click.Choice(["best", "final"]),
              help="best evaluated mean, or the mean at the last checkpoint")
@click.option("--seed", default=1_000_000, type=click.IntRange(min=0), help="seed of the first episode")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
@click.option("--video", type=click.Path(dir_okay=False), metavar="FILE",
              help="instead of the episodes, render the episode of seed --seed into FILE (.mp4 or .gif)")
@click.option("--cell", callback=lambda ctx, param, value: _parse_cell(value), metavar="INDEX|D1,D2,...",
              help="with --video, MAP-Elites: the elite of this archive cell, by index or by a descriptor")
@click.option("--pair", type=click.IntRange(min=0), metavar="ID",
              help="with --video, POET: the walker of this pair, on its terrain")
@user_errors
def eval_(path, episodes, which, seed, as_json, video, cell, pair):
    """Play EPISODES noiseless episodes of the policy stored in the run file PATH.

    \b
    --video renders one episode instead (gymnasium environments, POET pairs, tetris, ant gaits):
      mpies eval runs/cartpole-seed0.h5 --video cartpole.gif
      mpies eval runs/ant-map-elites-seed0.h5 --cell 0.5,0.5,0.5,0.5 --video gait.mp4
      mpies eval runs/poet-seed0.h5 --pair 3 --video walker.mp4
    """
    check_run_file(path)
    if video is not None or cell is not None or pair is not None:
        _render(path, which, seed, as_json, video, cell, pair)
        return
    result = evaluate_run(path, episodes, which, seed)
    if as_json:
        click.echo(json.dumps(result))
        return
    for i, r in enumerate(result["returns"]):
        click.echo(f"episode {i:>3}  return {r:10.2f}  length {result['lengths'][i]}")
    click.echo(f"{which} policy of {path} on {result['env']}: mean return {result['mean']:.2f} "
               f"+- {result['std']:.2f} over {episodes} episodes")


def _parse_cell(text: str | None) -> int | list[float] | None:
    """``--cell 12`` -> 12; ``--cell 0.25,0.5`` -> [0.25, 0.5] (a descriptor)."""
    if text is None:
        return None
    try:
        return int(text) if "," not in text else [float(v) for v in text.split(",")]
    except ValueError:
        raise click.BadParameter(f"got {text!r}; expected a cell index (e.g. 12) or a descriptor "
                                 f"(e.g. 0.25,0.5)") from None


def _render(path, which, seed, as_json, video, cell, pair) -> None:
    """``--video``: one episode of the chosen policy into the file ``video``, and what it held."""
    if video is None:
        fail("--cell and --pair pick the policy of --video; pass --video FILE.mp4 or FILE.gif")
    from .. import video as video_mod
    from ..api import load_policy

    video_mod.check_path(video)  # before the policy is loaded and the episode played
    policy = load_policy(path, which, cell, pair)
    recording = video_mod.render_video(policy, video, seed)
    n, height, width, _ = recording.frames.shape
    result = {"env": policy.config.env, "policy": policy.source, "seed": seed,
              "return": recording.episode_return, "length": recording.length, "video": video,
              "frames": n, "width": width, "height": height, "fps": recording.fps}
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"{policy.source} policy of {path} on {policy.config.env}, episode seed {seed}: return "
               f"{recording.episode_return:.2f}, length {recording.length}")
    click.echo(f"wrote {video}: {n} frames of {width}x{height} at {recording.fps:g} fps")
