"""The command line: one-line errors with exit code 2, and the read-side commands on a real run."""

import json

import gymnasium as gym
import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import one_line_error, run_mpies, tiny_config
from mpies.cli import main



@pytest.mark.parametrize("ranks", [None, 2])
def test_run_errors_are_one_line_exit_2_on_any_rank_count(tmp_path, ranks):
    proc = run_mpies(ranks, "run", tmp_path / "missing.toml", check_rc=2)
    one_line_error(proc, "missing.toml", "not found")
    bad = tiny_config(tmp_path)
    proc = run_mpies(ranks, "run", bad, "--set", "strategy.sigma=-1", check_rc=2)
    one_line_error(proc, "strategy.sigma", "-1", "> 0.0")
    proc = run_mpies(ranks, "run", bad, "--set", "env=NoSuchEnv-v9", "-o", tmp_path / "x.h5", check_rc=2)
    one_line_error(proc, "env", "NoSuchEnv-v9", "mpies envs")
    if ranks:
        proc = run_mpies(ranks, "run", bad, "--set", "strategy.population=2",
                         "-o", tmp_path / "y.h5", check_rc=None)
        assert proc.returncode == 0  # 2 members on 2 ranks is fine
        proc = run_mpies(4, "run", bad, "--set", "strategy.population=2", "-o", tmp_path / "z.h5", check_rc=2)
        one_line_error(proc, "strategy.population", "number of ranks (4)")


def test_existing_output_is_not_overwritten_without_flag(tmp_path):
    config = tiny_config(tmp_path, generations=1)
    out = tmp_path / "o.h5"
    run_mpies(None, "run", config, "-o", out)
    proc = run_mpies(2, "run", config, "-o", out, check_rc=2)
    one_line_error(proc, "exists", "--overwrite", "mpies resume")
    run_mpies(2, "run", config, "-o", out, "--overwrite")


