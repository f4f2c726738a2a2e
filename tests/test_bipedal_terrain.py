"""POET's parameterised BipedalWalker terrain: parameters, ground generation (flat, rough, pits,
stumps), determinism in (params, terrain_seed), and BipedalWalker-v3's spaces, reward and falls."""

import pickle

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("Box2D")

from gymnasium.envs.box2d.bipedal_walker import (  # noqa: E402
    TERRAIN_HEIGHT, TERRAIN_LENGTH, TERRAIN_STARTPAD, TERRAIN_STEP, BipedalWalker)
from Box2D.b2 import polygonShape  # noqa: E402

from mpies.envs.bipedal_terrain import BipedalTerrain, TerrainParams  # noqa: E402


ATOL = 1e-4


def ground(params, terrain_seed=0, reset_seed=0):
    env = BipedalTerrain(params, terrain_seed)
    env.reset(seed=reset_seed)
    return env


def polygons(env):
    """Vertices (k, 4, 2) of the static polygon bodies (obstacles), in TERRAIN_STEP units
    (Box2D stores float32: compare with ATOL)."""
    polys = [f.shape.vertices for body in env.terrain for f in body.fixtures
             if isinstance(f.shape, polygonShape)]
    return np.array(polys).reshape(-1, 4, 2) / TERRAIN_STEP


def test_params_vector_describe_and_validation():
    p = TerrainParams(1.2, (0.4, 1.2), (0.2, 0.8))
    v = p.vector()
    assert v.dtype == np.float64 and v.tolist() == [1.2, 0.4, 1.2, 0.2, 0.8]
    assert TerrainParams.from_vector(v) == p and hash(TerrainParams.from_vector(v)) == hash(p)
    assert p.describe() == "rough 1.2 pit 0.4-1.2 stump 0.2-0.8"
    assert TerrainParams().describe() == "rough 0"
    for kwargs, field in [({"roughness": -0.1}, "roughness"), ({"roughness": np.nan}, "roughness"),
                          ({"pit_gap": (-1.0, 1.0)}, "pit_gap"), ({"pit_gap": (2.0, 1.0)}, "pit_gap"),
                          ({"stump_height": (0.5, 0.1)}, "stump_height"),
                          ({"stump_height": (0.1,)}, "stump_height")]:
        with pytest.raises(ValueError, match=field):
            TerrainParams(**kwargs)


def test_flat_params_give_flat_ground_without_obstacles():
    env = ground(TerrainParams(), terrain_seed=5)
    assert not env.hardcore and env.obstacles == []
    assert len(env.terrain_y) == TERRAIN_LENGTH
    assert np.all(np.array(env.terrain_y) == TERRAIN_HEIGHT)
    assert np.allclose(np.diff(env.terrain_x), TERRAIN_STEP)
    assert len(polygons(env)) == 0 and len(env.terrain) == TERRAIN_LENGTH - 1


def test_roughness_one_is_bipedalwalker_v3_ground():
    """Grass generation draws exactly like gymnasium's normal mode, seeded the same way."""
    ours = ground(TerrainParams(roughness=1.0), terrain_seed=7)
    ref = BipedalWalker()
    ref.reset(seed=7)  # the terrain is gymnasium's first use of np_random after seeding
    assert ours.terrain_x == ref.terrain_x and ours.terrain_y == ref.terrain_y


def test_same_terrain_seed_same_ground_whatever_the_reset_seed():
    params = TerrainParams(1.5, (0.2, 1.0), (0.1, 0.6))
    a, b, c = ground(params, 3, reset_seed=0), ground(params, 3, reset_seed=99), ground(params, 4)
    assert a.terrain_x == b.terrain_x and a.terrain_y == b.terrain_y
    assert np.array_equal(polygons(a), polygons(b))
    a.reset(seed=1)  # a second reset of the same env rebuilds the same ground
    assert a.terrain_y == b.terrain_y
    assert a.terrain_y != c.terrain_y


def test_roughness_scales_height():
    dev = {r: np.array(ground(TerrainParams(roughness=r), 11).terrain_y) - TERRAIN_HEIGHT
           for r in (0.5, 1.0, 2.0, 4.0)}
    assert np.all(dev[0.5][: TERRAIN_STARTPAD + 1] == 0)
    stds = [dev[r].std() for r in (0.5, 1.0, 2.0, 4.0)]
    assert stds[0] > 0 and np.all(np.diff(stds) > 0)
    # the velocity process is the same for any roughness > 0, so the heights scale linearly
    assert np.allclose(dev[2.0], 2.0 * dev[1.0]) and np.allclose(dev[4.0], 8.0 * dev[0.5])


