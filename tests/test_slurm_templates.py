"""The sbatch templates without SLURM: placeholders and a header that says what to edit, the
preflight's one line when mpies is not on PATH, and srun's MPI plugin and arguments taken from
the environment. The templates under a real SLURM: tests/test_slurm.py."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SLURM = Path(__file__).parent.parent / "slurm"
TEMPLATES = sorted(SLURM.glob("*.sbatch"))
PLACEHOLDERS = ("account", "partition", "mem", "time")
TOOLS = ("bash", "basename", "dirname", "sed", "head", "hostname", "date", "mkdir", "cat")
"""What the templates run besides mpies, srun and scontrol (faked here)."""


def test_there_are_templates():
    assert {"es.sbatch", "cma.sbatch", "map-elites.sbatch", "multinode.sbatch", "poet.sbatch",
            "sweep.sbatch"} <= {t.name for t in TEMPLATES}


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.name)
def test_templates_have_placeholders_and_a_header_that_says_what_to_edit(template):
    text = template.read_text()
    lines = text.splitlines()
    for name in PLACEHOLDERS:
        assert not any(re.match(rf"#SBATCH --{name}", line) for line in lines), f"{name} is set, not a placeholder"
        (placeholder,) = [line for line in lines if re.match(rf"##SBATCH --{name}[-=]", line)]
        assert "EDIT" in placeholder
    header = text[:re.search(r"^#SBATCH ", text, re.M).start()]
    assert "EDIT before the first submission" in header and "placeholders" in header
    assert "account, partition, memory" in header.replace("\n# ", " ")
    if template.name == "es.sbatch":
        assert "MPIES_SRUN_MPI" in header and "MPIES_SRUN_ARGS" in header
        assert "source ~/venvs/mpies/bin/activate" in text and "module load" in text
    else:  # the wrappers run es.sbatch: its environment section, preflight and srun line
        assert 'exec bash "${MPIES_SBATCH_DIR:-$(dirname "$script")}/es.sbatch"' in text
        assert "MPIES_SRUN_MPI" in header and "es.sbatch" in header


def job_environment(tmp_path: Path, template: Path, with_mpies: bool, **extra) -> dict:
    """A PATH of only the tools the templates use, fake ``scontrol`` (it names ``template`` as
    the job's script), fake ``srun`` (it writes its arguments to srun.args), and a fake ``mpies``
    when ``with_mpies``; the variables Slurm sets in a job."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in TOOLS:
        os.symlink(shutil.which(tool), bin_dir / tool)
    fakes = {"scontrol": f'echo "   Command={template} arguments"',
             "srun": f'echo "$@" > {tmp_path / "srun.args"}'}
    if with_mpies:
        fakes["mpies"] = "exit 0"
    for name, body in fakes.items():
        (bin_dir / name).write_text(f"#!{shutil.which('bash')}\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return {"PATH": str(bin_dir), "SLURM_JOB_ID": "7", "SLURM_JOB_NAME": "job", "SLURM_NTASKS": "2",
            "SLURM_SUBMIT_DIR": str(tmp_path), "SLURM_ARRAY_TASK_ID": "0", "CONFIG": "cartpole", **extra}


def run_template(template: Path, tmp_path: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([shutil.which("bash"), str(template)], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.name)
def test_the_preflight_says_in_one_line_that_mpies_is_not_on_path(template, tmp_path):
    proc = run_template(template, tmp_path, job_environment(tmp_path, template, with_mpies=False))
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("Error: mpies is not on PATH in this job")
    assert "source ~/venvs/mpies/bin/activate" in line and "module load" in line
    assert not (tmp_path / "srun.args").exists()  # nothing was launched


@pytest.mark.parametrize("variables, srun_args", [
    ({}, "--mpi=pmi2"),
    ({"MPIES_SRUN_MPI": "pmix", "MPIES_SRUN_ARGS": "--cpu-bind=cores  --exclusive"},
     "--mpi=pmix --cpu-bind=cores --exclusive"),
])
def test_srun_takes_its_mpi_plugin_and_arguments_from_the_environment(tmp_path, variables, srun_args):
    template = SLURM / "es.sbatch"
    env = job_environment(tmp_path, template, with_mpies=True, **variables)
    proc = run_template(template, tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    run = "mpies run cartpole -o runs/job-7.h5 --resume auto"
    assert (tmp_path / "srun.args").read_text().strip() == f"{srun_args} {run}"
    assert f"srun {srun_args} {run}" in proc.stdout and "srun exited with 0" in proc.stdout


def test_the_wrappers_pass_the_srun_variables_on(tmp_path):
    template = SLURM / "sweep.sbatch"
    env = job_environment(tmp_path, template, with_mpies=True, MPIES_SRUN_MPI="pmix", MPIES_SRUN_ARGS="-l",
                          MPIES_SBATCH_DIR=str(SLURM))
    proc = run_template(template, tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "srun.args").read_text().split()[:4] == ["--mpi=pmix", "-l", "mpies", "run"]
