"""Research Tetris (Szita & Lőrincz 2006; Thiery & Scherrer 2009; MdpTetris), compiled with numba.

Rules
    The board is 10 columns wide and ``height`` rows high (20 standard, 10 small). The 7
    tetrominoes I, O, T, S, Z, J, L (piece indices 0..6, ``PIECES``) are drawn uniformly at random;
    they have 2, 1, 4, 2, 2, 4, 4 orientations (19 in all, shapes in ``pieces.SHAPES``). An action
    is a final placement (orientation, column of the piece's left edge): the piece drops straight
    down from above the board (no sliding, no rotation on the way), full rows are removed, and the
    score is the number of lines cleared. A placement *loses* when, after its full rows are
    removed, any cell lies above row ``height``. The placements of a piece are numbered
    orientation by orientation and within an orientation from the leftmost column (``placements``):
    17, 9, 34, 17, 17, 34, 34 for I..L, 162 in all.

Policy (``play_games``)
    Among the non-losing placements of the drawn piece, play the one maximising
    ``lines cleared by the move + weights . features(afterstate)``, the first in placement order on
    ties (MdpTetris: value = reward + w . features). If every placement loses, the game is over.
    Board coordinates: row 0 is the bottom row; ``board[r, c]`` is True when the cell is filled.

Features (``FEATURE_SETS``; computed on the afterstate, after full rows are removed)
    "bt", Bertsekas & Tsitsiklis, 22 values: the 10 column heights h_c (1 + row of the highest
    filled cell, 0 if empty), the 9 |h_c - h_{c+1}|, max h_c, holes, and the constant 1.
    "dt", Dellacherie / Thiery & Scherrer (MdpTetris ``feature_functions.c``), 8 values:
    0 landing height: landing row of the piece's bottom (before rows are removed) +
      (piece height - 1) / 2;
    1 eroded piece cells: lines cleared by the move x cells of the piece in those lines;
    2 row transitions: filled/empty changes along each of the ``height`` rows, both side walls
      filled (an empty row counts 2);
    3 column transitions: changes along each column from a filled floor up to an empty row above
      the board (an empty column counts 1);
    4 holes: empty cells with a filled cell anywhere above them in their column;
    5 cumulative wells: a well cell is an empty cell whose left and right neighbours are filled
      (a side wall counts as filled); each adds 1 + the number of consecutive empty cells
      directly below it (so a well of depth d adds 1 + 2 + ... + d);
    6 hole depth: filled cells with at least one hole below them in their column (equivalently,
      summed over holes, the filled cells in the unbroken run right above each hole);
    7 rows with holes: rows containing at least one hole.
    Landing height and eroded cells describe a move, not a board: ``board_features`` takes them
    as arguments (0 for a board reached by no move).

Pieces
    Game ``seed`` (int64) starts a splitmix64 generator at ``seed mod 2**64``; each output z gives
    the piece ``z % 7``, except z >= 2**64 - 2, which is redrawn (exactly uniform). Pure integer
    arithmetic: the same sequence on every platform (``piece_sequence``).

API
    ``FEATURE_SETS``                                   {"bt": 22, "dt": 8}
    ``play_games(weights, feature_set, height, seeds, max_pieces=0) -> (lines, pieces)``
    ``piece_sequence(seed, n) -> pieces``              ``placements(piece) -> (orientation, column)``
    ``board_features(board, feature_set, landing_height=0.0, eroded_cells=0) -> features``
    ``afterstates(board, piece, feature_set) -> (features, lines)``
    ``TetrisEnv(height=20, features="bt", max_pieces=0)`` (gymnasium.Env, not registered)
    ``reference``: the same in plain numpy (slow; the yardstick of the tests and the benchmark).

Speed: ``play_games`` runs the whole game loop in compiled code (engine.py), about 13 million
placements scored per second per core with "bt" and 10 million with "dt" on 10 x 20
(scripts/bench_tetris.py). The first call in a fresh environment compiles it (seconds); later
ones load numba's on-disk cache.
"""

from __future__ import annotations

import numpy as np

from . import engine
from .engine import FEATURE_SETS, check_height, feature_code
from .env import TetrisEnv
from .pieces import MAX_PLACEMENTS, NUM_PLACEMENTS, PIECES, PLACEMENT_COLUMN, PLACEMENT_ORIENTATION, WIDTH

__all__ = ["FEATURE_SETS", "PIECES", "MAX_PLACEMENTS", "play_games", "piece_sequence", "placements",
           "board_features", "afterstates", "feature_code", "check_height", "TetrisEnv"]


