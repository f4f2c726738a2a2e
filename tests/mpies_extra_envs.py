"""Environments that mpies must refuse with one line (env = "mpies_extra_envs:..."): one whose
optional dependency is missing, one whose action space no policy serves."""

import gymnasium as gym
import numpy as np


class NeedsExtra(gym.Env):
    """Fails to construct as gymnasium's Box2D and MuJoCo environments do without their extra."""

    def __init__(self):
        raise gym.error.DependencyNotInstalled(
            "pretend_physics is not installed,\n  run `pip install \"gymnasium[pretend]\"`")


class MultiBinaryAction(gym.Env):
    """A flat Box observation, but switches as actions (MultiBinary)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    action_space = gym.spaces.MultiBinary(3)


gym.register("NeedsExtra-v0", entry_point=NeedsExtra)
gym.register("MultiBinaryAction-v0", entry_point=MultiBinaryAction)
gym.register("MissingModule-v0", entry_point="mpies_no_such_module:Env")
