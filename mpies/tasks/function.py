"""``env = "fn:NAME"``: maximise ``-f(x)`` for a benchmark function ``f`` of the parameters
themselves (:mod:`mpies.envs.functions`), with ``env_kwargs = {dim = 10, x0 = 3.0}``."""

from __future__ import annotations

import math

import numpy as np

from ..config import ConfigError, RunConfig, echo
from ..envs.functions import FUNCTIONS
from .base import Evaluation, Task, integer_option, read_options

FUNCTION_PREFIX = "fn:"


class FunctionTask(Task):
    """Fitness ``-f(params)``; one "episode" of one step per evaluation, seeds ignored."""

    OPTIONS = {"dim": 10, "x0": 3.0}
    params_field = "env_kwargs.dim"

    def __init__(self, config: RunConfig):
        name = config.env[len(FUNCTION_PREFIX):]
        if name not in FUNCTIONS:
            raise ConfigError(f"env: unknown function {echo(config.env)}; allowed: "
                              + ", ".join(FUNCTION_PREFIX + f for f in sorted(FUNCTIONS)))
        options = read_options(config, self.OPTIONS, config.env)
        self.num_params = integer_option(options, "dim", 1)
        x0 = options["x0"]
        if isinstance(x0, bool) or not isinstance(x0, (int, float)) or not math.isfinite(x0):
            raise ConfigError(f"env_kwargs.x0: got {echo(x0)}; expected a finite number (the start of every "
                              f"coordinate)")
        self.function, self.x0 = FUNCTIONS[name], float(x0)

    def initial_params(self, rng: np.random.Generator) -> np.ndarray:
        """Every coordinate at ``x0``."""
        return np.full(self.num_params, self.x0)

    def evaluate(self, params, seeds, normalizer=None, action_noise=0.0, collect_obs=False,
                 noise_stream=0, reward_shift=0.0) -> Evaluation:
        value = self.function(np.asarray(params, dtype=np.float64))
        return Evaluation(-value if np.isfinite(value) else float("nan"), 1.0, 1)
