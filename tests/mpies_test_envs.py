"""Environments that misbehave on purpose, registered for the tests (env = "mpies_test_envs:...")."""

import os
import time

import gymnasium as gym
from gymnasium.envs.classic_control.cartpole import CartPoleEnv


class SleepyCartPole(CartPoleEnv):
    """CartPole whose steps take ``delay`` seconds: makes a run slow enough to signal or kill."""

    def __init__(self, delay: float = 0.002, **kwargs):
        super().__init__(**kwargs)
        self.delay = delay

    def step(self, action):
        time.sleep(self.delay)
        return super().step(action)


class RaisingCartPole(CartPoleEnv):
    """CartPole whose construction raises on the MPI rank ``rank`` (read from PMI_RANK): a fatal
    error of one process, unlike an episode that fails (see FlakyCartPole)."""

    def __init__(self, rank: int = 1, **kwargs):
        if os.environ.get("PMI_RANK", "0") == str(rank):
            raise RuntimeError("deliberate failure while building the environment")
        super().__init__(**kwargs)


class FlakyCartPole(CartPoleEnv):
    """CartPole whose episodes fail -- by raising, or with a NaN reward -- for seeds where
    ``seed % period == 0`` (period 1: every episode fails)."""

    def __init__(self, period: int = 3, nan: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.period, self.nan, self.failing = period, nan, False

    def reset(self, *, seed=None, options=None):
        self.failing = seed is not None and seed % self.period == 0
        return super().reset(seed=seed, options=options)

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        if self.failing:
            if not self.nan:
                raise ValueError("deliberate failure inside an episode")
            reward = float("nan")
        return obs, reward, terminated, truncated, info


for _name, _cls in (("SleepyCartPole-v0", SleepyCartPole), ("RaisingCartPole-v0", RaisingCartPole),
                   ("FlakyCartPole-v0", FlakyCartPole)):
    if _name not in gym.envs.registry:
        gym.register(_name, entry_point=f"{__name__}:{_cls.__name__}", max_episode_steps=500)
