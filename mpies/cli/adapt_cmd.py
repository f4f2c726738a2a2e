"""``mpies adapt``: Intelligent Trial & Error -- adapt a MAP-Elites archive to a damage (single
process).

The run file's archive is the prior; the task is rebuilt from the stored config with
``env_kwargs["damage"]`` set, and M-BOA (:mod:`mpies.qd.ite`) tries elites on it one at a time.
Every trial is written to ``/adaptation/<name>`` of the run file at the end.
"""

from __future__ import annotations

import math
import os
import sys

import click
import numpy as np

from .. import config as config_mod
from ..io import RunFileError
from ..io.adaptation import check_not_live, write_adaptation
from ..io.archive import read_archive_run
from ..qd import ite
from ..tasks import BUILT_IN, make_task  # module attribute: tests substitute a task with damage support
from .errors import EXIT_IO, fail, user_errors


def _fmt(x: float) -> str:
    return f"{x:10.4g}" if math.isfinite(x) else f"{'failed' if math.isnan(x) else x:>10}"


def _descriptor(d) -> str:
    return "(" + ", ".join(f"{v:+.3f}" for v in d) + ")"


@click.command("adapt")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--damage", required=True, metavar="SPEC",
              help="the damage, passed to the task as env_kwargs.damage (e.g. leg=1)")
@click.option("--name", default=None, metavar="NAME",
              help="group name under /adaptation (replaced if it exists) [default: the damage]")
@click.option("--kappa", default=ite.ITEConfig.kappa, type=click.FloatRange(min=0),
              help="UCB exploration weight: next trial maximises mean + kappa * std")
@click.option("--length-scale", default=ite.ITEConfig.length_scale, type=click.FloatRange(min=0, min_open=True),
              help="Matern 5/2 length scale on descriptors normalised to [0, 1]")
@click.option("--alpha", default=ite.ITEConfig.alpha, type=click.FloatRange(min=0, min_open=True),
              help="stop once the best measured value >= alpha * the highest predicted mean")
@click.option("--max-trials", default=ite.ITEConfig.max_trials, type=click.IntRange(min=1),
              help="stop after this many trials at the latest")
@click.option("--noise", default=ite.ITEConfig.noise, type=click.FloatRange(min=0),
              help="observation noise variance of the Gaussian process")
@click.option("--seed", default=1_000_000, type=click.IntRange(min=0),
              help="episode seed of every trial (and of the baseline)")
