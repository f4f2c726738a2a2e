"""The random streams outside the strategies come from :mod:`mpies.seeding`: the CVT archive's
k-means samples and the action noise of an episode; both are pure functions of their seeds."""

import ast
from pathlib import Path

import numpy as np

from mpies import config as config_mod
from mpies import seeding
from mpies.policies import ObsNormalizer
from mpies.qd.archives import cvt_centroids
from mpies.rollout import run_episode
from mpies.tasks import make_task

MPIES = Path(__file__).parent.parent / "mpies"


def test_stream_constants_are_distinct():
    streams = {name: value for name, value in vars(seeding).items() if name.isupper() and isinstance(value, int)}
    assert {"CVT_SAMPLES", "ACTION_NOISE"} <= set(streams)
    assert len(set(streams.values())) == len(streams)


def test_cvt_samples_come_from_the_seeding_stream():
    lower, upper = np.zeros(2), np.array([1.0, 2.0])
    samples = seeding.generator(7, seeding.CVT_SAMPLES).random((50, 2)) * (upper - lower) + lower
    np.testing.assert_array_equal(cvt_centroids(10, lower, upper, seed=7, samples=50, iterations=0), samples[:10])
    again = cvt_centroids(10, lower, upper, seed=7, samples=50, iterations=3)
    np.testing.assert_array_equal(again, cvt_centroids(10, lower, upper, seed=7, samples=50, iterations=3))
    assert not np.array_equal(again, cvt_centroids(10, lower, upper, seed=8, samples=50, iterations=3))


def test_action_noise_comes_from_the_episode_seed_and_task():
    config = config_mod.from_dict({"env": "Pendulum-v1", "policy": {"kind": "linear", "obs_norm": False},
                                   "rollout": {"max_steps": 30}})
    task = make_task(config)
    params = task.initial_params(np.random.default_rng(0))
    identity = ObsNormalizer(0)
    first, again, other = (task.evaluate(params, [123], identity, 0.3, noise_stream=s) for s in (4, 4, 5))
    assert first.fitness == again.fitness and first.fitness != other.fitness
    act = task.policy.actor(params, np.zeros(3), np.ones(3), 0.3, seeding.action_noise_generator(123, 4))
    assert run_episode(task.env, act, 123, 30).total_return == first.fitness
    task.close()


def test_no_module_seeds_numpy_itself():
    """Every ``default_rng`` / ``SeedSequence`` of mpies is in seeding.py, except the terrain of an
    environment built from its own seed (as gymnasium's ``reset(seed)`` is)."""
    allowed = {MPIES / "seeding.py", MPIES / "envs" / "bipedal_terrain.py"}
    for path in MPIES.rglob("*.py"):
        if path in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("default_rng", "SeedSequence", "RandomState"):
                raise AssertionError(f"{path.relative_to(MPIES.parent)}:{node.lineno} seeds numpy outside seeding.py")