def play_games(weights, feature_set: str, height: int, seeds, max_pieces: int = 0):
    """Play one game per seed with the greedy linear policy (see the module docstring).

    weights: float (k,), k = ``FEATURE_SETS[feature_set]``; seeds: int64 (g,) (any int64; the
    piece generator uses seed mod 2**64); max_pieces: stop a game after that many placements
    (0: play until it is lost; good weights on 10 x 20 can last millions of pieces).
    Returns (lines, pieces): int64 (g,) each, lines cleared and pieces placed per game.
    """
    fset = feature_code(feature_set)
    w = np.ascontiguousarray(weights, dtype=np.float64)
    if w.shape != (FEATURE_SETS[feature_set],):
        raise ValueError(f"weights: shape {w.shape}; {feature_set!r} needs ({FEATURE_SETS[feature_set]},)")
    seeds = np.ascontiguousarray(np.atleast_1d(seeds), dtype=np.int64)
    if seeds.ndim != 1:
        raise ValueError(f"seeds: expected a 1-D array, got shape {seeds.shape}")
    if max_pieces < 0:
        raise ValueError(f"max_pieces: got {max_pieces}; expected >= 0 (0: no cap)")
    return engine.play_games(w, fset, check_height(height), seeds, int(max_pieces))


def piece_sequence(seed: int, n: int) -> np.ndarray:
    """The first ``n`` pieces (int64 (n,), indices into ``PIECES``) of the game with ``seed``."""
    return engine.piece_sequence(np.int64(seed), int(n))


def _piece_index(piece) -> int:
    if isinstance(piece, str) and len(piece) == 1 and piece in PIECES:
        return PIECES.index(piece)
    if isinstance(piece, (int, np.integer)) and not isinstance(piece, bool) and 0 <= piece < len(PIECES):
        return int(piece)
    raise ValueError(f"piece: got {piece!r}; expected 0..6 or one of {PIECES!r}")


def placements(piece) -> np.ndarray:
    """int64 (n, 2): (orientation within the piece, column) of each placement of ``piece``
    (index 0..6 or letter), in placement order."""
    p = _piece_index(piece)
    n = NUM_PLACEMENTS[p]
    o = PLACEMENT_ORIENTATION[p, :n] - PLACEMENT_ORIENTATION[p, 0]
    return np.stack([o, PLACEMENT_COLUMN[p, :n]], axis=1)


def _board_state(board):
    board = np.asarray(board)
    if board.ndim != 2 or board.shape[1] != WIDTH or board.dtype != bool:
        raise ValueError(f"board: expected a bool array (height, {WIDTH}), got {board.dtype} {board.shape}")
    height = check_height(board.shape[0])
    if board.all(axis=1).any():
        raise ValueError("board: has a full row (full rows are always removed)")
    rows = np.zeros(height + engine.ROW_BUFFER, np.int64)
    rows[:height] = board.astype(np.int64) @ (1 << np.arange(WIDTH, dtype=np.int64))
    heights, stats = np.zeros(WIDTH, np.int64), np.zeros(3, np.int64)
    engine.set_state(rows, heights, stats)
    return rows, heights, stats, height


def board_features(board, feature_set: str, landing_height: float = 0.0, eroded_cells: int = 0) -> np.ndarray:
    """float64 (k,): the features of ``board`` (bool (height, 10), row 0 at the bottom, no full
    row); ``landing_height`` and ``eroded_cells`` are the first two "dt" features (of the move that
    made the board), ignored by "bt"."""
    fset = feature_code(feature_set)
    rows, heights, stats, height = _board_state(board)
    feat = np.zeros(FEATURE_SETS[feature_set])
    engine.board_features(rows, heights, stats, fset, height, float(landing_height), float(eroded_cells), feat)
    return feat


def afterstates(board, piece, feature_set: str):
    """Every placement of ``piece`` on ``board`` (as in ``board_features``), in placement order.

    Returns (features float64 (n, k) of each afterstate, lines int64 (n,) cleared by each
    placement); where a placement loses, its lines are -1 and its features NaN.
    """
    fset = feature_code(feature_set)
    p = _piece_index(piece)
    rows, heights, stats, height = _board_state(board)
    feats = np.zeros((MAX_PLACEMENTS, FEATURE_SETS[feature_set]))
    lines = np.zeros(MAX_PLACEMENTS, np.int64)
    engine.afterstates(rows, heights, stats, p, fset, height, feats, lines)
    n = NUM_PLACEMENTS[p]
    return feats[:n], lines[:n]
