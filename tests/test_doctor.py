"""``mpies doctor`` under real mpiexec and alone: MPI library, launcher, node layout, node-shared
memory, output space and permissions, extras, and the warning for the PyPI mpich inside SLURM."""

import os
import sys

from conftest import mounted_tmpfs, run_mpies
from mpies import comm
from mpies.cli.doctor_cmd import launcher, mpich_wheel_in_use


def fields(stdout: str) -> dict:
    """``name -> text`` of the doctor's lines (``warning:`` lines under ``warning``)."""
    out = {}
    for line in stdout.splitlines():
        name, _, text = line.partition(" ")
        out.setdefault(name.rstrip(":"), []).append(text.strip())
    return out


def test_doctor_on_two_ranks_sees_one_node_sharing_memory(tmp_path):
    proc = run_mpies(2, "doctor", "-o", tmp_path, timeout=60)
    lines = fields(proc.stdout)
    assert lines["ranks"] == [f"2 on 1 node(s): {os.uname().nodename} 2"]
    assert lines["noise"] == ["table   node-shared: one copy per node, in an MPI shared-memory window"]
    assert "set" in lines["launcher"][0] and not lines["launcher"][0].startswith("none")
    assert lines["MPI"][0].startswith("library") and f"mpi4py {comm.library()['mpi4py']}" in lines["MPI"][0]
    assert f"{tmp_path}: " in lines["output"][0] and lines["output"][0].endswith("writable")
    assert all(f"{extra} " in lines["extras"][0] for extra in ("mujoco", "box2d", "tetris", "plot", "video"))
    assert proc.stdout.count("\n") == 7 and "warning" not in lines  # rank 0 alone prints


def test_doctor_alone_names_the_singleton_and_warns_about_the_pypi_mpich_in_slurm(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    proc = run_mpies(None, "doctor", "-o", tmp_path / "not" / "yet", timeout=60)
    lines = fields(proc.stdout)
    assert lines["launcher"] == ["none inside SLURM job 4242 (a singleton: start it with srun)"]
    assert "(nearest existing folder" in lines["output"][0]
    wheel = mpich_wheel_in_use(comm.library()["path"])
    assert ("(the mpich wheel from PyPI)" in lines["libmpi"][0]) == wheel
    assert ("warning" in lines and "module load" in lines["warning"][0]) == wheel


def test_an_output_that_cannot_be_written_fails_the_check(tmp_path):
    with mounted_tmpfs(tmp_path / "ro", "ro,size=1m") as folder:
        proc = run_mpies(None, "doctor", "-o", folder, timeout=60, check_rc=1)
    assert "NOT writable by this user" in proc.stdout


def test_launcher_is_read_from_the_variables_launchers_set():
    assert launcher({"SLURM_STEP_ID": "0", "SLURM_JOB_ID": "7", "PMI_RANK": "0"}) == "srun: SLURM_STEP_ID set, SLURM job 7"
    assert launcher({"OMPI_COMM_WORLD_RANK": "1"}) == "Open MPI's mpirun/mpiexec: OMPI_COMM_WORLD_RANK set"
    assert launcher({"PMI_RANK": "3"}).startswith("mpiexec of MPICH (Hydra)")
    assert launcher({}).startswith("none (a singleton")


def test_the_mpich_wheel_is_a_libmpi_inside_this_python(monkeypatch):
    import importlib.metadata
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "5.0.2")
    assert mpich_wheel_in_use(os.path.join(sys.prefix, "lib", "libmpi.so.12"))
    assert not mpich_wheel_in_use("/opt/cray/pe/lib64/libmpi.so.12") and not mpich_wheel_in_use("")
