"""``scripts/repro_mujoco.py`` in its tiny mode (so it cannot rot), the laptop configs it runs,
and the first-reach arithmetic it reports."""

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

from conftest import subprocess_env
from mpies import config as config_mod

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import repro_mujoco  # noqa: E402
from _repro_common import first_reach  # noqa: E402


def test_every_task_has_a_laptop_config_next_to_its_cluster_one():
    for case in repro_mujoco.CASES:
        laptop = config_mod.load(case.config)
        cluster = config_mod.load(case.config.removesuffix("-laptop"))
        assert laptop.env == cluster.env and laptop.algorithm == cluster.algorithm == "openai_es"
        assert (laptop.strategy.population, cluster.strategy.population) == (40, 512)
        assert laptop.policy.obs_stat_fraction == 0.1 and laptop.rollout.eval_episodes == 10
        assert laptop.policy.hidden == cluster.policy.hidden == [64, 64]


def test_first_reach_counts_the_updates_before_the_evaluation(tmp_path):
    path = tmp_path / "h.h5"
    rows = np.zeros(4, dtype=[("generation", "i8"), ("eval_return", "f8"), ("env_steps", "i8"), ("wall_time", "f8")])
    rows["generation"] = [1, 2, 3, 4]
    rows["eval_return"] = [1.0, np.nan, 7.0, 9.0]
    rows["env_steps"] = [100, 200, 300, 400]
    rows["wall_time"] = [1.0, 2.0, 3.0, 4.0]
    with h5py.File(path, "w") as f:
        f["history"] = rows
    reach = first_reach(path, 5.0, members_per_generation=10)
    # row 2 (generation 3) evaluates the mean after 2 updates: 20 member episodes, 200 steps
    assert (reach["generation"], reach["episodes"], reach["steps"], reach["wall_seconds_to_reach"]) == (3, 20, 200, 3.0)
    assert first_reach(path, 50.0, 10)["steps"] is None


def test_repro_mujoco_tiny_mode(tmp_path):
    out = tmp_path / "repro.json"
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "repro_mujoco.py"), "--tiny", "--ranks", "1",
                           "--only", "swimmer-laptop", "inverted-pendulum-laptop", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(out.read_text())
    assert set(payload["cases"]) == {"swimmer-laptop", "inverted-pendulum-laptop"}
    for case in payload["cases"].values():
        (run,) = case["runs"]
        assert run["generations_run"] == 2 and np.isfinite(run["best_eval"]) and case["paper_steps"] > 0
    assert "ours / paper" in proc.stdout
    assert (tmp_path / "repro_mujoco-swimmer-laptop.png").read_bytes()[:4] == b"\x89PNG"
