"""The sbatch templates under a real single-node SLURM (scripts/slurm_local.sh): runs, USR1 + requeue
+ resume equal to an uninterrupted run, job arrays, the CMA template under mpiexec.

Needs slurmctld, slurmd, sbatch and munge (apt-get install -y --no-install-recommends slurmctld
slurmd slurm-client munge), root, and CI or MPIES_SLURM_TESTS set; skipped otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest

from conftest import (TESTS, assert_bitwise_equal, history_length, load_result, run_mpies, subprocess_env,
                      tiny_config)

ROOT = TESTS.parent
SLURM = ROOT / "slurm"
SLURM_LOCAL = ROOT / "scripts" / "slurm_local.sh"

pytestmark = pytest.mark.skipif(
    not (shutil.which("sbatch") and (shutil.which("slurmctld") or os.path.exists("/usr/sbin/slurmctld"))
         and os.geteuid() == 0 and (os.environ.get("CI") or os.environ.get("MPIES_SLURM_TESTS"))),
    reason="needs SLURM (sbatch, slurmctld), root, and CI or MPIES_SLURM_TESTS set")

FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL",
                "DEADLINE", "PREEMPTED"}
SLEEPY = "mpies_test_envs:SleepyCartPole-v0"  # 2 ms steps: a tiny generation takes ~0.5 s


class Cluster:
    def __init__(self, directory: Path):
        self.dir = directory
        self.conf = directory / "slurm.conf"

    def env(self, **extra) -> dict:
        """The submission environment: exported to jobs (--export=ALL), so they run this Python's
        mpies and mpiexec and import tests/ (the test environments)."""
        env = subprocess_env()
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["SLURM_CONF"] = str(self.conf)
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def cmd(self, *args, timeout=30) -> str:
        proc = subprocess.run(list(map(str, args)), capture_output=True, text=True, env=self.env(),
                              timeout=timeout)
        assert proc.returncode == 0, f"{args}: {proc.stderr}"
        return proc.stdout

    def submit(self, script, *args, cwd, log, options=(), **env) -> str:
        out = subprocess.run(["sbatch", "--parsable", "--export=ALL", f"--output={log}", *options,
                              str(script), *map(str, args)], capture_output=True, text=True,
                             env=self.env(**env), cwd=cwd, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip().split(";")[0]

    def jobs(self, job_id) -> list[dict]:
        """``scontrol show job -o``: one dict per job (array tasks included); no accounting needed."""
        text = self.cmd("scontrol", "show", "job", "-o", job_id)
        return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in text.splitlines() if line.strip()]

    def wait(self, job_id, until, timeout, what) -> list[dict]:
        deadline = time.time() + timeout
        while True:
            jobs = self.jobs(job_id)
            if until(jobs):
                return jobs
            if time.time() > deadline:
                pytest.fail(f"job {job_id}: not {what} after {timeout} s: "
                            f"{[(j['JobState'], j.get('Reason'), j.get('Restarts')) for j in jobs]}\n{self.logs()}")
            time.sleep(0.25)

    def wait_done(self, job_id, timeout=120) -> list[dict]:
        return self.wait(job_id, lambda jobs: all(j["JobState"] in FINAL_STATES for j in jobs), timeout, "done")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-15:])
                         for p in sorted((self.dir / "log").glob("*.log")))


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    directory = tmp_path_factory.mktemp("slurm")
    env = dict(os.environ, MPIES_SLURM_DIR=str(directory))
    try:
        start = subprocess.run([str(SLURM_LOCAL), "start"], env=env, capture_output=True, text=True, timeout=120)
        assert start.returncode == 0, f"slurm_local.sh start failed:\n{start.stdout}\n{start.stderr}"
        yield Cluster(directory)
    finally:
        subprocess.run([str(SLURM_LOCAL), "stop"], env=env, capture_output=True, timeout=120)


def log_of(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else "(no log)"


def assert_finished(path: Path, generations: int) -> None:
    with h5py.File(path, "r") as f:
        assert f.attrs["status"] == "finished"
        assert f["history"].shape == (generations,)


@pytest.mark.timeout(180)
def test_es_sbatch_runs_then_skips_a_finished_file_and_refuses_another_config(cluster, tmp_path):
    config = tiny_config(tmp_path, generations=4)
    out, log = tmp_path / "runs" / "es.h5", tmp_path / "es.log"
    # relative to the submission folder; a requeued or resubmitted job must pass the same -o string,
    # which is part of the stored config (output.path)
    job_env = {"CONFIG": config.name, "OUT": "runs/es.h5"}
    proc = subprocess.run(["sbatch", "--wait", "--export=ALL", "--ntasks=2", f"--output={log}",
                           str(SLURM / "es.sbatch")],
                          capture_output=True, text=True, timeout=150, cwd=tmp_path, env=cluster.env(**job_env))
    assert proc.returncode == 0, f"{proc.stderr}\n{log_of(log)}"
    assert_finished(out, 4)
    text = log_of(log)
    assert "2 rank(s)" in text and "srun exited with 0" in text  # one 2-rank world, not 2 runs of 1 rank
    before = load_result(out)

    # submitted again: --resume auto leaves the finished file alone
    job = cluster.submit(SLURM / "es.sbatch", cwd=tmp_path, log=tmp_path / "again.log", options=["--ntasks=2"],
                         **job_env)
    (info,) = cluster.wait_done(job)
    assert (info["JobState"], info["ExitCode"]) == ("COMPLETED", "0:0")
    assert "already finished" in log_of(tmp_path / "again.log")

    # another config for the same file: exit 2, no requeue, file untouched
    job = cluster.submit(SLURM / "es.sbatch", "--set", "strategy.sigma=0.3", cwd=tmp_path, log=tmp_path / "other.log",
                         options=["--ntasks=2"], **job_env)
    (info,) = cluster.wait_done(job)
    assert (info["JobState"], info["ExitCode"], info["Restarts"]) == ("FAILED", "2:0", "0")
    assert "another configuration" in log_of(tmp_path / "other.log")
    assert_bitwise_equal(before, load_result(out))


def wait_for_generations(cluster, job, out: Path, log: Path, count: int) -> None:
    deadline = time.time() + 90
    while history_length(out) < count:
        state = cluster.jobs(job)[0]["JobState"]
        if state in FINAL_STATES or time.time() > deadline:
            pytest.fail(f"job {job} {state}, {history_length(out)} generations\n{log_of(log)}\n{cluster.logs()}")
        time.sleep(0.1)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("launcher", ["srun", "mpiexec"])
def test_usr1_checkpoints_requeues_and_the_result_equals_an_uninterrupted_run(cluster, tmp_path, launcher):
    generations = 10
    config = tiny_config(tmp_path, env=SLEEPY, generations=generations, max_steps=40)
    out, log = tmp_path / "preempted.h5", tmp_path / "preempted.log"
    job = cluster.submit(SLURM / "es.sbatch", cwd=tmp_path, log=log, options=["--ntasks=2"], CONFIG=config, OUT=out,
                         MPIES_LAUNCHER=launcher)
    wait_for_generations(cluster, job, out, log, 2)
    # what --signal=B:USR1@120 does before the time limit: USR1 to the batch shell only
    cluster.cmd("scancel", "--signal=USR1", "--batch", job)

    # requeued (pending on BeginTime for AuthInfo=cred_expire seconds), started again, finished
    cluster.wait(job, lambda jobs: int(jobs[0]["Restarts"]) >= 1, 60, "requeued")
    (info,) = cluster.wait_done(job, timeout=120)
    text = log_of(log)
    assert (info["JobState"], info["ExitCode"], info["Restarts"]) == ("COMPLETED", "0:0", "1"), text
    stopped = re.search(r"stopped after generation (\d+) with a checkpoint", text)
    assert stopped and 2 <= int(stopped.group(1)) < generations, text
    for line in ("got SIGUSR1", f"{launcher} exited with 75", "requeueing job", "(restart 1)",
                 f"resuming {out} at generation {stopped.group(1)}", f"{launcher} exited with 0"):
        assert line in text, f"{line!r} missing:\n{text}"
    assert_finished(out, generations)

    straight = tmp_path / "straight.h5"
    run_mpies(2, "run", config, "-o", straight)
    assert_bitwise_equal(load_result(straight), load_result(out))


@pytest.mark.timeout(120)
def test_scancel_checkpoints_and_the_job_stays_cancelled(cluster, tmp_path):
    config = tiny_config(tmp_path, env=SLEEPY, generations=30, max_steps=40)
    out, log = tmp_path / "cancelled.h5", tmp_path / "cancelled.log"
    job = cluster.submit(SLURM / "es.sbatch", cwd=tmp_path, log=log, options=["--ntasks=2"], CONFIG=config, OUT=out)
    wait_for_generations(cluster, job, out, log, 2)
    cluster.cmd("scancel", job)  # SIGTERM to the batch shell and the ranks; SIGKILL after KillWait (30 s)
    cluster.wait_done(job)
    deadline = time.time() + 30
    while True:
        try:
            with h5py.File(out, "r", swmr=True, locking=False) as f:
                status, rows = str(f.attrs["status"]), f["history"].shape[0]
        except (OSError, KeyError):
            status, rows = "unreadable", 0
        if status == "preempted" or time.time() > deadline:
            break
        time.sleep(0.2)
    assert status == "preempted" and 2 <= rows < 30, log_of(log)
    time.sleep(2)
    (info,) = cluster.jobs(job)
    assert (info["JobState"], info["Restarts"]) == ("CANCELLED", "0"), log_of(log)
    assert "requeueing" not in log_of(log)


@pytest.mark.timeout(180)
def test_sweep_sbatch_runs_one_file_per_seed(cluster, tmp_path):
    config = tiny_config(tmp_path, generations=3, name="sweep.toml")
    job = cluster.submit(SLURM / "sweep.sbatch", "--set", "rollout.max_steps=20", cwd=tmp_path,
                         log=tmp_path / "sweep-%a.log", options=["--array=0-1", "--ntasks=2"], CONFIG=config)
    tasks = cluster.wait_done(job)
    assert len(tasks) == 2
    assert all((t["JobState"], t["ExitCode"]) == ("COMPLETED", "0:0") for t in tasks), \
        [log_of(tmp_path / f"sweep-{i}.log") for i in (0, 1)]
    for seed in (0, 1):
        path = tmp_path / "runs" / f"sweep-seed{seed}.h5"  # runs/ under the submission folder
        assert_finished(path, 3)
        with h5py.File(path, "r") as f:
            assert f"seed = {seed}\n" in str(f.attrs["config"])
            assert "max_steps = 20\n" in str(f.attrs["config"])


CMA = """
algorithm = "cma_es"
env = "CartPole-v1"
generations = 5
[policy]
kind = "linear"
[strategy]
population = 8
sigma = 0.5
[rollout]
max_steps = 100
[noise]
table_size = 200000
"""


@pytest.mark.timeout(180)
def test_cma_sbatch_under_mpiexec_equals_a_direct_run(cluster, tmp_path):
    config = tmp_path / "cma.toml"
    config.write_text(CMA)
    out, log = tmp_path / "cma.h5", tmp_path / "cma.log"
    job = cluster.submit(SLURM / "cma.sbatch", cwd=tmp_path, log=log, options=["--ntasks=2"],
                         CONFIG=config, OUT=out, MPIES_LAUNCHER="mpiexec")
    (info,) = cluster.wait_done(job)
    assert (info["JobState"], info["ExitCode"]) == ("COMPLETED", "0:0"), log_of(log)
    assert "mpiexec exited with 0" in log_of(log) and "2 rank(s)" in log_of(log)
    assert_finished(out, 5)
    direct = tmp_path / "direct.h5"
    run_mpies(2, "run", config, "-o", direct)
    assert_bitwise_equal(load_result(direct), load_result(out))


@pytest.mark.timeout(180)
def test_map_elites_sbatch_runs_a_shipped_qd_config(cluster, tmp_path):
    out, log = tmp_path / "arm.h5", tmp_path / "arm.log"
    job = cluster.submit(SLURM / "map-elites.sbatch", "--set", "generations=5", cwd=tmp_path, log=log,
                         options=["--ntasks=2"], CONFIG="arm-map-elites", OUT=out, MPIES_LAUNCHER="mpiexec")
    (info,) = cluster.wait_done(job)
    assert (info["JobState"], info["ExitCode"]) == ("COMPLETED", "0:0"), log_of(log)
    assert_finished(out, 5)
    direct = tmp_path / "direct.h5"
    run_mpies(2, "run", "arm-map-elites", "--set", "generations=5", "-o", direct)
    assert_bitwise_equal(load_result(direct), load_result(out))


@pytest.mark.timeout(240)
def test_poet_sbatch_runs_pairs_on_subgroups(cluster, tmp_path):
    out, log = tmp_path / "poet.h5", tmp_path / "poet.log"
    small = ["--set", "generations=4", "--set", "strategy.population=8", "--set", "rollout.max_steps=100",
             "--set", "strategy.mutate_every=2", "--set", "strategy.transfer_every=2",
             "--set", "strategy.repro_threshold=-200.0", "--set", "strategy.mc_lower=-200.0",
             "--set", "noise.table_size=100000"]
    job = cluster.submit(SLURM / "poet.sbatch", *small, cwd=tmp_path, log=log, options=["--ntasks=2"],
                         CONFIG="poet-small", OUT=out, MPIES_LAUNCHER="mpiexec")
    (info,) = cluster.wait_done(job)
    assert (info["JobState"], info["ExitCode"]) == ("COMPLETED", "0:0"), log_of(log)
    assert_finished(out, 4)
    assert "subgroups" in log_of(log)
    direct = tmp_path / "direct.h5"
    run_mpies(2, "run", "poet-small", *small, "-o", direct, timeout=240)
    assert_bitwise_equal(load_result(direct), load_result(out))