def test_pits_drop_four_steps_and_fractional_gaps():
    env = ground(TerrainParams(pit_gap=(0.5, 0.5)), terrain_seed=2)
    assert env.hardcore and env.obstacles == ["pit"]
    dy = np.diff(env.terrain_y) / TERRAIN_STEP
    drops = np.flatnonzero(np.isclose(dy, -4.0))
    assert len(drops) >= 5 and np.isclose(dy, 4.0).sum() == len(drops)
    walls = polygons(env)
    assert len(walls) == 2 * len(drops)
    assert np.allclose(np.ptp(walls[:, :, 1], axis=1), 4.0, atol=ATOL)
    # walls come in pairs 1 + 0.5 steps apart; the ground climbs back at the far wall's right edge
    left = np.sort(walls[:, :, 0].min(1))
    assert np.allclose(left[1::2] - left[0::2], 1.5, atol=ATOL)
    x = np.array(env.terrain_x) / TERRAIN_STEP
    rises = np.flatnonzero(np.isclose(dy, 4.0)) + 1
    assert np.allclose(x[rises], left[1::2] + 1.0, atol=ATOL)
    assert np.isclose(np.diff(x), 0.5).sum() == len(drops)


def test_stumps_heights_within_range():
    lo, hi = 0.3, 0.9
    env = ground(TerrainParams(stump_height=(lo, hi)), terrain_seed=1)
    assert env.obstacles == ["stump"]
    assert np.all(np.array(env.terrain_y) == TERRAIN_HEIGHT)  # stumps stand on flat ground
    stumps = polygons(env)
    assert len(stumps) >= 5
    width, height = np.ptp(stumps[:, :, 0], axis=1), np.ptp(stumps[:, :, 1], axis=1)
    assert np.allclose(width, 1.0, atol=ATOL)
    assert np.all((height >= lo - ATOL) & (height <= hi + ATOL)) and np.ptp(height) > 0.1
    assert np.allclose(stumps[:, :, 1].min(1) * TERRAIN_STEP, TERRAIN_HEIGHT, atol=ATOL)


def test_stumps_too_low_for_box2d_are_left_out():
    env = ground(TerrainParams(stump_height=(0.0, 1e-6)), terrain_seed=0)
    assert env.obstacles == ["stump"] and len(polygons(env)) == 0


def test_both_obstacle_types_appear():
    env = ground(TerrainParams(1.0, (0.4, 1.2), (0.2, 0.8)), terrain_seed=0)
    assert env.obstacles == ["stump", "pit"]
    h = np.ptp(polygons(env)[:, :, 1], axis=1)
    assert np.isclose(h, 4.0, atol=ATOL).sum() >= 2 and (h < 1.0).sum() >= 1


def test_spaces_match_bipedalwalker_v3_and_render_works():
    ref = gym.make("BipedalWalker-v3")
    env = BipedalTerrain(TerrainParams(1.0, (0.4, 1.2), (0.2, 0.8)), 0, render_mode="rgb_array")
    assert env.observation_space == ref.observation_space and env.observation_space.shape == (24,)
    assert env.action_space == ref.action_space and env.action_space.shape == (4,)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (24,) and env.observation_space.contains(obs)
    frame = env.render()
    assert frame.shape == (400, 600, 3) and frame.std() > 0
    env.close()
    copy = pickle.loads(pickle.dumps(env))
    assert copy.params == env.params and copy.terrain_seed == 0 and copy.render_mode == "rgb_array"


def run_episode(env, policy, seed):
    env.reset(seed=seed)
    rewards = []
    for _ in range(BipedalTerrain.MAX_EPISODE_STEPS):
        obs, reward, terminated, truncated, _ = env.step(policy())
        rewards.append(reward)
        assert obs.shape == (24,) and np.isfinite(reward)
        if terminated:
            break
    return rewards, terminated


def test_zero_action_episode_and_falling_reward():
    env = BipedalTerrain(TerrainParams(1.0, (0.4, 1.2), (0.2, 0.8)), terrain_seed=0)
    rewards, _ = run_episode(env, lambda: np.zeros(4, dtype=np.float32), seed=0)
    assert len(rewards) > 50
    rng = np.random.default_rng(0)
    rewards, terminated = run_episode(env, lambda: rng.uniform(-1, 1, 4), seed=0)
    assert terminated and rewards[-1] == -100 and len(rewards) < 200
    assert all(r > -100 for r in rewards[:-1])
