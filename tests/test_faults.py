"""Faults: failing environments, full or read-only disks, damaged files, killed ranks.

Nothing may be lost beyond the generations since the last checkpoint, and every error is one
line (or a rank's traceback for a crash), never a hang.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest

from conftest import (assert_bitwise_equal, history_length, load_result, mounted_tmpfs, mpies_cmd, run_mpies,
                      subprocess_env, tiny_config)

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


@pytest.mark.parametrize("nan", [False, True])
def test_failing_episodes_count_as_failed_members_on_any_rank_count(tmp_path, nan):
    # seeds divisible by 4 fail: some members (and some evaluations) fail every generation
    config = tiny_config(tmp_path, env="mpies_test_envs:FlakyCartPole-v0", generations=4,
                         extra=f"env_kwargs = {{period = 4, nan = {str(nan).lower()}}}")
    results = {}
    for ranks in (1, 2):
        out = tmp_path / f"n{ranks}.h5"
        proc = run_mpies(ranks, "run", config, "-o", out, "--set", "rollout.max_failed_fraction=0.9")
        results[ranks] = load_result(out)
        if not nan:
            assert "warning: an episode raised ValueError" in proc.stderr
    failed = results[1]["history/failed"]
    assert failed.sum() > 0 and (failed < 12).all()
    assert "failed" in proc.stdout  # the progress line shows them
    assert_bitwise_equal(results[1], results[2])


def test_too_many_failures_stop_the_run_with_one_line(tmp_path):
    config = tiny_config(tmp_path, env="mpies_test_envs:FlakyCartPole-v0", generations=4,
                         extra="env_kwargs = {period = 1}")
    out = tmp_path / "flaky.h5"
    proc = run_mpies(2, "run", config, "-o", out, check_rc=1)
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and "12 of 12 members failed" in lines[0]
    assert "rollout.max_failed_fraction" in lines[0] and "Traceback" not in proc.stderr
    with h5py.File(out, "r") as f:
        assert f.attrs["status"] == "failed"


def test_unwritable_output_is_a_clear_error(tmp_path):
    proc = run_mpies(2, "run", tiny_config(tmp_path), "-o", "/proc/mpies-test.h5", check_rc=2)
    assert error_lines(proc.stderr) == [line for line in proc.stderr.splitlines() if line]
    assert "cannot create /proc/mpies-test.h5" in proc.stderr


def test_truncated_or_foreign_files_are_refused_and_left_alone(tmp_path):
    out = tmp_path / "run.h5"
    run_mpies(1, "run", tiny_config(tmp_path, generations=2), "-o", out)
    data = out.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    before = hashlib.sha256(out.read_bytes()).hexdigest()
    for command in (["resume", out], ["inspect", out], ["eval", out]):
        proc = run_mpies(2 if command[0] == "resume" else None, *command, check_rc=2)
        assert len(error_lines(proc.stderr)) == 1 and "truncated" in proc.stderr
    assert hashlib.sha256(out.read_bytes()).hexdigest() == before


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs (needs root and permission to mount; skipped otherwise)."""
    with mounted_tmpfs(tmp_path / "disk", "size=2m") as mount:
        yield mount


@pytest.mark.parametrize("fault", ["disk full", "read-only"])
def test_a_full_or_read_only_disk_stops_the_run_and_keeps_the_checkpoint(tmp_path, small_disk, fault):
    config = tiny_config(tmp_path, env="mpies_test_envs:SleepyCartPole-v0", generations=40, max_steps=40)
    out = small_disk / "run.h5"
    proc = subprocess.Popen(mpies_cmd(2, "run", config, "-o", out), env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while history_length(out) < 3 and time.time() < deadline:
        time.sleep(0.05)
    if fault == "disk full":
        filler = small_disk / "filler"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
    else:
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 74, stderr
    lines = error_lines(stderr)
    assert len(lines) == 1 and f"cannot write {out}" in lines[0] and "mpies resume" in lines[0]
    assert "Traceback" not in stderr
    if fault == "disk full":
        filler.unlink()
    else:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    with h5py.File(out, "r") as f:
        checkpoint = int(f["state/pointer"][1])
        assert checkpoint >= 2
    run_mpies(2, "resume", out, "--generations", checkpoint + 2)
    straight = tmp_path / "straight.h5"
    run_mpies(2, "run", config, "-o", straight, "--set", f"generations={checkpoint + 2}")
    assert_bitwise_equal(load_result(straight), load_result(out))


def test_kill_9_of_any_rank_at_any_moment_loses_nothing_checkpointed(tmp_path):
    """SIGKILL a random rank at random moments (some inside checkpoint writes): the job ends
    within 30 s, the file opens, and resume gives the uninterrupted result. The logic lives in
    scripts/fault_injection.py, which runs more trials for the README's table."""
    out = tmp_path / "faults.json"
    proc = subprocess.run([sys.executable, str(SCRIPTS / "fault_injection.py"), "--trials", "3",
                           "--seed", "7", "--out", str(out)], capture_output=True, text=True, timeout=300,
                          env=subprocess_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(out.read_text())["summary"]
    assert summary["trials"] == summary["job_ended_nonzero"] == summary["resumed_equal"] == 3
    assert summary["max_exit_seconds"] < 30