@user_errors
def adapt(path, damage, name, kappa, length_scale, alpha, max_trials, noise, seed):
    """Adapt the MAP-Elites archive in the run file PATH to a damage by Intelligent Trial & Error
    (Cully et al. 2015, Nature): M-BOA tries the archive's elites on the damaged task, one
    episode per trial, until one performs close to the best it still predicts.

    \b
    Every trial prints a line: the cell, its descriptor, the value measured, and the mean +- std
    predicted for it before the trial. The summary compares the best trial with the best
    undamaged elite replayed on the damaged task. All trials go to /adaptation/NAME in PATH
    (the run must have ended).
    """
    name = damage.replace("/", "_") if name is None else name
    if not name or "/" in name or name in (".", ".."):
        fail(f"--name: got {name!r}; expected a non-empty name without '/'")
    run = read_archive_run(path)
    check_not_live(path, run.status)
    cells = run.archive.filled_cells()
    if cells.size == 0:
        raise RunFileError(f"{path}: the archive has no filled cell; nothing to adapt")
    if not os.access(path, os.W_OK):
        raise RunFileError(f"{path}: not writable; the trials could not be stored (copy the file, or fix "
                           f"its permissions)")
    settings = ite.ITEConfig(kappa=kappa, length_scale=length_scale, alpha=alpha,
                             max_trials=max_trials, noise=noise)
    cfg = config_mod.from_toml(run.config)
    cfg.env_kwargs = {**cfg.env_kwargs, "damage": damage}
    try:
        task = make_task(cfg)
    except config_mod.ConfigError as exc:
        if str(exc).startswith("env_kwargs: ['damage'] not understood"):  # the task has no damages
            with_damages = [env for env, cls in BUILT_IN.items() if "damage" in getattr(cls, "OPTIONS", {})]
            raise config_mod.ConfigError(
                f"--damage: {path} holds an archive of env {cfg.env!r}, which has no damages; damage "
                f"recovery needs a task that has them: {', '.join(with_damages)} (e.g. `mpies run "
                f"ant-map-elites`, then `mpies adapt runs/ant-map-elites-seed0.h5 --damage leg=1`)") from None
        raise
    try:
        result, baseline_row, baseline = _run(run, cells, task, settings, damage, seed)
    finally:
        task.close()

    prior = run.archive.state["fitness"][cells]
    rec = result.records
    arrays = {"cell": np.array([cells[r.cell] for r in rec], dtype=np.int64),
              "measured": np.array([r.measured for r in rec]),
              "predicted_mean": np.array([r.predicted_mean for r in rec]),
              "predicted_std": np.array([r.predicted_std for r in rec]),
              "max_predicted": np.array([r.max_mean for r in rec]),
              "descriptor": np.stack([r.descriptor for r in rec])}
    best_cell = int(cells[result.best_cell]) if result.best_cell >= 0 else -1
    attrs = {"damage": damage, "name": name, "kappa": kappa, "length_scale": length_scale,
             "alpha": alpha, "noise": noise, "max_trials": max_trials,
             "signal_variance": settings.signal_variance, "seed": seed,
             "stop_reason": result.stop_reason, "trials": result.trials,
             "best_cell": best_cell, "best_measured": result.best_measured,
             "best_prior": float(prior[result.best_cell]) if result.best_cell >= 0 else math.nan,
             "baseline": baseline, "baseline_cell": int(cells[baseline_row]),
             "baseline_prior": float(prior[baseline_row])}

    last = rec[-1]
    why = (f"best measured {result.best_measured:.4g} >= {alpha} x highest predicted {last.max_mean:.4g}"
           if result.stop_reason == ite.THRESHOLD else f"highest predicted {last.max_mean:.4g}")
    click.echo(f"stopped after {result.trials} trial{'s' * (result.trials != 1)} ({result.stop_reason}: {why})")
    if best_cell >= 0:
        click.echo(f"best trial: cell {best_cell} measured {result.best_measured:.4g} "
                   f"(undamaged {attrs['best_prior']:.4g})")
    else:
        click.echo("best trial: none (every trial failed)")
    gain = (f"; adaptation gains {result.best_measured - baseline:+.4g}"
            if best_cell >= 0 and math.isfinite(baseline) else "")
    click.echo(f"baseline: best undamaged elite, cell {attrs['baseline_cell']} (undamaged "
               f"{attrs['baseline_prior']:.4g}), measured on the damaged task {baseline:.4g}{gain}")
    try:
        write_adaptation(path, name, arrays, attrs)
    except OSError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_IO)
    click.echo(f"trials written to {path}: /adaptation/{name}")


def _run(run, cells, task, settings, damage, seed):
    """The M-BOA loop over the filled ``cells`` of ``run``'s archive, printing each trial, then
    the baseline: ``(result, baseline row, value)`` (rows index ``cells``)."""
    state, normalizer = run.archive.state, run.normalizer
    prior, params = state["fitness"][cells], state["params"][cells]

    def trial(row: int) -> float:
        return float(task.evaluate(params[row], [seed], normalizer).fitness)

    def show(r: ite.TrialRecord) -> None:
        click.echo(f"trial {r.trial + 1:>3}  cell {cells[r.cell]:>6}  descriptor {_descriptor(r.descriptor)}  "
                   f"measured {_fmt(r.measured)}  predicted {_fmt(r.predicted_mean)} +- {r.predicted_std:.4f}")

    click.echo(f"adapting {run.path} ({cells.size} filled cells) to damage {damage!r}: kappa {settings.kappa}, "
               f"length scale {settings.length_scale}, alpha {settings.alpha}, at most "
               f"{settings.max_trials} trials, episode seed {seed}")
    if prior.max() <= 0:
        click.echo("note: the archive's fitness is <= 0, so the stop rule (best >= alpha x highest "
                   "predicted) can hardly fire; expect all --max-trials trials")
    result = ite.adapt(params, state["descriptors"][cells], prior, run.archive.lower, run.archive.upper,
                       trial, settings, on_trial=show)
    baseline_row = int(np.argmax(prior))
    return result, baseline_row, trial(baseline_row)
