"""``mpies plot``: learning curves of one or more runs, overlaid."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from ..io import open_run, read_history
from ..io.schema import HISTORY_DTYPE
from .errors import user_errors

X_AXES = ("generation", "env_steps", "wall_time")
Y_FIELDS = tuple(n for n in HISTORY_DTYPE.names if n not in X_AXES)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", default="curve.png", type=click.Path(dir_okay=False), help="image file")
@click.option("-x", "x_axis", default="generation", type=click.Choice(X_AXES), help="horizontal axis")
@click.option("-y", "y_fields", multiple=True, type=click.Choice(Y_FIELDS),
              help="curves to draw (repeatable) [default: fitness_mean, fitness_max and eval_return]")
@user_errors
def plot(paths, output, x_axis, y_fields):
    """Draw learning curves of the run files PATHS into one image."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y_fields = y_fields or ("fitness_mean", "fitness_max", "eval_return")
    styles = {"fitness_mean": "-", "fitness_max": ":", "eval_return": "o-"}
    fig, ax = plt.subplots(figsize=(8, 5))
    for i, path in enumerate(paths):
        with open_run(path) as f:
            history = read_history(f)
            env = str(f.attrs["env"])
        color = f"C{i % 10}"
        for field in y_fields:
            y = history[field].astype(float)
            keep = ~np.isnan(y)
            ax.plot(history[x_axis][keep], y[keep], styles.get(field, "-"), color=color,
                    markersize=3, label=f"{Path(path).stem} ({env}) {field}")
    ax.set_xlabel(x_axis.replace("_", " "))
    ax.set_ylabel("return")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(output, dpi=120)
    click.echo(f"wrote {output}")
