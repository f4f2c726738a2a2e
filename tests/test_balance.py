"""The load-balance model of ``scripts/bench_balance.py`` and its smoke mode (so it cannot rot)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import subprocess_env

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
from bench_balance import dynamic_makespan, simulate, static_makespan  # noqa: E402


def test_static_deals_round_robin_and_dynamic_fills_the_free_rank():
    times = np.array([4.0, 1.0, 1.0, 1.0, 1.0, 1.0])  # one long episode first
    assert static_makespan(times, 2) == 6.0  # rank 0: 4 + 1 + 1, rank 1: 1 + 1 + 1
    assert dynamic_makespan(times, 2) == 5.0  # rank 1 takes every short one: 1 x 5
    assert dynamic_makespan(times, 2, chunk=3) == 6.0  # chunks (4, 1, 1) and (1, 1, 1)
    # claims cost 0.5: rank 0 ends the long one at 4.5, rank 1 three short ones at 4.5 too; the tie
    # goes to rank 0, and each takes one more: 6.0
    assert dynamic_makespan(times, 2, claim_seconds=0.5) == 6.0
    assert dynamic_makespan(np.ones(8), 4) == static_makespan(np.ones(8), 4) == 2.0


def test_equal_episodes_leave_no_idle_time_and_varied_ones_favour_dynamic():
    same = simulate(np.array([0.2]), ranks=64, tasks_per_rank=4)
    assert same == pytest.approx({"static": 0.0, "dynamic": 0.0, "speedup": 1.0})
    varied = simulate(np.array([0.05] * 9 + [1.6]), ranks=256, tasks_per_rank=8, generations=5)
    assert 0.3 < varied["static"] and varied["dynamic"] < varied["static"] / 2 and varied["speedup"] > 1.5


def test_bench_balance_quick_mode(tmp_path):
    out = tmp_path / "balance.json"
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_balance.py"), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(out.read_text())
    assert {(m["schedule"], m["ranks"]) for m in payload["measured"]} == {("static", 2), ("dynamic", 2)}
    assert all(0.0 <= m["idle_fraction_rank0"] < 1.0 and m["steps_per_second"] > 0 for m in payload["measured"])
    assert {r["ranks"] for r in payload["predicted"]} == {64, 128, 256, 512, 1024}
