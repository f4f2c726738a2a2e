"""Bad configuration values never hang, crash or modify anything: each is one line on stderr and
exit code 2, before any output file exists; sizes that cannot fit are refused with the memory
estimate and the machine's limit; a signal to one rank (not to mpiexec) stops the whole job."""

from __future__ import annotations

import errno
import hashlib
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import h5py
import pytest

from conftest import history_length, mounted_tmpfs, mpies_cmd, one_line_error, run_mpies, subprocess_env, tiny_config
from mpies import config as cfg
from mpies import driver
from mpies import memory
from mpies.io.lock import lock_path

REFUSED = "the run needs about"

CASES = [
    # non-finite numbers
    ("cartpole", ["strategy.sigma=nan"], ["strategy.sigma: got nan", "finite"]),
    ("cartpole", ["strategy.learning_rate=nan"], ["strategy.learning_rate: got nan"]),
    ("cartpole", ["strategy.weight_decay=inf"], ["strategy.weight_decay: got inf"]),
    ("cartpole", ["policy.init_scale=inf"], ["policy.init_scale: got inf"]),
    ("cartpole", ["strategy.sigma=1e400"], ["strategy.sigma: got inf", "1e400"]),
    ("cartpole", ["rollout.max_failed_fraction=nan"], ["rollout.max_failed_fraction: got nan"]),
    ("arm-map-elites", ["strategy.lower=[nan, -1.0]"], ["strategy.lower[0]: got nan"]),
    # tracebacks before
    ("cartpole", ["output.path={name.x}"], ["output.path: got '{name.x}'", "only {name} and {seed}"]),
    ("cartpole", ["output.path={seed[0]}"], ["output.path: got '{seed[0]}'"]),
    ("cartpole", ['name="a\\u0000b"'], ["name: got 'a\\x00b'", "NUL"]),
    ("cartpole", ["seed=99999999999999999999999"], ["seed: got 99999999999999999999999", "2**63 - 1"]),
    ("cartpole", ["strategy.population=4611686018427387904"], [REFUSED, "reduce strategy.population"]),
    # sizes that cannot fit
    ("cartpole", ["rollout.max_steps=1e12"], ["rollout.max_steps: got 1000000000000.0", "write 1000000000000"]),
    ("cartpole", ["rollout.max_steps=1000000000000"], [REFUSED, "task buffers", "reduce rollout.max_steps"]),
    ("cartpole", ["rollout.episodes=1000000000"], [REFUSED, "reduce rollout.episodes"]),
    ("cartpole", ["policy.kind=mlp", "policy.hidden=[1000000, 1000000]"], [REFUSED, "reduce policy.hidden"]),
    ("cartpole", ["env=fn:sphere", "env_kwargs={dim=1000000000000}"], [REFUSED, "reduce env_kwargs.dim"]),
    ("cartpole", ["strategy.population=1e9"], ["strategy.population: got 1000000000.0", "write 1000000000"]),
    ("cartpole", ["strategy.population=1000000000"], [REFUSED, "reduce strategy.population"]),
    ("cartpole", ["noise.table_size=10000000000000"], [REFUSED, "per node", "noise table 36.4 TiB",
                                                        "reduce noise.table_size"]),
    ("arm-map-elites", ["strategy.bins=[1e6, 1e6]"], ["strategy.bins[0]: got 1000000.0"]),
    ("arm-map-elites", ["strategy.bins=[1000000, 1000000]"], [REFUSED, "archive", "reduce strategy.bins"]),
    ("arm-map-elites", ["strategy.archive=cvt", "strategy.cells=1000000000"], [REFUSED, "reduce strategy.cells"]),
    ("tetris-cem-small", ["env_kwargs={height=1000000}"], ["env_kwargs.height: got 1000000", "at most 1000"]),
    # a name that would lead the default output path out of runs/
    ("cartpole", ["name=../../x"], ["name: got '../../x'", "plain file name", "pass -o PATH"]),
    ("cartpole", ["name=a/b"], ["name: got 'a/b'", "plain file name"]),
    ("cartpole", ["name=.."], ["name: got '..'"]),
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_bad(tmp_path: Path, shipped: str, overrides: list[str], *extra, preexec_fn=None, cwd=None):
    """``mpies run`` of a copy of a shipped config with ``overrides``, alone (no mpiexec); asserts
    that it ended (timeout), that the config file is unchanged and that nothing else was written."""
    config = tmp_path / f"{shipped}.toml"
    config.write_text(cfg.shipped_configs()[shipped])
    before = sha256(config)
    args = [a for item in overrides for a in ("--set", item)]
    proc = subprocess.run(mpies_cmd(None, "run", config, *args, *extra), capture_output=True, text=True,
                          timeout=120, env=subprocess_env(), cwd=cwd or tmp_path, preexec_fn=preexec_fn)
    assert sha256(config) == before
    assert sorted(tmp_path.iterdir()) == [config], "something was written"
    return proc


@pytest.mark.parametrize("shipped, overrides, words", CASES, ids=[" ".join(c[1]) for c in CASES])
def test_a_bad_value_is_one_line_and_exit_2_before_anything_is_written(tmp_path, shipped, overrides, words):
    proc = run_bad(tmp_path, shipped, overrides, "-o", tmp_path / "out.h5")
    one_line_error(proc, *words)


def test_a_300_character_name_is_refused_for_its_file_name(tmp_path):
    proc = run_bad(tmp_path, "cartpole", ["name=" + "a" * 300])  # the default output.path: runs/{name}-...
    one_line_error(proc, "name: got 'aaaa", "(302 characters)", "more than the 235", "choose a shorter name")


def test_an_output_option_with_braces_is_refused_like_output_path(tmp_path):
    proc = run_bad(tmp_path, "cartpole", [], "-o", tmp_path / "x{y}.h5")
    one_line_error(proc, "output.path: got", "{y} cannot be filled in")


def test_control_characters_survive_the_stored_toml():
    config = cfg.load("cartpole", ['name="tab\\there\\nnewline \\"quoted\\" \\u0001"',
                                   'env_kwargs={"a key" = "x\\ny"}'])
    assert cfg.from_toml(cfg.to_toml(config)) == config  # what `mpies resume` reads back


def test_a_huge_value_is_echoed_shortened(tmp_path):
    config = tmp_path / "huge.toml"
    config.write_text(f'[strategy]\noptimizer = "{"x" * 1_000_000}"\n')
    proc = run_mpies(None, "run", config, "-o", tmp_path / "out.h5", check_rc=2)
    one_line_error(proc, "strategy.optimizer: got 'xxx", "(1000002 characters)", "allowed: 'adam', 'sgd'")
    assert len(proc.stderr) < 300


def test_a_table_bigger_than_the_address_space_limit_is_refused_per_rank(tmp_path):
    # noise.table_size = 2**31 - 1 is an 8 GiB table: under `ulimit -v 4 GiB` it cannot be mapped
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, resource.RLIM_INFINITY))
    proc = run_bad(tmp_path, "cartpole", ["noise.table_size=2147483647"], "-o", tmp_path / "out.h5",
                   preexec_fn=limit)
    one_line_error(proc, f"{REFUSED} 8.00 GiB per rank (noise table 8.00 GiB", "ulimit -v",
                   "reduce noise.table_size")


