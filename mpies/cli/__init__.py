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

import click  # noqa: E402

from .. import __version__  # noqa: E402
from .adapt_cmd import adapt  # noqa: E402
from .config_cmd import config  # noqa: E402
from .doctor_cmd import doctor  # noqa: E402
from .envs_cmd import envs  # noqa: E402
from .eval_cmd import eval_  # noqa: E402
from .inspect_cmd import inspect  # noqa: E402
from .plot_cmd import plot  # noqa: E402
from .run_cmd import resume, run  # noqa: E402


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
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


SUMMARIES = {
    run: "Run a config (a TOML file or a shipped name) on every rank.",
    resume: "Continue a run from its latest checkpoint, exactly.",
    inspect: "Summarise run files: status, progress, best returns.",
    plot: "Draw learning curves or a MAP-Elites archive to an image.",
    eval_: "Play a stored policy's episodes; --video renders one.",
    adapt: "Adapt a MAP-Elites archive to a damage (IT&E).",
    doctor: "Check MPI, launcher, ranks per node, disk, extras.",
}
"""Command -> its line in ``mpies --help``, for the commands whose docstring's first sentence is
longer than the line click has room for (click would cut it off with "...")."""

for _command in (run, resume, inspect, plot, eval_, adapt, envs, config, doctor):
    _command.short_help = SUMMARIES.get(_command, _command.short_help)
    main.add_command(_command)
