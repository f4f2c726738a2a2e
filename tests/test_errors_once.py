"""Errors once, before any rollout: an environment the policies cannot serve or cannot be made is
one line (exit 2) from rank 0; third-party warnings come from rank 0 only; no rank writes
MuJoCo's ``MUJOCO_LOG.TXT`` into the working directory."""

import subprocess
import sys
import warnings

import pytest

import mpies_extra_envs  # noqa: F401 - registers the environments
from conftest import one_line_error, run_mpies, subprocess_env, tiny_config
from mpies import config as config_mod
from mpies.config import ConfigError
from mpies.envs import quiet_third_party_warnings
from mpies.tasks import make_task

SPACES = [
    ("FrozenLake-v1", "observation space Discrete(16) is not a flat Box"),
    ("CarRacing-v3", "observation space Box(0, 255, (96, 96, 3), uint8) is not a flat Box"),
    ("Blackjack-v1", "observation space Tuple(Discrete(32), Discrete(11), Discrete(2)) is not a flat Box"),
    ("mpies_extra_envs:MultiBinaryAction-v0", "action space MultiBinary(3) is neither Discrete nor a flat Box"),
]
SUPPORTED = "mpies policies act on flat Box observations with Discrete or flat Box actions"


def task_error(env: str) -> str:
    with pytest.raises(ConfigError) as info:
        make_task(config_mod.from_dict({"env": env}))
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("env, problem", SPACES)
def test_unsupported_spaces_are_a_config_error_naming_env_and_space(env, problem):
    assert task_error(env) == f"env: {env} is not supported: its {problem}; {SUPPORTED}"


def test_a_missing_optional_dependency_is_a_config_error():
    message = task_error("mpies_extra_envs:NeedsExtra-v0")
    assert message == ("env: mpies_extra_envs:NeedsExtra-v0 cannot be made, a dependency is missing "
                       "(pretend_physics is not installed, run `pip install \"gymnasium[pretend]\"`)")
    assert "dependency is missing (No module named 'mpies_no_such_module')" in task_error(
        "mpies_extra_envs:MissingModule-v0")


@pytest.mark.parametrize("env, problem", [SPACES[0], SPACES[2], (
    "mpies_extra_envs:NeedsExtra-v0", "pretend_physics is not installed")])
def test_mpies_run_prints_one_line_from_rank_0_and_exits_2(tmp_path, env, problem):
    out = tmp_path / "x.h5"
    proc = run_mpies(2, "run", "cartpole", "--set", f"env={env}", "-o", out, check_rc=2)
    one_line_error(proc, f"env: {env}", problem)
    assert proc.stdout == "" and not out.exists()
    assert list(tmp_path.iterdir()) == []


RANK_SCRIPT = """
import sys, warnings
from mpi4py import MPI
from mpies.envs import make_env, quiet_third_party_warnings
quiet_third_party_warnings(MPI.COMM_WORLD.rank)
warnings.warn("a library's warning", UserWarning)
make_env("HalfCheetah-v5").close()  # MuJoCo's compiler warns: 'settotalmass' is deprecated
"""


def test_third_party_warnings_come_from_rank_0_only_and_mujoco_writes_no_log(tmp_path):
    proc = subprocess.run(["mpiexec", "-n", "2", sys.executable, "-c", RANK_SCRIPT], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("a library's warning") == 1
    assert proc.stderr.count("settotalmass") == 1 and "MuJoCoWarning" in proc.stderr
    assert proc.stdout == ""  # MuJoCo's own handler would print it on stdout, once per rank
    assert list(tmp_path.iterdir()) == []  # no MUJOCO_LOG.TXT


def test_mpies_run_on_mujoco_leaves_no_log_in_the_working_directory(tmp_path):
    config = tiny_config(tmp_path, env="HalfCheetah-v5", generations=1, population=4, max_steps=5)
    work = tmp_path / "work"
    work.mkdir()
    proc = run_mpies(2, "run", config, "-o", tmp_path / "h.h5", cwd=work)
    assert proc.stderr.count("settotalmass") == 1, proc.stderr
    assert list(work.iterdir()) == []


def test_ant_writes_no_mujoco_log(tmp_path):
    script = ("from mpies import config; from mpies.tasks import make_task\n"
              "task = make_task(config.from_dict({'env': 'ant', 'env_kwargs': {'duration': 0.5}}))\n"
              "task.evaluate([float('inf')] * 24, [0]); task.evaluate([1.0] * 24, [0]); task.close()\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_quiet_third_party_warnings_silences_ranks_but_0():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_third_party_warnings(0)
        warnings.warn("shown", UserWarning)
        quiet_third_party_warnings(3)
        warnings.warn("hidden", UserWarning)
    assert [str(w.message) for w in seen] == ["shown"]