# --------------------------------------------------------------------------- the estimate itself

def task(n=100, descriptor_dim=0):
    return SimpleNamespace(num_params=n, params_field="policy.hidden", descriptor_dim=descriptor_dim,
                           buffer_bytes=0, buffer_field="rollout.max_steps")


def parts_of(overrides: dict, n=100, descriptor_dim=0) -> dict[str, float]:
    config = cfg.from_dict(overrides)
    return {p.label: p.nbytes for p in memory.estimate(config, task(n, descriptor_dim), row_width=4)}


def test_the_estimate_counts_what_each_algorithm_keeps():
    parts = parts_of({"noise": {"table_size": 2**28}})
    assert parts["noise table"] == 2**30  # float32 entries
    assert parts["strategy model"] == 0 and parts["member vectors"] == 0  # OpenAI-ES rebuilds members
    n = 5000
    cma = parts_of({"algorithm": "cma_es", "strategy": {"population": 50}}, n)
    assert cma["strategy model"] == memory.MODELS["cma_es"].matrices * n * n * 8  # CMA-ES's n^2
    assert cma["member vectors"] == memory.MODELS["cma_es"].member_vectors * 50 * n * 8
    restarts = parts_of({"algorithm": "cma_es", "strategy": {"population": 50, "restarts": 3}}, n)
    assert restarts["member vectors"] == pytest.approx(8 * cma["member vectors"])  # IPOP doubles it 3 times
    assert parts_of({"algorithm": "sep_cma_es"}, n)["strategy model"] == 0
    grid = parts_of({"algorithm": "map_elites", "strategy": {"bins": [10, 20]}}, 7, 2)
    assert grid["archive"] == 2 * 200 * (7 + 2 + 4) * 8
    tasks = parts_of({"strategy": {"population": 10}, "rollout": {"episodes": 3, "eval_episodes": 2}})
    assert tasks["population buffers"] == (10 * 3 + 2) * (3 * 4 + 2) * 8 + 4 * 10 * 8


