"""``env = "tetris"``: research Tetris with a linear policy over board features
(:mod:`mpies.envs.tetris`), ``env_kwargs = {height = 20, features = "bt", max_pieces = 0}``."""

from __future__ import annotations

import numpy as np

from ..config import ConfigError, RunConfig, echo
from ..extras import require
from .base import Evaluation, Task, integer_option, read_options


class TetrisTask(Task):
    """The parameters are the feature weights; fitness is the number of lines cleared; an episode
    is a game, its "steps" the pieces placed. The whole game runs in compiled code."""

    OPTIONS = {"height": 20, "features": "bt", "max_pieces": 0}
    MAX_HEIGHT = 1000
    """Tallest board: a game fills about ``2.5 height`` pieces before it can lose, each move costing
    ``O(height)``, so a game's cost grows with the square of the height (research uses 10 and 20)."""
    params_field = "env_kwargs.features"
    buffer_field = "env_kwargs.height"

    def __init__(self, config: RunConfig):
        require("numba", "tetris", "tetris")
        from ..envs import tetris  # numba compiles the engine on import: only Tetris runs pay for it

        options = read_options(config, self.OPTIONS, "tetris")
        if options["features"] not in tetris.FEATURE_SETS:
            raise ConfigError(f"env_kwargs.features: got {echo(options['features'])}; allowed: "
                              + ", ".join(repr(k) for k in tetris.FEATURE_SETS))
        try:
            self.height = tetris.check_height(options["height"])
        except ValueError as exc:
            raise ConfigError(f"env_kwargs.height: {exc}") from None
        if self.height > self.MAX_HEIGHT:
            raise ConfigError(f"env_kwargs.height: got {echo(self.height)}; at most {self.MAX_HEIGHT} rows (a "
                              f"game's cost grows with the square of the height; research boards have 10 or 20)")
        self.buffer_bytes = 3 * (self.height + 4) * 8  # the board's rows and its afterstate scratch
        self.max_pieces = integer_option(options, "max_pieces", 0, " (0 = no cap)")
        self.features = options["features"]
        self.num_params = tetris.FEATURE_SETS[self.features]
        self._play = tetris.play_games

    def evaluate(self, params, seeds, normalizer=None, action_noise=0.0, collect_obs=False,
                 noise_stream=0, reward_shift=0.0) -> Evaluation:
        """One game per seed; ``normalizer``, ``action_noise`` and ``collect_obs`` do not apply."""
        lines, pieces = self._play(params, self.features, self.height, np.asarray(seeds), self.max_pieces)
        return Evaluation(float(lines.mean()), float(pieces.mean()), int(pieces.sum()))
