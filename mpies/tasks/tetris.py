"""``env = "tetris"``: research Tetris with a linear policy over board features
(:mod:`mpies.envs.tetris`), ``env_kwargs = {height = 20, features = "bt", max_pieces = 0}``."""

from __future__ import annotations

import numpy as np

from ..config import ConfigError, RunConfig
from .base import Evaluation, Task, integer_option, read_options


class TetrisTask(Task):
    """The parameters are the feature weights; fitness is the number of lines cleared; an episode
    is a game, its "steps" the pieces placed. The whole game runs in compiled code."""

    OPTIONS = {"height": 20, "features": "bt", "max_pieces": 0}

    def __init__(self, config: RunConfig):
        from ..envs import tetris  # numba compiles the engine on import: only Tetris runs pay for it

        options = read_options(config, self.OPTIONS, "tetris")
        if options["features"] not in tetris.FEATURE_SETS:
            raise ConfigError(f"env_kwargs.features: got {options['features']!r}; allowed: "
                              + ", ".join(repr(k) for k in tetris.FEATURE_SETS))
        try:
            self.height = tetris.check_height(options["height"])
        except ValueError as exc:
            raise ConfigError(f"env_kwargs.height: {exc}") from None
        self.max_pieces = integer_option(options, "max_pieces", 0, " (0 = no cap)")
        self.features = options["features"]
        self.num_params = tetris.FEATURE_SETS[self.features]
        self._play = tetris.play_games

    def evaluate(self, params, seeds, normalizer=None, action_noise=0.0, collect_obs=False,
                 noise_stream=0) -> Evaluation:
        """One game per seed; ``normalizer``, ``action_noise`` and ``collect_obs`` do not apply."""
        lines, pieces = self._play(params, self.features, self.height, np.asarray(seeds), self.max_pieces)
        return Evaluation(float(lines.mean()), float(pieces.mean()), int(pieces.sum()))
