"""``mpies run`` and ``mpies resume``: the commands launched under mpiexec / srun."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import config as config_mod
from ..config import ConfigError
from ..io import RunFileError
from ..io.reader import resume_action
from .errors import mpi_errors


def _echo_rank0(comm):
    return (lambda line: click.echo(line)) if comm.rank == 0 else (lambda line: None)


def _agree(comm, decide):
    """Run ``decide()`` on rank 0 only; give its result to every rank, or raise its user error there."""
    result = None
    if comm.rank == 0:
        try:
            result = decide()
        except (ConfigError, RunFileError) as exc:
            result = exc
    result = comm.bcast(result)
    if isinstance(result, (ConfigError, RunFileError)):
        raise result
    return result


def make_runner(cfg, path, comm, log):
    """The generation loop for ``cfg``: POET's over rank subgroups, or the common one."""
    if cfg.algorithm == "poet":
        from ..poet_runner import POETRunner
        return POETRunner(cfg, path, comm, log=log)
    from ..runner import Runner
    return Runner(cfg, path, comm, log=log)


def _finish(runner, outcome, comm) -> None:
    from ..runner import EXIT_PREEMPTED
    log = _echo_rank0(comm)
    runner.close()
    if outcome.status == "preempted":
        log(f"stopped after generation {outcome.generation} with a checkpoint in {outcome.path}; "
            f"continue with: mpies resume {outcome.path}")
        sys.exit(EXIT_PREEMPTED)
    log(f"finished {outcome.generation} generations: {outcome.path}")


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
    """Run CONFIG: a TOML file or the name of a shipped config (see `mpies envs`).

    \b
    Launch under MPI with one rank per core, e.g.
      mpiexec -n 8 mpies run cartpole
      mpiexec -n 4 mpies run my.toml --set strategy.sigma=0.05 --set generations=300 -o out.h5

    Rank 0 prints one line per generation and writes the HDF5 file. SIGTERM or SIGUSR1 make the
    run checkpoint at the end of the current generation and exit with code 75.
    """
    from ..comm import Comm

    cfg = config_mod.load(config, overrides)
    if output:
        cfg.output.path = output
    path = cfg.output_path()
    comm = Comm()
    log = _echo_rank0(comm)

    def choose_action():
        if overwrite:
            return "new"
        if resume_mode == "auto":
            return resume_action(path, config_mod.to_toml(cfg), cfg.generations)
        if path.exists():
            raise ConfigError(f"output: {path} exists; pass --overwrite to replace it, -o for another "
                              f"file, or --resume auto (or `mpies resume {path}`) to continue it")
        return "new"
    action = _agree(comm, choose_action)
    if action == "finished":
        log(f"{path}: already finished ({cfg.generations} generations); nothing to do")
        return
    runner = make_runner(cfg, path, comm, log=log)
    if action == "resume":
        runner.start_resumed()
        log(f"resuming {path} at generation {runner.generation} on {comm.size} rank(s)")
    else:
        log(runner.describe())
        runner.start_new(overwrite=True if resume_mode == "auto" else overwrite)
    _finish(runner, runner.run(stop_after), comm)


@click.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--generations", type=click.IntRange(min=1), metavar="N",
              help="raise the generation budget to N (default: the run's own)")
@click.option("--stop-after", type=click.IntRange(min=1), metavar="N", help=STOP_AFTER_HELP)
@mpi_errors
def resume(path, generations, stop_after):
    """Continue the run stored in PATH from its latest checkpoint, exactly.

    The configuration is read from the file; the number of ranks may differ from the original run
    and the result is the same as if the run had never stopped.
    """
    from ..comm import Comm
    from ..io import open_run

    comm = Comm()
    loaded = None
    if comm.rank == 0:
        try:
            with open_run(path) as f:
                loaded = (str(f.attrs["config"]), str(f.attrs["status"]))
        except RunFileError as exc:
            loaded = exc
    loaded = comm.bcast(loaded)
    if isinstance(loaded, RunFileError):
        raise loaded
    text, status = loaded
    cfg = config_mod.from_toml(text)
    if generations:
        cfg.generations = generations
    runner = make_runner(cfg, path, comm, log=_echo_rank0(comm))
    runner.start_resumed()
    if runner.generation >= cfg.generations:
        _echo_rank0(comm)(f"{path}: already finished ({runner.generation} generations); nothing to do "
                          f"(raise the budget with --generations)")
        runner.close()
        return
    _echo_rank0(comm)(f"resuming {path} at generation {runner.generation} ({status}) on {comm.size} rank(s)")
    _finish(runner, runner.run(stop_after), comm)
