"""``mpies run`` and ``mpies resume``: the commands launched under mpiexec / srun."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .errors import mpi_errors

STOP_AFTER_HELP = ("stop after N generations of this invocation, with a checkpoint (exit code 75); "
                   "continue later with `mpies resume`")


@click.command()
@click.argument("config")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="override a config field, e.g. --set strategy.sigma=0.05 (repeatable)")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="output HDF5 file [default: the config's output.path]")
@click.option("--overwrite", is_flag=True, help="replace the output file if it exists")
@click.option("--resume", "resume_mode", type=click.Choice(["never", "auto"]), default="never",
              help="auto: continue the output file if it holds an unfinished run of this same config, "
                   "do nothing if it is finished, refuse if it holds another config (for requeued jobs)")
@click.option("--stop-after", type=click.IntRange(min=1), metavar="N", help=STOP_AFTER_HELP)
@mpi_errors
def run(config, overrides, output, overwrite, resume_mode, stop_after):
    """Run CONFIG: a TOML file or the name of a shipped config (`mpies config` lists them).

    \b
    Launch under MPI with one rank per core, e.g.
      mpiexec -n 8 mpies run cartpole
      mpiexec -n 4 mpies run my.toml --set strategy.sigma=0.05 --set generations=300 -o out.h5

    Rank 0 prints one line per generation and writes the HDF5 file; one run at a time may write
    a file (a second one is refused). SIGTERM or SIGUSR1 make the run checkpoint at the end of the
    current generation and exit with code 75; Ctrl-C (SIGINT) and SIGHUP do the same with codes
    130 and 129, and a second Ctrl-C stops at once.
    """
    from .. import config as config_mod, driver

    cfg = config_mod.load(config, overrides)
    if output:
        cfg.output.path = output
    outcome = driver.run(cfg, overwrite=overwrite, resume=resume_mode, stop_after=stop_after)
    sys.exit(outcome.exit_code)


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--generations", type=click.IntRange(min=1), metavar="N",
              help="raise the generation budget to N (default: the run's own)")
@click.option("--stop-after", type=click.IntRange(min=1), metavar="N", help=STOP_AFTER_HELP)
@mpi_errors
def resume(path, generations, stop_after):
    """Continue the run stored in PATH from its latest checkpoint, exactly.

    The configuration is read from the file; the number of ranks may differ from the original run
    and the result is the same as if the run had never stopped.
    """
    from .. import driver

    outcome = driver.resume(path, generations=generations, stop_after=stop_after)
    sys.exit(outcome.exit_code)
