"""End-to-end runs under real mpiexec: rank-count invariance, exact resume, faults, live files."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest

from conftest import (assert_bitwise_equal, history_length, load_result, mpies_cmd, run_mpies,
                      subprocess_env, tiny_config)


@pytest.mark.parametrize("noise, episodes", [("table", 1), ("generator", 1), ("table", 3)])
def test_same_result_on_1_2_and_4_ranks(tmp_path, noise, episodes):
    # with 3 episodes per member, a member's episodes are spread over ranks too
    config = tiny_config(tmp_path, noise=noise, episodes=episodes)
    results = {}
    for ranks in (1, 2, 4):
        out = tmp_path / f"n{ranks}.h5"
        run_mpies(ranks, "run", config, "-o", out)
        results[ranks] = load_result(out)
    assert int(results[1]["next_generation"]) == 6
    # the run must actually have moved, otherwise equality would prove nothing: the mean is no
    # longer the initial parameters (rebuilt as the search program draws them), and fitness varied
    from mpies import config as config_mod, seeding
    from mpies.tasks import make_task
    cfg = config_mod.from_toml(config.read_text())
    task = make_task(cfg)
    theta0 = task.initial_params(seeding.generator(cfg.seed, seeding.INIT_PARAMS))
    task.close()
    mean = results[1]["state/mean"]
    assert mean.shape == theta0.shape and np.all(np.isfinite(mean))
    assert np.max(np.abs(mean - theta0)) > 1e-3, "the mean never left the initial parameters"
    fitness = results[1]["history/fitness_mean"]
    assert np.all(np.isfinite(fitness)) and np.ptp(fitness) > 0, f"fitness never changed: {fitness}"
    assert results[1]["state/normalizer/count"] > 0
    assert_bitwise_equal(results[1], results[2])
    assert_bitwise_equal(results[1], results[4])


def test_8_and_16_ranks_static_and_dynamic_give_the_1_rank_result_and_resume_exactly(tmp_path):
    """More ranks than the machine has cores (oversubscribed: slow, still exact); 16 ranks and 24
    member episodes leave some ranks one task and others two."""
    config = tiny_config(tmp_path, population=24, generations=4)
    reference = tmp_path / "n1.h5"
    run_mpies(1, "run", config, "-o", reference)
    expected = load_result(reference)
    for ranks, schedule in ((8, "static"), (16, "dynamic")):
        out = tmp_path / f"n{ranks}.h5"
        run_mpies(ranks, "run", config, "-o", out, "--set", f"rollout.schedule={schedule}", timeout=240)
        assert_bitwise_equal(expected, load_result(out))
    pieces = tmp_path / "pieces.h5"
    run_mpies(16, "run", config, "-o", pieces, "--stop-after", "2", check_rc=75, timeout=240)
    run_mpies(8, "resume", pieces, timeout=240)
    assert_bitwise_equal(expected, load_result(pieces))


def test_stopped_and_resumed_run_equals_uninterrupted(tmp_path):
    config = tiny_config(tmp_path, generations=7)
    straight = tmp_path / "straight.h5"
    run_mpies(2, "run", config, "-o", straight)

    pieces = tmp_path / "pieces.h5"
    stop = run_mpies(2, "run", config, "-o", pieces, "--stop-after", "3", check_rc=75)
    assert "mpies resume" in stop.stdout
    with h5py.File(pieces, "r") as f:
        assert f.attrs["status"] == "preempted"
        assert f["history"].shape == (3,)
    run_mpies(4, "resume", pieces, "--stop-after", "1", check_rc=75)  # another rank count
    run_mpies(1, "resume", pieces)
    with h5py.File(pieces, "r") as f:
        assert f.attrs["status"] == "finished"
    assert_bitwise_equal(load_result(straight), load_result(pieces))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR1])
def test_a_stop_signal_checkpoints_and_resume_is_exact(tmp_path, signum):
    config = tiny_config(tmp_path, env="mpies_test_envs:SleepyCartPole-v0", generations=30, max_steps=40)
    out = tmp_path / "signalled.h5"
    proc = subprocess.Popen(mpies_cmd(2, "run", config, "-o", out), env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while history_length(out) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(signum)  # mpiexec forwards it to every rank (SLURM: --signal=B:USR1@120)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 75, stderr
    with h5py.File(out, "r") as f:
        assert f.attrs["status"] == "preempted"
        stopped_at = int(f["state/pointer"][1])
        assert 2 <= stopped_at < 30
        assert f["history"].shape == (stopped_at,)
    # finish the run quickly: the same config, budget cut to a few more generations
    run_mpies(2, "resume", out, "--generations", stopped_at + 2)
    straight = tmp_path / "straight.h5"
    run_mpies(2, "run", config, "-o", straight, "--set", f"generations={stopped_at + 2}")
    a, b = load_result(straight), load_result(out)
    assert_bitwise_equal(a, b)


def test_gathered_bytes_do_not_grow_with_parameters(tmp_path):
    sent = {}
    for hidden in ("4", "256, 256"):
        config = tiny_config(tmp_path, generations=2, hidden=hidden, name=f"h{len(hidden)}.toml")
        out = tmp_path / f"h{len(hidden)}.h5"
        run_mpies(2, "run", config, "-o", out)
        with h5py.File(out, "r") as f:
            sent[hidden] = (int(f.attrs["num_params"]), f["history"]["bytes_sent_per_rank"])
    (small_params, small), (big_params, big) = sent["4"], sent["256, 256"]
    assert big_params > 50 * small_params
    np.testing.assert_array_equal(small, big)
    # 6 or 7 rows of (4 + 2*4) float64 + one int32 flag: hundreds of bytes, not kilobytes
    assert 0 < big.max() < 1000


def test_a_raising_rank_ends_the_job_quickly(tmp_path):
    config = tiny_config(tmp_path, env="mpies_test_envs:RaisingCartPole-v0", generations=50)
    start = time.time()
    proc = run_mpies(2, "run", config, "-o", tmp_path / "raise.h5", timeout=60, check_rc=None)
    elapsed = time.time() - start
    assert proc.returncode != 0
    assert elapsed < 30
    assert "[rank 1]" in proc.stderr and "deliberate failure" in proc.stderr and "Traceback" in proc.stderr


def test_finished_and_killed_files_open_in_h5dump_inspect_and_resume(tmp_path):
    h5dump = shutil.which("h5dump")
    if h5dump is None:
        pytest.skip("h5dump not installed (apt-get install hdf5-tools)")
    # 10 ms steps: a generation lasts about a second, its write a few milliseconds
    config = tiny_config(tmp_path, env="mpies_test_envs:SleepyCartPole-v0", generations=40, max_steps=40,
                         extra="env_kwargs = {delay = 0.01}")

    finished = tmp_path / "finished.h5"
    run_mpies(2, "run", tiny_config(tmp_path, generations=2, name="short.toml"), "-o", finished)
    assert subprocess.run([h5dump, "-H", str(finished)], capture_output=True).returncode == 0

    killed = tmp_path / "killed.h5"
    proc = subprocess.Popen(mpies_cmd(2, "run", config, "-o", killed), env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while history_length(killed) < 3 and time.time() < deadline:
        time.sleep(0.05)
    # a live run: inspect reads it while rank 0 keeps writing
    live = subprocess.run(mpies_cmd(None, "inspect", killed, "--json"), capture_output=True, text=True,
                          env=subprocess_env(), timeout=30)
    assert live.returncode == 0, live.stderr
    summary = json.loads(live.stdout)
    assert summary["status"] == "running" and summary["generations_done"] >= 3

    # Kill in the middle of a generation's rollouts (the run spends >99% of its time there; a kill
    # inside the few-millisecond write window is covered by test_io's repair test).
    rows = history_length(killed)
    while history_length(killed) == rows and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)  # mpiexec dies at once and takes the ranks with it
    proc.communicate(timeout=30)
    time.sleep(1.0)
    dump = subprocess.run([h5dump, "-H", str(killed)], capture_output=True, text=True)
    assert dump.returncode == 0, dump.stderr
    assert "history" in dump.stdout
    inspect = run_mpies(None, "inspect", killed, "--json")
    assert json.loads(inspect.stdout)["status"] == "running"  # nobody could mark it otherwise
    run_mpies(2, "resume", killed, "--generations", 8)
    with h5py.File(killed, "r") as f:
        assert f.attrs["status"] == "finished" and f["history"].shape == (8,)


def test_resume_auto_continues_finishes_and_refuses_other_configs(tmp_path):
    config = tiny_config(tmp_path, generations=6)
    straight = tmp_path / "straight.h5"
    run_mpies(2, "run", config, "-o", straight)
    out = tmp_path / "auto.h5"
    run_mpies(2, "run", config, "-o", out.name, "--resume", "auto", "--stop-after", "4", check_rc=75, cwd=tmp_path)
    # the same file by another name (an absolute path) is still the same run
    again = run_mpies(4, "run", config, "-o", out, "--resume", "auto")
    assert "resuming" in again.stdout
    assert_bitwise_equal(load_result(straight), load_result(out))
    done = run_mpies(2, "run", config, "-o", out, "--resume", "auto")
    assert "already finished" in done.stdout
    other = run_mpies(2, "run", config, "-o", out, "--resume", "auto", "--set", "strategy.sigma=0.3", check_rc=2)
    assert "another configuration" in other.stderr and "strategy.sigma" in other.stderr
    assert_bitwise_equal(load_result(straight), load_result(out))  # untouched
