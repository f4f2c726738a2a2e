"""``mpies eval``: noiseless episodes of a stored policy."""

from __future__ import annotations

import json

import click

from ..evaluate import evaluate_run
from .errors import user_errors


@click.command("eval")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--episodes", default=10, type=click.IntRange(min=1), help="episodes to play")
@click.option("--which", default="best", type=click.Choice(["best", "final"]),
              help="best evaluated mean, or the mean at the last checkpoint")
@click.option("--seed", default=1_000_000, type=click.IntRange(min=0), help="seed of the first episode")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
@user_errors
def eval_(path, episodes, which, seed, as_json):
    """Play EPISODES noiseless episodes of the policy stored in the run file PATH."""
    result = evaluate_run(path, episodes, which, seed)
    if as_json:
        click.echo(json.dumps(result))
        return
    for i, r in enumerate(result["returns"]):
        click.echo(f"episode {i:>3}  return {r:10.2f}  length {result['lengths'][i]}")
    click.echo(f"{which} policy of {path} on {result['env']}: mean return {result['mean']:.2f} "
               f"+- {result['std']:.2f} over {episodes} episodes")
