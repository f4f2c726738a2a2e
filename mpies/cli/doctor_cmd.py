"""``mpies doctor``: what a job sees before it runs -- the MPI library and launcher, ranks per
node, whether the noise table can be shared per node, free space at the output, the extras.

Run it as the job would run: ``mpiexec -n 4 mpies doctor``, or ``srun mpies doctor`` inside an
allocation. Every rank takes part (the node layout and the shared-memory check are collective);
rank 0 prints. Warnings start with ``warning:``; the exit code is 0 unless a check fails outright
(1: the output folder cannot be written, or the ranks of a node cannot share memory).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from ..config import nearest_folder
from ..extras import EXTRAS, install_hint, missing
from .errors import mpi_errors

LAUNCHERS = (  # (environment variable, what set it)
    ("SLURM_STEP_ID", "srun"),
    ("OMPI_COMM_WORLD_RANK", "Open MPI's mpirun/mpiexec"),
    ("PMI_RANK", "mpiexec of MPICH (Hydra) or another PMI launcher"),
    ("PMIX_RANK", "a PMIx launcher"),
)


def launcher(environ) -> str:
    """Who started this process, from the variables launchers set (``environ``: os.environ)."""
    for variable, who in LAUNCHERS:
        if variable in environ:
            job = f", SLURM job {environ['SLURM_JOB_ID']}" if "SLURM_JOB_ID" in environ else ""
            return f"{who}: {variable} set{job}"
    if "SLURM_JOB_ID" in environ:
        return f"none inside SLURM job {environ['SLURM_JOB_ID']} (a singleton: start it with srun)"
    return "none (a singleton: this process alone; start jobs with mpiexec -n N or srun)"


def mpich_wheel_in_use(library_path: str) -> bool:
    """Whether the MPI library loaded is the ``mpich`` wheel from PyPI: that package is installed
    and the libmpi loaded lies inside this Python's prefix (a site MPI lives elsewhere)."""
    import importlib.metadata

    try:
        importlib.metadata.version("mpich")
    except importlib.metadata.PackageNotFoundError:
        return False
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)}
    return bool(library_path) and any(os.path.realpath(library_path).startswith(p + os.sep) for p in prefixes)


def free_space(output: Path) -> tuple[str, bool]:
    """One line on the folder that would hold ``output``'s files, and whether it is writable."""
    folder = nearest_folder(output)
    usage = shutil.disk_usage(folder)
    writable = os.access(folder, os.W_OK)
    state = "writable" if writable else "NOT writable by this user"
    shown = output if folder == output.absolute() else f"{output} (nearest existing folder {folder})"
    return f"{shown}: {usage.free / 2**30:.1f} GiB free of {usage.total / 2**30:.1f} GiB, {state}", writable


@click.command("doctor")
@click.option("-o", "--output", default="runs", type=click.Path(), show_default=True,
              help="the folder (or file) runs will write to: its free space and permissions")
@mpi_errors
def doctor(output):
    """Check what a job sees: MPI library, launcher, ranks per node, node-shared memory for the
    noise table, free space at the output, installed extras.

    \b
    Run it as the job runs:
      mpiexec -n 4 mpies doctor
      srun mpies doctor -o /scratch/$USER/runs      (inside an allocation)
    """
    from .. import comm as comm_module

    comm = comm_module.Comm()
    host = comm_module.MPI.Get_processor_name()
    hosts = comm.gather(host)
    shared = comm.node_memory_shared()
    library = comm_module.library()
    if comm.rank != 0:
        return
    per_host = {h: hosts.count(h) for h in dict.fromkeys(hosts)}
    wheel = mpich_wheel_in_use(library["path"])
    space, writable = free_space(Path(output))
    extras = [f"{e} {'yes' if not missing(e) else 'missing: ' + install_hint(e)}" for e in EXTRAS]
    lines = [
        f"MPI library   {library['version']} (MPI {library['standard']}), mpi4py {library['mpi4py']}",
        f"libmpi        {library['path'] or '?'}" + ("  (the mpich wheel from PyPI)" if wheel else ""),
        f"launcher      {launcher(os.environ)}",
        f"ranks         {comm.size} on {len(per_host)} node(s): "
        + ", ".join(f"{h} {n}" for h, n in per_host.items()),
        "noise table   " + ("node-shared: one copy per node, in an MPI shared-memory window" if shared else
                            "NOT shareable: the ranks of a node do not see one shared-memory window"),
        f"output        {space}",
        "extras        " + "; ".join(extras),
    ]
    if wheel and "SLURM_JOB_ID" in os.environ:
        lines.append("warning: this SLURM job runs on the mpich wheel from PyPI, not the cluster's MPI: it may "
                     "not start under srun across nodes nor use the fast network; load the site MPI (e.g. "
                     "`module load mpich` or `openmpi`) and `pip install --no-binary mpi4py mpi4py` against it, "
                     "or pick the PMI with MPIES_SRUN_MPI (see slurm/*.sbatch)")
    if len(set(per_host.values())) > 1:
        lines.append("warning: the nodes run different numbers of ranks: " + ", ".join(map(str, per_host.values())))
    click.echo("\n".join(lines))
    if not (writable and shared):
        sys.exit(1)
