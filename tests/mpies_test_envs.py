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
    """CartPole that raises on the MPI rank named by ``rank`` (read from PMI_RANK) after 5 steps."""

    def __init__(self, rank: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.raising = os.environ.get("PMI_RANK", "0") == str(rank)
        self.steps = 0

    def step(self, action):
        self.steps += 1
        if self.raising and self.steps > 5:
            raise RuntimeError("deliberate failure inside the environment")
        return super().step(action)


for _name, _cls in (("SleepyCartPole-v0", SleepyCartPole), ("RaisingCartPole-v0", RaisingCartPole)):
    if _name not in gym.envs.registry:
        gym.register(_name, entry_point=f"{__name__}:{_cls.__name__}", max_episode_steps=500)