def test_the_refusal_names_the_largest_part_and_the_limit():
    parts = [memory.Part("noise table", 8 * 2**30, False, "noise.table_size"),
             memory.Part("policy parameters", 2**30, True, "policy.hidden")]
    assert memory.refusal(parts, 16, 12 * 2**30) == (
        "the run needs about 24.0 GiB per node (policy parameters 16 x 1.00 GiB, noise table 8.00 GiB), "
        "more than the 12.0 GiB available; reduce policy.hidden")


def test_the_limit_is_memavailable_or_the_cgroup_room_where_smaller(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24683584 kB\nMemAvailable:    1048576 kB\n")
    cgroup = tmp_path / "cgroup"
    job = cgroup / "job_7" / "step_0"
    job.mkdir(parents=True)
    (cgroup / "job_7" / "memory.max").write_text(f"{512 * 2**20}\n")
    (cgroup / "job_7" / "memory.current").write_text(f"{100 * 2**20}\n")
    (job / "memory.max").write_text("max\n")
    proc_cgroup = tmp_path / "self_cgroup"
    proc_cgroup.write_text("0::/job_7/step_0\n")
    assert memory.available_bytes(meminfo, cgroup, proc_cgroup) == 412 * 2**20  # the job's limit, less its use
    proc_cgroup.write_text("0::/elsewhere\n")
    assert memory.available_bytes(meminfo, cgroup, proc_cgroup) == 2**30  # MemAvailable alone


# --------------------------------------------------------------------------- signals

def ranks_of(config: Path, launcher: subprocess.Popen) -> list[int]:
    """PIDs of the ranks running ``config`` (not mpiexec nor its proxy), in increasing order."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(config).encode() in argv and b"mpies" in argv and int(pid) != launcher.pid \
                and not any(b"mpiexec" in a or b"hydra" in a for a in argv):
            found.append(int(pid))
    return sorted(found)


@pytest.mark.parametrize("signum, rank, code, status", [(signal.SIGINT, 1, 130, "interrupted"),
                                                        (signal.SIGTERM, 0, 75, "preempted")])
def test_a_signal_to_one_rank_stops_the_whole_job_with_a_checkpoint(tmp_path, signum, rank, code, status):
    config = tiny_config(tmp_path, env="mpies_test_envs:SleepyCartPole-v0", generations=30, max_steps=40,
                         extra="env_kwargs = {delay = 0.01}")
    out = tmp_path / "one-rank.h5"
    proc = subprocess.Popen(mpies_cmd(2, "run", config, "-o", out), env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while history_length(out) < 2 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        ranks = ranks_of(config, proc)
        assert history_length(out) >= 2 and len(ranks) == 2, "the run did not get going"
        os.kill(ranks[rank], signum)  # one rank only: mpiexec and the other rank get nothing
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and "mpies resume" in stdout
    with h5py.File(out, "r") as f:  # a plain open: the file is clean
        assert f.attrs["status"] == status
        stopped_at = int(f["state/pointer"][1])
        assert 2 <= stopped_at < 30 and f["history"].shape == (stopped_at,)
    assert not lock_path(out).exists()


def test_an_interrupt_outside_the_runs_loop_aborts_with_one_line():
    script = ("from mpies.cli.errors import mpi_errors\n"
              "def command():\n    raise KeyboardInterrupt\n"
              "mpi_errors(command)()\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env=subprocess_env())
    assert proc.returncode == 130
    assert proc.stderr.strip().splitlines() == [
        "Error: interrupted; stopped at once, without a new checkpoint (a run file keeps its last one, "
        "if it has one: `mpies resume` continues from it)"]


INTERRUPTED_WHILE_STARTING = """
import os, sys
class Interrupt:  # a Ctrl-C that reaches rank 1 while it imports MPI
    def find_spec(self, name, path=None, target=None):
        if name == "mpies.comm" and os.environ.get("PMI_RANK") == "1":
            raise KeyboardInterrupt
sys.meta_path.insert(0, Interrupt())
from mpies.cli import main
main(["run", sys.argv[1], "-o", sys.argv[2]])
"""


def test_an_interrupt_before_mpi_starts_ends_the_whole_job(tmp_path):
    # click would turn the KeyboardInterrupt into "Aborted!" and exit 1, leaving rank 0 in MPI_Init
    config = tiny_config(tmp_path, generations=2)
    out = tmp_path / "never.h5"
    proc = subprocess.run(["mpiexec", "-n", "2", sys.executable, "-c", INTERRUPTED_WHILE_STARTING, config, out],
                          capture_output=True, text=True, timeout=60, env=subprocess_env())
    assert proc.returncode != 0 and "Aborted!" not in proc.stderr


def test_a_folder_given_as_the_config_says_so(tmp_path):
    (tmp_path / "configs").mkdir()
    one_line_error(run_mpies(None, "run", tmp_path / "configs", check_rc=2), "config:", "is a folder")


@pytest.mark.parametrize("reason, fix", [
    (errno.ENOSPC, "free space there"), (errno.EDQUOT, "free space there"),
    (errno.EACCES, "not writable here"), (errno.EROFS, "not writable here"), (errno.ENOTDIR, "another path")])
def test_an_output_that_cannot_be_created_gets_the_fix_its_reason_calls_for(reason, fix):
    message = str(driver.cannot_create(Path("out/a.h5"), OSError(reason, os.strerror(reason))))
    assert message == f"output: cannot create out/a.h5: {os.strerror(reason)}; " + message.split("; ", 1)[1]
    assert fix in message and ("free space" in message) == (reason in (errno.ENOSPC, errno.EDQUOT))


def test_a_read_only_file_system_is_not_reported_as_full(tmp_path):
    with mounted_tmpfs(tmp_path / "ro", "ro,size=1m") as folder:
        proc = run_mpies(None, "run", "cartpole", "-o", folder / "a.h5", check_rc=2)
    one_line_error(proc, "cannot create", "Read-only file system", "not writable here")
    assert "free space" not in proc.stderr


def test_resume_with_fewer_generations_than_done_is_refused_unchanged(tmp_path):
    config = tiny_config(tmp_path, generations=4)
    out = tmp_path / "run.h5"
    run_mpies(None, "run", config, "-o", out)
    before = sha256(out)
    one_line_error(run_mpies(None, "resume", out, "--generations", "2", check_rc=2),
                   "--generations: got 2", "done 4 generations", "more than 4")
    assert sha256(out) == before
    finished = run_mpies(None, "resume", out)
    assert "already finished (4 generations)" in finished.stdout and "--generations N with N > 4" in finished.stdout


def test_adapt_on_an_archive_without_damages_names_the_task_that_has_them(tmp_path):
    out = tmp_path / "arm.h5"
    run_mpies(None, "run", "arm-map-elites", "--set", "generations=2", "--set", "strategy.population=8", "-o", out)
    before = sha256(out)
    one_line_error(run_mpies(None, "adapt", out, "--damage", "leg=1", check_rc=2),
                   "--damage:", "'arm', which has no damages", "ant")
    assert sha256(out) == before

