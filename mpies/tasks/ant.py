"""``env = "ant"``: Cully et al.'s legged-robot task (Nature 2015) on MuJoCo Ant-v5, an open-loop
gait per member (:class:`mpies.envs.ant.AntGait`), with ``env_kwargs = {duration = 5.0,
damage = "none"}``.

Fitness is the forward distance in meters, the behaviour descriptor the per-foot ground-contact
fraction in ``[0, 1]^4``. An episode is deterministic, so the seeds are ignored (as is
``action_noise``; several seeds cost one episode); ``length`` and ``steps`` are the number of
Ant-v5 steps (0.05 s) simulated.
"""

from __future__ import annotations

import numpy as np

from ..config import ConfigError, RunConfig
from ..envs.ant import DAMAGES, NUM_LEGS, NUM_PARAMS, AntGait, parse_damage
from .base import Evaluation, Task, read_options


class AntGaitTask(Task):
    """Gaits of 24 parameters in [0, 1] on the (possibly damaged) ant.

    Attributes:
        env: the :class:`mpies.envs.ant.AntGait` that plays the gaits.
    """

    num_params = NUM_PARAMS
    descriptor_dim = NUM_LEGS
    DESCRIPTOR_BOUNDS = (0.0, 1.0)
    DAMAGES = DAMAGES
    OPTIONS = {"duration": 5.0, "damage": "none"}
    params_field = "env"  # always 24

    def __init__(self, config: RunConfig):
        options = read_options(config, self.OPTIONS, "ant")
        try:
            damage = parse_damage(options["damage"])
        except ValueError as exc:
            raise ConfigError(f"env_kwargs.damage: {exc}") from None
        try:
            self.env = AntGait(damage, options["duration"])
        except ValueError as exc:  # the one argument it may refuse, the damage being parsed already
            raise ConfigError(f"env_kwargs.duration: {exc}") from None

    def initial_params(self, rng: np.random.Generator) -> np.ndarray:
        """Uniform in [0, 1]^24 (a random gait; at the search's own scale)."""
        return rng.random(self.num_params)

    def evaluate(self, params, seeds=(0,), normalizer=None, action_noise=0.0, collect_obs=False,
                 noise_stream=0, reward_shift=0.0) -> Evaluation:
        """One deterministic episode; a failed one (non-finite ``params``) has NaN fitness and
        descriptor, and no steps."""
        distance, contacts = self.env.play(params)
        if not np.isfinite(distance):
            return Evaluation(float("nan"), 0.0, 0, descriptor=contacts)
        steps = self.env.episode_steps
        return Evaluation(distance, float(steps), steps, descriptor=contacts)

    def close(self) -> None:
        self.env.close()