def replay_cartpole(path, which: str, episodes: int, seed: int = 1_000_000):
    """``(returns, lengths, step cap)`` of `mpies eval`'s episodes, replayed with gymnasium and numpy.

    The same policy (``/best``, or the checkpoint's mean), the same observation statistics (stored
    with the best policy, or computed here from the checkpoint's sums), the same episode seeds
    ``seed, seed+1, ...`` and step cap: a tanh MLP whose argmax picks the action.
    """
    from mpies import config as config_mod
    from mpies.io import open_run, read_best, read_state

    with open_run(path) as f:
        cfg = config_mod.from_toml(str(f.attrs["config"]))
        if which == "best":
            best = read_best(f)
            params, obs_mean, obs_std = best["params"], best["obs_mean"], best["obs_std"]
        else:
            _, state = read_state(f)
            params = state["mean"]
            total, total_sq, count = (state[f"normalizer/{k}"] for k in ("sum", "sumsq", "count"))
            if count < 2:
                obs_mean, obs_std = np.zeros_like(total), np.ones_like(total)
            else:
                obs_mean = total / count
                obs_std = np.maximum(np.sqrt(np.maximum(total_sq / count - obs_mean ** 2, 0.0)), 1e-2)
    env = gym.make(cfg.env)
    sizes = [env.observation_space.shape[0], *cfg.policy.hidden, env.action_space.n]
    layers, offset = [], 0
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        w = params[offset:offset + fan_in * fan_out].reshape(fan_in, fan_out)
        offset += fan_in * fan_out
        layers.append((w, params[offset:offset + fan_out]))
        offset += fan_out
    assert offset == params.size
    if obs_mean.size == 0:  # observation normalisation off
        obs_mean, obs_std = np.zeros(sizes[0]), np.ones(sizes[0])
    returns, lengths = [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total_reward, steps, done = 0.0, 0, False
        while not done and steps < cfg.rollout.max_steps:
            x = (obs - obs_mean) / obs_std
            for w, b in layers[:-1]:
                x = np.tanh(x @ w + b)
            (w, b) = layers[-1]
            obs, reward, terminated, truncated, _ = env.step(int(np.argmax(x @ w + b)))
            total_reward, steps, done = total_reward + float(reward), steps + 1, terminated or truncated
        returns.append(total_reward)
        lengths.append(steps)
    env.close()
    return returns, lengths, cfg.rollout.max_steps


def assert_replays(evaluation: dict, path, which: str, episodes: int) -> None:
    """`mpies eval --json` output equals the independent replay, and is a valid CartPole result."""
    returns, lengths, max_steps = replay_cartpole(path, which, episodes)
    assert evaluation["returns"] == returns and evaluation["lengths"] == lengths, (evaluation, returns)
    assert evaluation["mean"] == pytest.approx(np.mean(returns))
    # CartPole pays 1 per step: the return is the episode length, at most the step cap
    assert all(r == n and 1 <= n <= max_steps for r, n in zip(returns, lengths)), returns


def test_read_commands_on_a_real_run(tmp_path):
    config = tiny_config(tmp_path, generations=4)
    out = tmp_path / "run.h5"
    run_mpies(2, "run", config, "-o", out)
    cli = CliRunner()
    result = cli.invoke(main, ["inspect", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["status"] == "finished" and summary["generations_done"] == 4
    assert summary["ranks"] == 2 and summary["env"] == "CartPole-v1"
    with h5py.File(out, "r") as f:
        assert summary["best_eval_return"] == float(f["best/fitness"][()])
    table = cli.invoke(main, ["inspect", str(out), str(out)])  # several files: one row each
    lines = table.output.splitlines()
    assert table.exit_code == 0 and len(lines) == 3, table.output
    assert lines[0].split() == ["run", "algorithm", "env", "seed", "status", "generations", "best", "wall", "time"]
    assert lines[1].split()[:6] == [str(out), "openai_es", "CartPole-v1", "3", "finished", "4/4"]
    assert float(lines[1].split()[6]) == pytest.approx(summary["best_eval_return"], rel=1e-5)
    (tmp_path / "junk.h5").write_text("not a run")
    mixed = run_mpies(None, "inspect", out, tmp_path / "junk.h5", check_rc=2)
    assert mixed.stdout.splitlines()[2].split()[4] == "unreadable"
    assert mixed.stderr.count("\n") == 1 and "junk.h5: not an HDF5 file" in mixed.stderr
    result = cli.invoke(main, ["eval", str(out), "--episodes", "2", "--json"])
    assert result.exit_code == 0, result.output
    evaluation = json.loads(result.output)
    assert_replays(evaluation, out, "best", episodes=2)
    final = json.loads(cli.invoke(main, ["eval", str(out), "--episodes", "2", "--which", "final", "--json"]).output)
    assert_replays(final, out, "final", episodes=2)
    png = tmp_path / "curve.png"
    result = cli.invoke(main, ["plot", str(out), str(out), "-o", str(png), "-x", "env_steps"])
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_runs_without_observation_normalisation(tmp_path):
    config = tiny_config(tmp_path, generations=2)
    out = tmp_path / "raw.h5"
    run_mpies(2, "run", config, "-o", out, "--set", "policy.obs_norm=false")
    for which in ("best", "final"):
        result = CliRunner().invoke(main, ["eval", str(out), "--episodes", "1", "--which", which, "--json"])
        assert result.exit_code == 0, result.output
        assert_replays(json.loads(result.output), out, which, episodes=1)


def test_read_commands_reject_foreign_files(tmp_path):
    cli = CliRunner()
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = 1
    for command in (["inspect", str(foreign)], ["eval", str(foreign)], ["plot", str(foreign)],
                    ["inspect", str(tmp_path / "nope.h5")]):
        result = cli.invoke(main, command)
        assert result.exit_code == 2, (command, result.output)
        one_line_error(result)
    proc = run_mpies(2, "resume", foreign, check_rc=2)
    one_line_error(proc, "not an mpies run")


def test_help_and_envs():
    cli = CliRunner()
    result = cli.invoke(main, ["--help"])
    assert result.exit_code == 0 and "mpiexec -n 2 mpies run cartpole" in result.output
    for command in ("run", "resume", "inspect", "plot", "eval", "envs"):
        assert cli.invoke(main, [command, "--help"]).exit_code == 0
    result = cli.invoke(main, ["envs"])
    assert "cartpole" in result.output and "HalfCheetah-v5" in result.output
