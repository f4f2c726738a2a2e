"""The driver's lifecycle under real mpiexec: one writer per file, every interruption a checkpoint.

Each case ends in a run that equals an uninterrupted one bitwise, so nothing was lost or doubled.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time

import h5py
import pytest

from conftest import (assert_bitwise_equal, history_length, load_result, mpies_cmd, one_line_error,
                      run_mpies, subprocess_env, tiny_config)
from mpies.io.lock import lock_path, read_holder, writer_state

GENERATIONS = 8


def slow_config(tmp_path, generations=GENERATIONS):
    # 10 ms steps, 40-step episodes, 12 members on 2 ranks: about 0.3 s per generation
    return tiny_config(tmp_path, env="mpies_test_envs:SleepyCartPole-v0", generations=generations,
                       max_steps=40, extra="env_kwargs = {delay = 0.01}")


def start(config, out, *args, ranks=2):
    return subprocess.Popen(mpies_cmd(ranks, "run", config, "-o", out, *args), env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_rows(out, rows, proc, timeout=60):
    deadline = time.time() + timeout
    while history_length(out) < rows and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert history_length(out) >= rows, "the run did not get going"


def straight_run(tmp_path, config, generations=GENERATIONS):
    out = tmp_path / f"straight-{generations}.h5"
    run_mpies(2, "run", config, "-o", out, "--set", f"generations={generations}")
    return load_result(out)


def test_a_second_writer_is_refused_and_the_first_is_undisturbed(tmp_path):
    config = slow_config(tmp_path)
    out = tmp_path / "a.h5"
    first = start(config, out, "--overwrite")
    try:
        wait_rows(out, 1, first)
        holder = read_holder(out)
        assert holder is not None and holder.host == socket.gethostname()
        assert writer_state(out).startswith("live: ")
        for args in (("run", config, "-o", out, "--resume", "auto"), ("run", config, "-o", out, "--overwrite"),
                     ("resume", out)):
            proc = run_mpies(2, *args, check_rc=2)
            one_line_error(proc, "another run is writing it", f"pid {holder.pid}", holder.host)
        _, err = first.communicate(timeout=120)
        assert first.returncode == 0, err
    finally:
        first.kill()
    assert not lock_path(out).exists()  # released at the end
    assert_bitwise_equal(straight_run(tmp_path, config), load_result(out))


def test_a_stale_lock_after_kill_9_is_reported_and_taken_over(tmp_path):
    config = slow_config(tmp_path, generations=30)
    out = tmp_path / "killed.h5"
    proc = start(config, out)
    wait_rows(out, 3, proc)  # checkpoint_every = 2: a checkpoint exists
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    deadline = time.time() + 20  # the ranks end a moment after mpiexec
    while writer_state(out) != "stale: writer gone" and time.time() < deadline:
        time.sleep(0.1)
    assert lock_path(out).exists()
    assert writer_state(out) == "stale: writer gone"
    summary = json.loads(run_mpies(None, "inspect", out, "--json").stdout)
    assert summary["status"] == "running" and summary["writer"] == "stale: writer gone"
    resumed = run_mpies(2, "resume", out, "--generations", GENERATIONS)
    assert "taking over a stale lock (writer gone" in resumed.stdout
    assert not lock_path(out).exists()
    assert_bitwise_equal(straight_run(tmp_path, config), load_result(out))


def test_a_lock_on_another_host_is_never_taken_over(tmp_path):
    config = slow_config(tmp_path, generations=2)
    out = tmp_path / "elsewhere.h5"
    lock_path(out).write_text(json.dumps({"host": "node-that-is-not-here", "pid": 1, "since": "then"}))
    proc = run_mpies(2, "run", config, "-o", out, check_rc=2)
    one_line_error(proc, "node-that-is-not-here", "cannot be checked", f"delete {lock_path(out)}")
    assert not out.exists()


# mpiexec (MPICH's hydra) forwards SIGINT to every rank, but dies itself on SIGHUP or on a
# closed stdout and then kills the ranks with SIGKILL (they run in sessions of their own, so a
# terminal's SIGHUP never reaches them): those two cases are tested on a process mpies runs in
# alone, as under srun or a plain `mpies run`; the README says how to keep mpiexec alive.
@pytest.mark.parametrize("signum, code, ranks", [(signal.SIGINT, 130, 2), (signal.SIGHUP, 129, None)])
def test_ctrl_c_and_hangup_checkpoint_and_resume_exactly(tmp_path, signum, code, ranks):
    config = slow_config(tmp_path, generations=30)
    out = tmp_path / "interrupted.h5"
    proc = start(config, out, ranks=ranks)
    wait_rows(out, 2, proc)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert "mpies resume" in stdout
    with h5py.File(out, "r") as f:  # a plain open: the file is clean
        assert f.attrs["status"] == "interrupted"
        stopped_at = int(f["state/pointer"][1])
        assert 2 <= stopped_at < 30 and f["history"].shape == (stopped_at,)
    assert not lock_path(out).exists()
    run_mpies(2, "resume", out, "--generations", stopped_at + 2)
    assert_bitwise_equal(straight_run(tmp_path, config, stopped_at + 2), load_result(out))


def test_a_second_ctrl_c_stops_at_once_with_the_last_checkpoint_intact(tmp_path):
    # 2-second generations: a stop that waited for the generation would take seconds
    config = tiny_config(tmp_path, env="mpies_test_envs:SleepyCartPole-v0", generations=30, max_steps=40,
                         extra="env_kwargs = {delay = 0.05}")
    out = tmp_path / "twice.h5"
    proc = start(config, out, ranks=None)
    wait_rows(out, 3, proc, timeout=120)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    t0 = time.time()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert time.time() - t0 < 1.5
    assert proc.returncode == 130, stderr
    lines = [line for line in stderr.splitlines() if line]
    assert len(lines) == 1 and "interrupted twice" in lines[0]
    with h5py.File(out, "r") as f:
        assert f.attrs["status"] == "interrupted"
        assert int(f["state/pointer"][0]) >= 0  # a checkpoint to resume from
    assert not lock_path(out).exists()


def test_a_closed_stdout_does_not_stop_the_run(tmp_path):
    config = slow_config(tmp_path)
    out = tmp_path / "piped.h5"
    proc = start(config, out, ranks=None)
    lines = [proc.stdout.readline() for _ in range(2)]  # like `| head -2`
    assert lines[1].startswith("gen ")
    proc.stdout.close()
    proc.wait(timeout=120)
    stderr = proc.stderr.read()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    with h5py.File(out, "r") as f:
        assert f.attrs["status"] == "finished"
    assert_bitwise_equal(straight_run(tmp_path, config), load_result(out))
