"""``TetrisEnv``: the research Tetris of this package as a gymnasium environment (not registered).

One step places one piece. The engine functions that ``play_games`` runs do the work, so an
episode played with ``best_placement(weights)`` is the game ``play_games`` plays for that seed.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from . import engine
from .pieces import (MAX_PLACEMENTS, NUM_PLACEMENTS, O_HEIGHT, PIECES, PLACEMENT_COLUMN,
                     PLACEMENT_ORIENTATION, WIDTH)

_MASK64 = (1 << 64) - 1


def feature_bounds(feature_set: str, height: int) -> np.ndarray:
    """float64 (k,): an upper bound of each feature on a board of ``height`` rows (all are >= 0)."""
    h, w = height, WIDTH
    if feature_set == "bt":
        return np.r_[np.full(w, h), np.full(w - 1, h), h, w * h, 1.0].astype(float)
    # landing, eroded (4 lines x 4 cells), row/column transitions, holes, wells, depth, hole rows
    return np.array([h + 1.5, 16, (w + 1) * h, w * (h + 1), w * h, w * h * (h + 1) / 2, w * h, h])


class TetrisEnv(gym.Env):
    """Research Tetris, one placement per step (rules and features: ``mpies.envs.tetris``).

    Observation float64 (k + 7,), within [0, ``feature_bounds``]: the features ("bt": k = 22,
    "dt": k = 8) of the current board (for "dt", landing height and eroded cells are those of the
    last move, 0 after reset), then the current piece one-hot (order I, O, T, S, Z, J, L).
    Action: Discrete(34), the index of a placement of the current piece in placement order
    (``mpies.envs.tetris.placements``). An index the piece does not have (>= its 17, 9 or 34
    placements) or a losing placement ends the game: terminated, reward 0, board unchanged.
    Reward: lines cleared by the move. Terminated when the game is lost: by such a move, or when
    no placement of the next piece is non-losing. Truncated after ``max_pieces`` placements (0:
    never).
    ``reset(seed=s)`` (s >= 0, gymnasium's rule) plays the game of piece seed ``s``, as
    ``play_games(..., seeds=[s])``; without a seed, the game seed is drawn from ``np_random``.
    info: "piece" (index), "lines" and "pieces" (totals so far), "action_mask" bool (34,)
    (the current piece's non-losing placements).
    """

    metadata = {"render_modes": []}

    def __init__(self, height: int = 20, features: str = "bt", max_pieces: int = 0):
        self.height = engine.check_height(height)
        self.feature_set = features
        self._fset = engine.feature_code(features)
        if isinstance(max_pieces, bool) or not isinstance(max_pieces, int) or max_pieces < 0:
            raise ValueError(f"max_pieces: got {max_pieces!r}; expected an integer >= 0 (0: no cap)")
        self.max_pieces = max_pieces
        k = engine.FEATURE_SETS[features]
        high = np.r_[feature_bounds(features, self.height), np.ones(len(PIECES))]
        self.observation_space = spaces.Box(np.zeros_like(high), high, dtype=np.float64)
        self.action_space = spaces.Discrete(MAX_PLACEMENTS)
        self._rows = np.zeros(self.height + engine.ROW_BUFFER, np.int64)
        self._after = np.zeros_like(self._rows)
        self._heights, self._hh = np.zeros(WIDTH, np.int64), np.zeros(WIDTH, np.int64)
        self._stats = np.zeros(3, np.int64)
        self._rng = np.zeros(1, np.uint64)
        self._feat = np.zeros(k)
        self._after_feats = np.zeros((MAX_PLACEMENTS, k))
        self._after_lines = np.zeros(MAX_PLACEMENTS, np.int64)
        self.piece = self.lines = self.pieces = 0
        self._last_move = (0.0, 0.0)  # landing height, eroded cells
        self._over = True

    @property
    def board(self) -> np.ndarray:
        """bool (height, 10), row 0 at the bottom."""
        return (self._rows[:self.height, None] >> np.arange(WIDTH)) & 1 == 1

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        game_seed = seed if seed is not None else int(self.np_random.integers(2**63))
        self._rng[0] = np.uint64(game_seed & _MASK64)
        self._rows[:] = 0
        self._heights[:] = 0
        self._stats[:] = 0
        self.lines = self.pieces = 0
        self._last_move = (0.0, 0.0)
        self._next_piece()
        self._over = False
        return self._observation(), self._info()

    def step(self, action):
        if self._over:
            raise RuntimeError("TetrisEnv.step after the game ended: call reset()")
        a, p = int(action), self.piece
        if not 0 <= a < NUM_PLACEMENTS[p] or self._after_lines[a] < 0:
            self._over = True
            return self._observation(), 0.0, True, False, self._info()
        o, x = PLACEMENT_ORIENTATION[p, a], PLACEMENT_COLUMN[p, a]
        cleared, bottom, eroded = engine.apply(self._rows, self._heights, self._stats, o, x)
        self._last_move = (bottom + (O_HEIGHT[o] - 1) / 2.0, float(cleared * eroded))
        self.lines += cleared
        self.pieces += 1
        self._next_piece()
        info = self._info()
        terminated = not info["action_mask"].any()
        truncated = not terminated and 0 < self.max_pieces <= self.pieces
        self._over = terminated
        return self._observation(), float(cleared), terminated, truncated, info

    def best_placement(self, weights) -> int:
        """The placement ``play_games`` would choose with ``weights`` (k,), or -1 if all lose."""
        w = np.ascontiguousarray(weights, dtype=np.float64)
        if w.shape != self._feat.shape:
            raise ValueError(f"weights: shape {w.shape}; {self.feature_set!r} needs {self._feat.shape}")
        return int(engine.choose(self._rows, self._heights, self._stats, self.piece, w, self._fset,
                                 self.height, self._after, self._hh, self._feat))

    def _next_piece(self) -> None:
        self.piece = int(engine.next_piece(self._rng))
        engine.afterstates(self._rows, self._heights, self._stats, self.piece, self._fset, self.height,
                           self._after_feats, self._after_lines)

    def _observation(self) -> np.ndarray:
        engine.board_features(self._rows, self._heights, self._stats, self._fset, self.height,
                              *self._last_move, self._feat)
        return np.concatenate([self._feat, np.eye(len(PIECES))[self.piece]])

    def _info(self) -> dict:
        return {"piece": self.piece, "lines": self.lines, "pieces": self.pieces,
                "action_mask": self._after_lines >= 0}
