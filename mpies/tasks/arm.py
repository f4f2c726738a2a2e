"""``env = "arm"``: the planar robot arm, the standard fast quality-diversity benchmark,
``env_kwargs = {joints = 10}``."""

from __future__ import annotations

import numpy as np

from ..config import RunConfig
from .base import Evaluation, Task, integer_option, read_options


class ArmTask(Task):
    """The parameters are the joint angles (radians) of an arm of ``joints`` equal links of total
    length 1 anchored at the origin; the behaviour descriptor is the end-effector position
    ``(x, y)`` in ``[-1, 1]^2``; fitness is minus the variance of the joint angles (smooth arms are
    better; 0 is the maximum)."""

    descriptor_dim = 2
    DESCRIPTOR_BOUNDS = (-1.0, 1.0)
    OPTIONS = {"joints": 10}
    params_field = "env_kwargs.joints"

    def __init__(self, config: RunConfig):
        self.num_params = integer_option(read_options(config, self.OPTIONS, "arm"), "joints", 1)

    def evaluate(self, params, seeds, normalizer=None, action_noise=0.0, collect_obs=False,
                 noise_stream=0, reward_shift=0.0) -> Evaluation:
        """Closed form, seeds ignored: one "step" per evaluation."""
        angles = np.cumsum(params)
        link = 1.0 / self.num_params
        position = np.array([link * np.cos(angles).sum(), link * np.sin(angles).sum()])
        fitness = -float(np.var(params))
        return Evaluation(fitness if np.isfinite(fitness) else float("nan"), 1.0, 1, descriptor=position)
