"""The ``mpies`` command line: ``mpies run``, ``resume``, ``inspect``, ``plot``, ``eval``, ``adapt``,
``envs``, ``config`` (print a shipped config to copy and edit) and ``doctor`` (what a job sees).

Each command is a thin shell over one library call. User errors (a bad config field, a missing or
foreign file) print one line and exit with code 2; anything else under MPI prints the failing
rank's traceback and aborts the whole job, so no rank is left waiting in a collective.
"""

import os
import signal

# A file-size limit (ulimit -f) should fail a write with an error we can report, not kill the rank.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

# One process per core is the model: keep BLAS from spawning threads in every rank. Set before
# numpy is imported by any command.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import importlib  # noqa: E402

import click  # noqa: E402

from .. import __version__  # noqa: E402

COMMANDS = {  # name -> (module of mpies.cli, attribute, its line in `mpies --help`)
    "run": ("run_cmd", "run", "Run a config (a TOML file or a shipped name) on every rank."),
    "resume": ("run_cmd", "resume", "Continue a run from its latest checkpoint, exactly."),
    "inspect": ("inspect_cmd", "inspect", "Summarise run files: status, progress, best returns."),
    "plot": ("plot_cmd", "plot", "Draw learning curves or a MAP-Elites archive to an image."),
    "eval": ("eval_cmd", "eval_", "Play a stored policy's episodes; --video renders one."),
    "adapt": ("adapt_cmd", "adapt", "Adapt a MAP-Elites archive to a damage (IT&E)."),
    "envs": ("envs_cmd", "envs", "List every environment and task, and what each needs."),
    "config": ("config_cmd", "config", "List shipped configs, or print one to copy and edit."),
    "doctor": ("doctor_cmd", "doctor", "Check MPI, launcher, ranks per node, disk, extras."),
}
"""Commands are imported when they run, not for ``mpies --help`` (which then imports neither numpy
nor h5py nor gymnasium: hundreds of ranks importing everything is a file-system storm); their
summaries live here, whole (click would cut a long first sentence off with "...")."""


class LazyGroup(click.Group):
    """A group that imports a command's module only when the command is asked for."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attribute, summary = COMMANDS[name]
        command = getattr(importlib.import_module(f".{module}", __name__), attribute)
        command.short_help = summary
        return command

    def format_commands(self, ctx, formatter):
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_, _, summary) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="mpies")
def main():
    """Evolutionary policy search on MPI.

    \b
    Start a run on 2 ranks with a shipped config, then look at it:
      mpiexec -n 2 mpies run cartpole
      mpies inspect runs/cartpole-seed0.h5
      mpies plot runs/cartpole-seed0.h5 -o curve.png
      mpies eval runs/cartpole-seed0.h5 --episodes 10

    \b
    Every rank runs the same algorithm; perturbations are rebuilt from seeds, so the
    only traffic is a gather of a few numbers per population member each generation.
    Results are bitwise identical for any number of ranks.
    """
