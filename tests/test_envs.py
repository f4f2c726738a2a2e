"""Policies and rollouts on each family of gymnasium environments."""

import gymnasium as gym
import numpy as np
import pytest

from mpies.envs import make_env
from mpies.policies import ObsNormalizer, Policy
from mpies.rollout import run_episode


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "LunarLander-v3", "HalfCheetah-v5"])
@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_policies_act_in_range_and_episodes_are_seeded(env_id, kind):
    env = make_env(env_id)
    policy = Policy(env.observation_space, env.action_space, kind, [16])
    params = policy.initial_params(np.random.default_rng(0))
    assert params.shape == (policy.num_params,)
    mean, std = ObsNormalizer(policy.obs_dim).mean_std()
    act = policy.actor(params, mean, std)
    obs, _ = env.reset(seed=0)
    assert env.action_space.contains(np.asarray(act(obs), dtype=env.action_space.dtype)
                                     if not policy.discrete else act(obs))
    buffer = np.empty((50, policy.obs_dim))
    a, b = (run_episode(env, act, seed=5, max_steps=50, obs_buffer=buffer) for _ in range(2))
    assert a.total_return == b.total_return and a.length == b.length <= 50
    np.testing.assert_array_equal(a.obs_sum, b.obs_sum)
    assert a.obs_sumsq.shape == (policy.obs_dim,) and np.all(a.obs_sumsq >= 0)


def test_action_noise_stays_in_bounds():
    env = make_env("Pendulum-v1")
    policy = Policy(env.observation_space, env.action_space, "linear")
    act = policy.actor(np.full(policy.num_params, 10.0), np.zeros(3), np.ones(3), 5.0,
                       np.random.default_rng(0))
    actions = np.array([act(np.ones(3)) for _ in range(200)])
    assert actions.min() >= -2.0 and actions.max() <= 2.0 and actions.std() > 0.1


def test_clip_squash_is_the_linear_output_clipped_to_the_box_and_tanh_its_squashed_form():
    env = make_env("Pendulum-v1")  # actions in [-2, 2]: center 0, scale 2
    clip = Policy(env.observation_space, env.action_space, "linear", squash="clip")
    tanh = Policy(env.observation_space, env.action_space, "linear")
    params = np.array([0.3, -0.2, 0.1, 0.05])  # W (3 x 1), b
    obs_small, obs_big = np.array([0.5, 0.2, 1.0]), np.array([0.5, 0.2, 40.0])
    f = lambda obs: obs @ params[:3] + params[3]  # noqa: E731
    for obs in (obs_small, obs_big):
        np.testing.assert_array_equal(clip.actor(params, np.zeros(3), np.ones(3))(obs),
                                      np.clip(2 * f(obs), -2.0, 2.0))
        np.testing.assert_array_equal(tanh.actor(params, np.zeros(3), np.ones(3))(obs), 2 * np.tanh(f(obs)))
    assert clip.actor(params, np.zeros(3), np.ones(3))(obs_big)[0] == 2.0  # saturated exactly at the bound


def test_normalizer_from_sums():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(1000, 4))
    norm = ObsNormalizer(4)
    norm.add(x[:500].sum(0), (x[:500] ** 2).sum(0), 500)
    norm.add(x[500:].sum(0), (x[500:] ** 2).sum(0), 500)
    mean, std = norm.mean_std()
    np.testing.assert_allclose(mean, x.mean(0))
    np.testing.assert_allclose(std, x.std(0))


def test_non_flat_spaces_are_refused():
    with pytest.raises(ValueError, match="flat Box"):
        Policy(gym.spaces.Box(0, 1, (4, 4)), gym.spaces.Discrete(2))


@pytest.mark.parametrize("make", ["v3", "terrain"])
def test_bipedal_walker_episode_does_not_depend_on_earlier_episodes(make):
    """gymnasium reuses one Box2D world across resets; mpies gives every reset a fresh one, or the
    same member would score differently depending on which rank played what before it."""
    from mpies.envs import make_env
    from mpies.envs.bipedal_terrain import BipedalTerrain, TerrainParams
    from mpies.rollout import run_episode

    def new():
        return make_env("BipedalWalker-v3") if make == "v3" else BipedalTerrain(TerrainParams(1.0, (0, 1), (0, 1)), 4)

    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((24, 4)) for _ in range(3)]
    acts = [lambda obs, w=w: np.tanh(obs @ w) for w in weights]
    reused = new()
    sequence = [run_episode(reused, act, 7, 300).total_return for act in acts]
    fresh = [run_episode(new(), act, 7, 300).total_return for act in acts]
    assert sequence == fresh
