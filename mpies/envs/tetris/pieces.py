"""The 7 tetrominoes, their 19 orientations, and the placement tables the engine reads.

Cells are ``(row, column)`` offsets from the bottom-left corner of the piece's bounding box,
row 0 at the bottom. A placement ``(orientation, column)`` puts that corner in board column
``column`` (0 = leftmost); placements of a piece are numbered orientation by orientation, then
column by column from the left: this is the order of ``afterstates`` and of ties in the policy.
"""

from __future__ import annotations

import numpy as np

WIDTH = 10
"""Board width (columns)."""

PIECES = "IOTSZJL"
"""Piece letters; a piece is drawn as its index into this string."""

SHAPES = (
    # I: horizontal, vertical
    (((0, 0), (0, 1), (0, 2), (0, 3)), ((0, 0), (1, 0), (2, 0), (3, 0))),
    # O
    (((0, 0), (0, 1), (1, 0), (1, 1)),),
    # T: flat side down, stem right, flat side up, stem left
    (((0, 0), (0, 1), (0, 2), (1, 1)), ((0, 0), (1, 0), (2, 0), (1, 1)),
     ((1, 0), (1, 1), (1, 2), (0, 1)), ((0, 1), (1, 1), (2, 1), (1, 0))),
    # S: horizontal (bottom row left), vertical (left column high)
    (((0, 0), (0, 1), (1, 1), (1, 2)), ((1, 0), (2, 0), (0, 1), (1, 1))),
    # Z: horizontal (bottom row right), vertical (left column low)
    (((1, 0), (1, 1), (0, 1), (0, 2)), ((0, 0), (1, 0), (1, 1), (2, 1))),
    # J: flat, nub up-left; upright, nub top-right; flat, nub down-right; upright, foot bottom-left
    (((0, 0), (0, 1), (0, 2), (1, 0)), ((0, 0), (1, 0), (2, 0), (2, 1)),
     ((1, 0), (1, 1), (1, 2), (0, 2)), ((0, 0), (0, 1), (1, 1), (2, 1))),
    # L: flat, nub up-right; upright, foot bottom-right; flat, nub down-left; upright, nub top-left
    (((0, 0), (0, 1), (0, 2), (1, 2)), ((0, 0), (1, 0), (2, 0), (0, 1)),
     ((1, 0), (1, 1), (1, 2), (0, 0)), ((2, 0), (0, 1), (1, 1), (2, 1))),
)
"""Per piece (order of ``PIECES``), its orientations (2, 1, 4, 2, 2, 4, 4), each 4 cells."""


def _tables():
    orientations = [cells for piece in SHAPES for cells in piece]
    n = len(orientations)
    width, height = np.zeros(n, np.int64), np.zeros(n, np.int64)
    bottom, top = np.zeros((n, 4), np.int64), np.zeros((n, 4), np.int64)
    row_mask, row_cells = np.zeros((n, 4), np.int64), np.zeros((n, 4), np.int64)
    for o, cells in enumerate(orientations):
        width[o] = 1 + max(c for _, c in cells)
        height[o] = 1 + max(r for r, _ in cells)
        for j in range(width[o]):
            rows = [r for r, c in cells if c == j]
            bottom[o, j], top[o, j] = min(rows), max(rows) + 1
        for r, c in cells:
            row_mask[o, r] |= 1 << c
            row_cells[o, r] += 1
    first = np.cumsum([0] + [len(p) for p in SHAPES])  # each piece's first orientation
    pairs = [[(o, x) for o in range(first[p], first[p + 1]) for x in range(WIDTH + 1 - width[o])]
             for p in range(len(SHAPES))]
    num = np.array([len(q) for q in pairs], np.int64)
    place_o = np.zeros((len(SHAPES), num.max()), np.int64)
    place_x = np.zeros_like(place_o)
    for p, q in enumerate(pairs):
        place_o[p, :len(q)] = [o for o, _ in q]
        place_x[p, :len(q)] = [x for _, x in q]
    return width, height, bottom, top, row_mask, row_cells, num, place_o, place_x


(O_WIDTH, O_HEIGHT, O_BOTTOM, O_TOP, O_ROW_MASK, O_ROW_CELLS,
 NUM_PLACEMENTS, PLACEMENT_ORIENTATION, PLACEMENT_COLUMN) = _tables()
"""Engine tables. Per orientation o (0..18, pieces in order): O_WIDTH/O_HEIGHT (bounding box),
O_BOTTOM[o, j]/O_TOP[o, j] (lowest filled row / 1 + highest, in piece column j < width),
O_ROW_MASK[o, r] (bit j = cell in piece column j of piece row r), O_ROW_CELLS[o, r] (its cells).
Per piece p: NUM_PLACEMENTS[p] (17, 9, 34, 17, 17, 34, 34: 162 in all), and placement i's
orientation PLACEMENT_ORIENTATION[p, i] (0..18) and column PLACEMENT_COLUMN[p, i] (i < NUM_PLACEMENTS[p])."""

MAX_PLACEMENTS = int(NUM_PLACEMENTS.max())
"""34: the most placements of one piece (T, J, L); the size of ``TetrisEnv``'s action space."""
