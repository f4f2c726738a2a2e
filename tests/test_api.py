"""The Python API (mpies.run, mpies.load_policy, mpies.read_history): in-process runs, policies that
play as `mpies eval` does, histories as stored, and the command line's one-line errors."""

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

import mpies
from conftest import POET_TINY, SPHERE, one_line_error, tiny_config
from mpies import config as config_mod
from mpies.cli import main
from mpies.config import ConfigError
from mpies.io import RunFileError
from mpies.policies import Policy
from mpies.rollout import run_episode



def quiet(line):
    """A ``log`` that prints nothing."""


@pytest.fixture(scope="module")
def cartpole_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cartpole")
    return mpies.run(tiny_config(tmp, generations=4), path=tmp / "cartpole.h5", log=quiet).path


def test_import_mpies_imports_nothing_heavy():
    code = ("import sys, mpies; heavy = [m for m in ('numpy', 'h5py', 'gymnasium', 'mpi4py') if m in sys.modules];"
            "print(heavy, callable(mpies.read_history))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] True"


def test_run_takes_a_path_a_config_or_a_name_with_overrides_and_read_history_is_the_file(tmp_path):
    source = tmp_path / "sphere.toml"
    source.write_text(SPHERE)
    lines = []
    outcome = mpies.run(source, path=tmp_path / "a.h5", log=lines.append, generations=3,
                        strategy={"population": 6})
    assert (outcome.status, outcome.generation, outcome.exit_code) == ("finished", 3, 0)
    assert lines[-1] == f"finished 3 generations: {tmp_path / 'a.h5'}"
    history = mpies.read_history(outcome.path)
    with h5py.File(outcome.path, "r") as f:
        stored = f["history"][()]
        assert "population = 6\n" in f.attrs["config"] and "sigma = 0.1\n" in f.attrs["config"]
    assert history.dtype == stored.dtype and history.tobytes() == stored.tobytes()
    assert list(history["generation"]) == [1, 2, 3]  # counted as the progress line counts

    # a RunConfig (left unchanged), and a shipped name with overrides
    config = config_mod.load(str(source))
    again = mpies.run(config, path=tmp_path / "b.h5", log=quiet, generations=3, strategy={"population": 6})
    assert config.generations == 4 and config.output.path != str(tmp_path / "b.h5")
    assert mpies.read_history(again.path)["fitness_max"].tobytes() == history["fitness_max"].tobytes()
    named = mpies.run("arm-map-elites", path=tmp_path / "arm.h5", log=quiet, generations=2,
                      strategy={"population": 10})
    assert named.generation == 2 and "qd_score" in mpies.read_history(named.path).dtype.names


def test_loaded_policies_play_the_returns_of_mpies_eval(cartpole_run):
    seed = 123
    for which in ("best", "final"):
        result = CliRunner().invoke(main, ["eval", str(cartpole_run), "--which", which, "--episodes", "2",
                                           "--seed", str(seed), "--json"])
        assert result.exit_code == 0, result.output
        expected = json.loads(result.output)
        policy = mpies.load_policy(cartpole_run, which)
        assert (policy.source, policy.kind, policy.max_steps) == (which, "gym", 100)
        env = policy.make_env()
        episodes = [run_episode(env, policy, seed + i, policy.max_steps) for i in range(2)]
        assert [e.total_return for e in episodes] == expected["returns"]
        assert [e.length for e in episodes] == expected["lengths"]
        assert env.action_space.contains(policy(env.reset(seed=0)[0]))
        with h5py.File(cartpole_run, "r") as f:
            slot = int(f["state/pointer"][0])
            stored = f["best/params"] if which == "best" else f[f"state/slot{slot}/mean"]
            np.testing.assert_array_equal(policy.params, stored[()])


def test_the_normaliser_is_applied(cartpole_run):
    policy = mpies.load_policy(cartpole_run, "final")
    assert policy.obs_mean.shape == (4,) and np.all(policy.obs_std != 1.0)  # obs_norm = true: statistics gathered
    env = policy.make_env()
    network = Policy(env.observation_space, env.action_space, "mlp", (8,))
    normalised = network.actor(policy.params, policy.obs_mean, policy.obs_std)
    raw = network.actor(policy.params, np.zeros(4), np.ones(4))
    observations = np.random.default_rng(0).uniform(-1.0, 1.0, (200, 4))
    actions = [policy(o) for o in observations]
    assert actions == [normalised(o) for o in observations] and actions != [raw(o) for o in observations]


def test_errors_are_the_command_lines_one_line_errors(cartpole_run, tmp_path):
    cli = CliRunner()

    def same_error(exc_type, call, command):
        with pytest.raises(exc_type) as info:
            call()
        result = cli.invoke(main, command)
        one_line_error(result)
        assert result.output.strip() == f"Error: {info.value}"

    missing = tmp_path / "missing.h5"
    same_error(RunFileError, lambda: mpies.load_policy(missing), ["eval", str(missing)])
    same_error(RunFileError, lambda: mpies.read_history(missing), ["inspect", str(missing)])
    same_error(RunFileError, lambda: mpies.load_policy(cartpole_run, cell=0),
               ["eval", str(cartpole_run), "--cell", "0", "--video", str(tmp_path / "v.gif")])
    same_error(ConfigError, lambda: mpies.run("cartpol", log=quiet), ["run", "cartpol"])
    with pytest.raises(ConfigError, match="^which: got 'last'"):
        mpies.load_policy(cartpole_run, "last")
    with pytest.raises(ConfigError, match="^strategy.sigma: got -1"):
        mpies.run(tiny_config(tmp_path), path=tmp_path / "x.h5", log=quiet, strategy={"sigma": -1})
    with pytest.raises(ConfigError, match="exists; pass --overwrite"):
        mpies.run(tiny_config(tmp_path), path=cartpole_run, log=quiet)


def test_cells_of_a_map_elites_run_by_index_or_descriptor(tmp_path):
    outcome = mpies.run("arm-map-elites", path=tmp_path / "arm.h5", log=quiet, generations=3,
                        strategy={"population": 20})
    with h5py.File(outcome.path, "r") as f:
        occupied, params = f["archive/occupied"][()], f["archive/params"][()]
        descriptors = f["archive/descriptors"][()]
    cell = int(np.flatnonzero(occupied)[0])
    by_index = mpies.load_policy(outcome.path, cell=cell)
    by_descriptor = mpies.load_policy(outcome.path, cell=descriptors[cell].tolist())
    assert by_index.source == by_descriptor.source == f"cell {cell}"
    np.testing.assert_array_equal(by_index.params, params[cell])
    np.testing.assert_array_equal(by_descriptor.params, params[cell])
    with pytest.raises(TypeError, match="its solution is .params"):
        by_index(np.zeros(2))
    empty = int(np.flatnonzero(~occupied)[0])
    with pytest.raises(RunFileError, match=f"cell {empty} is empty"):
        mpies.load_policy(outcome.path, cell=empty)
    with pytest.raises(ConfigError, match="^cell: got 2500; the archive .* has cells 0..2499"):
        mpies.load_policy(outcome.path, cell=2500)
    with pytest.raises(ConfigError, match="^cell: got the descriptor"):
        mpies.load_policy(outcome.path, cell=[0.1, 0.2, 0.3])


def test_poet_policies_are_pairs_on_their_terrain(tmp_path):
    source = tmp_path / "poet.toml"
    source.write_text(POET_TINY)
    outcome = mpies.run(source, path=tmp_path / "poet.h5", log=quiet, generations=2)
    with pytest.raises(ConfigError, match="is a POET run.*choose a pair.*its pairs: 0"):
        mpies.load_policy(outcome.path)
    with pytest.raises(RunFileError, match="no pair 9; its pairs: 0"):
        mpies.load_policy(outcome.path, pair=9)
    policy = mpies.load_policy(outcome.path, pair=0)
    with h5py.File(outcome.path, "r") as f:
        pair = f["poet/pairs/0"]
        np.testing.assert_array_equal(policy.params, pair["theta"][()])
        terrain, seed = pair.attrs["terrain"], int(pair.attrs["terrain_seed"])
    np.testing.assert_array_equal(policy.terrain[0], terrain)
    assert (policy.kind, policy.terrain[1], policy.max_steps) == ("poet", seed, 100)
    env = policy.make_env()
    assert env.terrain_seed == seed and env.action_space.contains(policy(env.reset(seed=seed)[0]).astype(np.float32))
    with pytest.raises(ConfigError, match="not a POET run"):
        mpies.load_policy(tiny_run_path(tmp_path), pair=0)


def tiny_run_path(tmp_path):
    source = tmp_path / "sphere.toml"
    source.write_text(SPHERE)
    return mpies.run(source, path=tmp_path / "sphere.h5", log=quiet, overwrite=True).path
