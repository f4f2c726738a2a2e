"""Plain Python/numpy Tetris, written for clarity: the yardstick the compiled engine is tested
and benchmarked against.

A board is a bool array (height, 10), ``board[r, c]`` the cell of column c in row r, row 0 at
the bottom. Same rules, features, placement order, policy and piece generator as the engine
(see the package docstring), computed cell by cell from the piece shapes.
"""

from __future__ import annotations

import numpy as np

from .pieces import SHAPES, WIDTH

_MASK64 = (1 << 64) - 1


def piece_sequence(seed: int, n: int) -> list[int]:
    """The first ``n`` pieces of the game with ``seed``: splitmix64, ``z % 7``, redraw z >= 2**64 - 2."""
    state, out = seed & _MASK64, []
    for _ in range(n):
        piece, state = _next_piece(state)
        out.append(piece)
    return out


def placements(piece: int) -> list[tuple[int, int]]:
    """(orientation, column) of every placement of ``piece``, in the engine's order."""
    return [(o, x) for o, cells in enumerate(SHAPES[piece])
            for x in range(WIDTH + 1 - (1 + max(c for _, c in cells)))]


def place(board: np.ndarray, piece: int, orientation: int, column: int):
    """Drop a piece straight down from above the board and clear full rows.

    Returns (afterstate (height, 10) or None when the move loses, lines cleared, landing height,
    eroded piece cells).
    """
    height = board.shape[0]
    cells = SHAPES[piece][orientation]
    grid = np.vstack([board, np.zeros((4, WIDTH), bool)])  # room above the board
    bottom = height  # start above every filled cell, fall while the cells below are free
    while bottom > 0 and not any(grid[bottom - 1 + r, column + c] for r, c in cells):
        bottom -= 1
    for r, c in cells:
        grid[bottom + r, column + c] = True
    full = grid.all(axis=1)
    lines = int(full.sum())
    eroded = lines * sum(int(full[bottom + r]) for r, _ in cells)
    grid = np.vstack([grid[~full], np.zeros((lines, WIDTH), bool)])
    piece_height = 1 + max(r for r, _ in cells)
    landing = bottom + (piece_height - 1) / 2
    after = None if grid[height:].any() else grid[:height]
    return after, lines, landing, eroded


def column_heights(board: np.ndarray) -> np.ndarray:
    return np.array([1 + np.flatnonzero(board[:, c]).max() if board[:, c].any() else 0
                     for c in range(WIDTH)])


def is_hole(board: np.ndarray) -> np.ndarray:
    """bool (height, 10): empty cells with a filled cell anywhere above them in their column."""
    filled_above = np.flip(np.cumsum(np.flip(board, 0), 0), 0) - board > 0
    return ~board & filled_above


def bt_features(board: np.ndarray) -> np.ndarray:
    h = column_heights(board)
    return np.concatenate([h, np.abs(np.diff(h)), [h.max(), is_hole(board).sum(), 1]]).astype(float)


def dt_features(board: np.ndarray, landing: float, eroded: int) -> np.ndarray:
    height = board.shape[0]
    holes = is_hole(board)
    walled = np.pad(board, ((0, 0), (1, 1)), constant_values=True)  # side walls filled
    row_tr = sum(int(np.sum(walled[r, 1:] != walled[r, :-1])) for r in range(height))
    col_tr = 0
    for c in range(WIDTH):
        column = [True] + list(board[:, c]) + [False]  # filled floor, empty above the board
        col_tr += sum(a != b for a, b in zip(column[1:], column[:-1]))
    wells = 0
    for c in range(WIDTH):
        for r in range(height):
            if not board[r, c] and walled[r, c] and walled[r, c + 2]:
                wells += 1
                below = r - 1
                while below >= 0 and not board[below, c]:
                    wells += 1
                    below -= 1
    depth = sum(int(board[r, c] and (~board[:r, c]).any()) for r in range(height) for c in range(WIDTH))
    return np.array([landing, eroded, row_tr, col_tr, holes.sum(), wells, depth, holes.any(axis=1).sum()],
                    float)


def features(board: np.ndarray, feature_set: str, landing: float = 0.0, eroded: int = 0) -> np.ndarray:
    return bt_features(board) if feature_set == "bt" else dt_features(board, landing, eroded)


def afterstates(board: np.ndarray, piece: int, feature_set: str):
    """Per placement of ``piece``: (features or None when it loses, lines cleared, afterstate)."""
    out = []
    for o, x in placements(piece):
        after, lines, landing, eroded = place(board, piece, o, x)
        feats = None if after is None else features(after, feature_set, landing, eroded)
        out.append((feats, lines, after))
    return out


def play_game(weights, feature_set: str, height: int, seed: int, max_pieces: int = 0) -> tuple[int, int]:
    """(lines, pieces) of one game of the greedy policy: lines + weights . features, first maximum."""
    board = np.zeros((height, WIDTH), bool)
    lines = pieces = 0
    state = seed & _MASK64
    while not max_pieces or pieces < max_pieces:
        piece, state = _next_piece(state)
        best = None
        for feats, cleared, after in afterstates(board, piece, feature_set):
            if feats is None:
                continue
            value = float(cleared)
            for w, f in zip(weights, feats):
                value += w * f
            if best is None or value > best[0]:
                best = (value, cleared, after)
        if best is None:
            break
        board = best[2]
        lines += best[1]
        pieces += 1
    return lines, pieces


def _next_piece(state: int) -> tuple[int, int]:
    """One piece from splitmix64 state ``state``; returns (piece, new state)."""
    while True:
        state = (state + 0x9E3779B97F4A7C15) & _MASK64
        z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        z ^= z >> 31
        if z < _MASK64 - 1:
            return z % 7, state
