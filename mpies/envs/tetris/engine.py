"""Compiled Tetris engine (numba): bitboard rows and incrementally kept column heights; with the
feature-set names and the checks its Python callers share.

Game state, shared by the functions here (``H`` = board height):

    rows     int64 (H + 4,): bit c of ``rows[r]`` is the cell of column c in row r, row 0 at the
             bottom; the 4 rows above the board hold a piece that overflows before lines clear.
    heights  int64 (10,): 1 + the row of each column's highest filled cell, 0 for an empty column.
    stats    int64 (3,): wall height (= max of heights), holes, filled cells.

Scratch arrays, reused so the hot loop allocates nothing: ``after`` int64 (H + 4,) (afterstate
rows), ``hh`` int64 (10,) (afterstate heights), ``feat`` float64 (k,) (features, k = 22 or 8).
Heights are recomputed from the rows only when lines are cleared; otherwise the placed piece
updates its own columns, and for "bt" the holes too (the gap under each of its columns).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .pieces import (NUM_PLACEMENTS, O_BOTTOM, O_HEIGHT, O_ROW_CELLS, O_ROW_MASK, O_TOP, O_WIDTH,
                     PLACEMENT_COLUMN, PLACEMENT_ORIENTATION, WIDTH)

FEATURE_SETS = {"bt": 22, "dt": 8}
"""Feature-set name -> number of features (= length of the weight vector)."""

BT, DT = 0, 1
"""Feature-set codes the compiled functions take: "bt" (Bertsekas-Tsitsiklis), "dt" (Dellacherie-
Thiery-Scherrer)."""

MIN_HEIGHT = 4
FULL = (1 << WIDTH) - 1
ROW_BUFFER = 4  # rows above the board in ``rows``: room for an overflowing piece


def feature_code(feature_set: str) -> int:
    """The code of a feature-set name; ValueError for an unknown name."""
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown Tetris feature set {feature_set!r}; allowed: {', '.join(FEATURE_SETS)}")
    return BT if feature_set == "bt" else DT


def check_height(height) -> int:
    """``height`` as an int; ValueError unless it is an integer >= 4 (room for an upright I)."""
    if isinstance(height, bool) or not isinstance(height, (int, np.integer)) or height < MIN_HEIGHT:
        raise ValueError(f"Tetris height: got {height!r}; expected an integer >= {MIN_HEIGHT}")
    return int(height)


def _row_tables():
    rows = np.arange(1 << WIDTH)
    popcount = np.array([bin(v).count("1") for v in rows], np.int64)
    walled = 1 | (rows << 1) | (1 << (WIDTH + 1))  # side walls count as filled
    transitions = np.array([bin((v ^ (v >> 1)) & ((1 << (WIDTH + 1)) - 1)).count("1") for v in walled],
                           np.int64)
    return popcount, transitions


POPCOUNT, ROW_TRANSITIONS = _row_tables()
"""Per 10-bit row: filled cells; filled/empty changes along it with both walls filled."""

_SPLITMIX_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_SPLITMIX_M1 = np.uint64(0xBF58476D1CE4E5B9)
_SPLITMIX_M2 = np.uint64(0x94D049BB133111EB)
_DRAW_LIMIT = np.uint64(0xFFFFFFFFFFFFFFFE)  # 2**64 - (2**64 mod 7): below it, z % 7 is uniform


@njit(cache=True)
def next_piece(rng):
    """Draw a piece 0..6 uniformly; ``rng`` uint64 (1,) is the splitmix64 state, advanced.

    Each splitmix64 output z is used as ``z % 7`` unless ``z >= 2**64 - 2`` (then redrawn),
    which makes the draw exactly uniform. The state starts as the game seed modulo 2**64.
    """
    while True:
        s = rng[0] + _SPLITMIX_GAMMA
        rng[0] = s
        z = (s ^ (s >> np.uint64(30))) * _SPLITMIX_M1
        z = (z ^ (z >> np.uint64(27))) * _SPLITMIX_M2
        z = z ^ (z >> np.uint64(31))
        if z < _DRAW_LIMIT:
            return np.int64(z % np.uint64(7))


@njit(cache=True)
def piece_sequence(seed, n):
    """The first ``n`` pieces int64 (n,) of the game with int64 ``seed``."""
    rng = np.zeros(1, np.uint64)
    rng[0] = np.uint64(seed)
    out = np.empty(n, np.int64)
    for i in range(n):
        out[i] = next_piece(rng)
    return out


@njit(cache=True)
def scan_heights(rows, n, heights):
    """Column heights of ``rows[:n]`` into ``heights``; returns the wall height (their max)."""
    heights[:] = 0
    found = 0
    wall = 0
    for r in range(n - 1, -1, -1):
        new = rows[r] & ~found
        if new:
            if wall == 0:
                wall = r + 1
            for c in range(WIDTH):
                if (new >> c) & 1:
                    heights[c] = r + 1
            found |= new
            if found == FULL:
                break
    return wall


@njit(cache=True)
def set_state(rows, heights, stats):
    """Heights and stats of a board given by its rows (any board, full rows excepted)."""
    wall = scan_heights(rows, rows.size, heights)
    filled = 0
    for r in range(wall):
        filled += POPCOUNT[rows[r]]
    stats[0], stats[1], stats[2] = wall, heights.sum() - filled, filled


@njit(cache=True, inline="always")
def bt_features(heights, wall, holes, feat):
    """The 22 Bertsekas-Tsitsiklis features into ``feat``: 10 heights, 9 |differences|, max
    height, holes, 1."""
    for c in range(WIDTH):
        feat[c] = heights[c]
    for c in range(WIDTH - 1):
        feat[WIDTH + c] = abs(heights[c] - heights[c + 1])
    feat[2 * WIDTH - 1] = wall
    feat[2 * WIDTH] = holes
    feat[2 * WIDTH + 1] = 1.0


@njit(cache=True, inline="always")
def dt_features(rows, n, height, landing, eroded, feat):
    """The 8 Dellacherie-Thiery-Scherrer features of ``rows[:n]`` (all rows from n up to
    ``height`` empty) into ``feat``: landing height and eroded cells are given (they describe the
    last move, not the board); then row transitions, column transitions, holes, cumulative wells,
    hole depth, rows with holes, as defined in the package docstring."""
    row_tr = 2 * (height - n)  # empty rows: both walls
    col_tr = 0
    depth = 0
    prev = FULL  # the floor
    above = 0  # filled cells with a hole somewhere below them, in the previous row
    for r in range(n):
        v = rows[r]
        row_tr += ROW_TRANSITIONS[v]
        col_tr += POPCOUNT[v ^ prev]
        above = v & (~prev | above) & FULL
        depth += POPCOUNT[above]
        prev = v
    col_tr += POPCOUNT[prev]  # the top row against the empty row above it
    holes = 0
    hole_rows = 0
    wells = 0
    covered = 0
    for r in range(n - 1, -1, -1):
        v = rows[r]
        h = covered & ~v & FULL
        if h:
            holes += POPCOUNT[h]
            hole_rows += 1
        covered |= v
        walled = 1 | (v << 1) | (1 << (WIDTH + 1))
        well = ~v & walled & (walled >> 2) & FULL  # empty, left and right neighbours filled
        while well:
            bit = well & -well
            well ^= bit
            wells += 1
            below = r - 1
            while below >= 0 and not (rows[below] & bit):
                wells += 1
                below -= 1
    feat[0] = landing
    feat[1] = eroded
    feat[2] = row_tr
    feat[3] = col_tr
    feat[4] = holes
    feat[5] = wells
    feat[6] = depth
    feat[7] = hole_rows


@njit(cache=True)
def board_features(rows, heights, stats, fset, height, landing, eroded, feat):
    """Features of the current board into ``feat`` (``landing``/``eroded`` used by "dt" only)."""
    if fset == BT:
        bt_features(heights, stats[0], stats[1], feat)
    else:
        dt_features(rows, stats[0], height, landing, eroded, feat)


@njit(cache=True, inline="always")
def _landing_row(heights, o, x):
    bottom = 0
    for j in range(O_WIDTH[o]):
        b = heights[x + j] - O_BOTTOM[o, j]
        if b > bottom:
            bottom = b
    return bottom


@njit(cache=True, inline="always")
def candidate(rows, heights, stats, o, x, fset, height, after, hh, feat):
    """Afterstate features of orientation ``o`` (0..18) dropped at column ``x`` into ``feat``.

    Returns the lines the move clears, or -1 when it loses (a cell above ``height`` once full
    rows are cleared); ``feat`` is then left undefined.
    """
    ph = O_HEIGHT[o]
    bottom = _landing_row(heights, o, x)
    top = bottom + ph
    lines = 0
    eroded = 0
    for r in range(ph):
        if (rows[bottom + r] | (O_ROW_MASK[o, r] << x)) == FULL:
            lines += 1
            eroded += O_ROW_CELLS[o, r]
    wall = max(stats[0], top)
    if lines == 0 and fset == BT:
        if wall > height:
            return -1
        holes = stats[1]
        for c in range(WIDTH):
            hh[c] = heights[c]
        for j in range(O_WIDTH[o]):
            holes += bottom + O_BOTTOM[o, j] - heights[x + j]
            hh[x + j] = bottom + O_TOP[o, j]
        bt_features(hh, wall, holes, feat)
        return 0
    for r in range(bottom):
        after[r] = rows[r]
    n = bottom
    for r in range(ph):
        v = rows[bottom + r] | (O_ROW_MASK[o, r] << x)
        if v != FULL:
            after[n] = v
            n += 1
    for r in range(top, wall):
        after[n] = rows[r]
        n += 1
    while n > 0 and after[n - 1] == 0:  # only on boards with an empty row under a filled one
        n -= 1
    if n > height:
        return -1
    if fset == BT:
        scan_heights(after, n, hh)
        bt_features(hh, n, hh.sum() - (stats[2] + 4 - WIDTH * lines), feat)
    else:
        dt_features(after, n, height, bottom + (ph - 1) / 2.0, lines * eroded, feat)
    return lines


@njit(cache=True)
def apply(rows, heights, stats, o, x):
    """Drop orientation ``o`` at column ``x`` (a non-losing placement) and clear full rows.

    Returns (lines cleared, landing row of the piece's bottom, piece cells cleared).
    """
    ph = O_HEIGHT[o]
    bottom = _landing_row(heights, o, x)
    top = bottom + ph
    lines = 0
    eroded = 0
    for r in range(ph):
        rows[bottom + r] |= O_ROW_MASK[o, r] << x
        if rows[bottom + r] == FULL:
            lines += 1
            eroded += O_ROW_CELLS[o, r]
    wall = max(stats[0], top)
    if lines == 0:
        for j in range(O_WIDTH[o]):
            stats[1] += bottom + O_BOTTOM[o, j] - heights[x + j]
            heights[x + j] = bottom + O_TOP[o, j]
        stats[0] = wall
        stats[2] += 4
        return 0, bottom, 0
    n = bottom
    for r in range(bottom, wall):
        if rows[r] != FULL:
            rows[n] = rows[r]
            n += 1
    rows[n:wall] = 0
    stats[0] = scan_heights(rows, n, heights)
    stats[2] += 4 - WIDTH * lines
    stats[1] = heights.sum() - stats[2]
    return lines, bottom, eroded


@njit(cache=True)
def choose(rows, heights, stats, piece, weights, fset, height, after, hh, feat):
    """Index of the placement of ``piece`` maximising lines + weights . features(afterstate)
    among the non-losing ones (the first on ties), or -1 when every placement loses."""
    best = -1
    best_value = 0.0
    for i in range(NUM_PLACEMENTS[piece]):
        lines = candidate(rows, heights, stats, PLACEMENT_ORIENTATION[piece, i],
                          PLACEMENT_COLUMN[piece, i], fset, height, after, hh, feat)
        if lines < 0:
            continue
        value = float(lines)
        for f in range(feat.size):
            value += weights[f] * feat[f]
        if best < 0 or value > best_value:
            best = i
            best_value = value
    return best


@njit(cache=True)
def afterstates(rows, heights, stats, piece, fset, height, feats, lines):
    """Every placement i of ``piece``: afterstate features into ``feats[i]`` (float64 (34, k))
    and lines cleared into ``lines[i]`` (int64 (34,)); -1 lines and NaN features where placement i
    loses or does not exist (i >= the piece's number of placements)."""
    after = np.empty_like(rows)
    hh = np.empty_like(heights)
    lines[:] = -1
    feats[:] = np.nan
    for i in range(NUM_PLACEMENTS[piece]):
        lines[i] = candidate(rows, heights, stats, PLACEMENT_ORIENTATION[piece, i],
                             PLACEMENT_COLUMN[piece, i], fset, height, after, hh, feats[i])
        if lines[i] < 0:
            feats[i] = np.nan


@njit(cache=True)
def play_games(weights, fset, height, seeds, max_pieces):
    """One game per seed with the greedy policy of ``choose``; (lines, pieces) int64 (g,) each.

    A game ends when no placement of the drawn piece is non-losing, or after ``max_pieces``
    placements (0: no cap).
    """
    lines = np.zeros(seeds.size, np.int64)
    pieces = np.zeros(seeds.size, np.int64)
    rows = np.zeros(height + ROW_BUFFER, np.int64)
    after = np.zeros_like(rows)
    heights = np.zeros(WIDTH, np.int64)
    hh = np.zeros_like(heights)
    stats = np.zeros(3, np.int64)
    feat = np.zeros(weights.size)
    rng = np.zeros(1, np.uint64)
    for g in range(seeds.size):
        rows[:] = 0
        heights[:] = 0
        stats[:] = 0
        rng[0] = np.uint64(seeds[g])
        while max_pieces == 0 or pieces[g] < max_pieces:
            piece = next_piece(rng)
            i = choose(rows, heights, stats, piece, weights, fset, height, after, hh, feat)
            if i < 0:
                break
            cleared, _, _ = apply(rows, heights, stats, PLACEMENT_ORIENTATION[piece, i],
                                  PLACEMENT_COLUMN[piece, i])
            lines[g] += cleared
            pieces[g] += 1
    return lines, pieces
