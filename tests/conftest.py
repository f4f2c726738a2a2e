"""Shared helpers: tiny run configs and real ``mpiexec`` launches with timeouts."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

TESTS = Path(__file__).parent

TINY = """
name = "tiny"
env = "{env}"
seed = 3
generations = {generations}
{extra}

[policy]
kind = "mlp"
hidden = [{hidden}]
obs_norm = true
action_noise = 0.0

[strategy]
population = {population}
sigma = 0.1
learning_rate = 0.05

[noise]
mode = "{noise}"
table_size = 200000

[rollout]
max_steps = {max_steps}
episodes = {episodes}
eval_every = 2
eval_episodes = 3

[output]
checkpoint_every = 2
"""


def tiny_config(tmp_path: Path, *, env="CartPole-v1", generations=6, hidden="8", population=12,
                noise="table", max_steps=100, name="tiny.toml", extra="", episodes=1) -> Path:
    """Write a small, fast CartPole config; returns its path."""
    path = tmp_path / name
    path.write_text(TINY.format(env=env, generations=generations, hidden=hidden, population=population,
                                noise=noise, max_steps=max_steps, extra=extra, episodes=episodes))
    return path


def subprocess_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def mpies_cmd(ranks: int | None, *args) -> list[str]:
    """``mpiexec -n ranks python -m mpies ARGS`` (or without mpiexec when ranks is None)."""
    base = [sys.executable, "-m", "mpies", *map(str, args)]
    return base if ranks is None else ["mpiexec", "-n", str(ranks), *base]


def run_mpies(ranks, *args, timeout=120, cwd=None, check_rc=0) -> subprocess.CompletedProcess:
    """Run mpies and return the completed process; fail the test on timeout or wrong exit code."""
    proc = subprocess.run(mpies_cmd(ranks, *args), capture_output=True, text=True, timeout=timeout,
                          env=subprocess_env(), cwd=cwd)
    if check_rc is not None and proc.returncode != check_rc:
        pytest.fail(f"exit {proc.returncode} (expected {check_rc})\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def load_result(path: Path) -> dict[str, np.ndarray]:
    """The deterministic content of a run file: checkpoint state, best, history columns."""
    from mpies.io import open_run, read_best, read_history, read_state
    from mpies.io.schema import deterministic_fields

    with open_run(path) as f:
        generation, state = read_state(f)
        history = read_history(f)
        best = read_best(f)
    out = {f"state/{k}": v for k, v in state.items()}
    out.update({f"best/{k}": v for k, v in best.items()})
    out.update({f"history/{k}": history[k] for k in deterministic_fields(history.dtype)})
    out["next_generation"] = np.asarray(generation)
    return out


def assert_bitwise_equal(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        x, y = np.asarray(a[key]), np.asarray(b[key])
        assert x.shape == y.shape, key
        assert x.tobytes() == y.tobytes(), f"{key} differs: {x} vs {y}"


def history_length(path: Path) -> int:
    try:
        with h5py.File(path, "r", swmr=True, locking=False) as f:
            return f["history"].shape[0]
    except (OSError, KeyError):
        return 0


def one_line_error(proc_or_result, *words) -> None:
    """Assert a user error: exit code 2 and one line ``Error: ...`` containing ``words``, no traceback."""
    code = getattr(proc_or_result, "returncode", getattr(proc_or_result, "exit_code", None))
    assert code == 2, code
    err = proc_or_result.stderr if hasattr(proc_or_result, "stderr") else proc_or_result.output
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ") and "Traceback" not in err
    for word in words:
        assert word in lines[0], lines[0]


# A POET run of a few seconds: tiny populations and episodes, terrains created and transfers tried
# every 2 iterations (thresholds low enough that they happen).
POET_TINY = """
algorithm = "poet"
env = "bipedal_terrain"
seed = 0
generations = 6

[policy]
kind = "mlp"
hidden = [40, 40]
obs_norm = false

[strategy]
population = 8
transfer_every = 2
mutate_every = 2
repro_threshold = -200.0
mc_lower = -200.0
mc_upper = 340.0
max_pairs = 3

[rollout]
max_steps = 100

[noise]
table_size = 100000

[output]
checkpoint_every = 2
"""


@pytest.fixture
def figures(monkeypatch):
    """The figures `mpies plot` saves (the PNG is still written)."""
    saved = []
    from matplotlib.figure import Figure

    original = Figure.savefig

    def capture(fig, *args, **kwargs):
        saved.append(fig)
        return original(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", capture)
    return saved


def undocumented(path) -> list[str]:
    """Datasets of the run file ``path`` that lack a non-empty ``doc`` or ``units`` (or, for a
    compound dataset, a column's ``doc:NAME`` or ``units:NAME``)."""
    missing = []

    def visit(name, obj):
        if not isinstance(obj, h5py.Dataset):
            return
        wanted = ["doc", "units"] + [f"{kind}:{column}" for column in (obj.dtype.names or ())
                                     for kind in ("doc", "units")]
        missing.extend(f"{name} {attr}" for attr in wanted if not str(obj.attrs.get(attr, "")).strip())
    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return missing


SPHERE = """
algorithm = "openai_es"
env = "fn:sphere"
env_kwargs = {dim = 5, x0 = 1.0}
generations = 4
[strategy]
population = 8
sigma = 0.1
learning_rate = 0.05
[noise]
table_size = 100000
"""
"""A 4-generation OpenAI-ES run on the 5-D sphere: in-process runs of well under a second."""


@contextlib.contextmanager
def mounted_tmpfs(folder: Path, options: str):
    """A tmpfs mounted at ``folder`` (created) with the mount ``options``; the test is skipped
    where mounting is not allowed (not root, or no permission in a container)."""
    folder.mkdir(exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True).returncode:
        pytest.skip(f"cannot mount a tmpfs ({options}) here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)

