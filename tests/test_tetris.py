"""Research Tetris: rules, features on hand-built boards, piece generator, compiled engine
against the plain reference, policy quality, gymnasium wrapper."""

import numpy as np
import pytest

from mpies.envs.tetris import (FEATURE_SETS, PIECES, TetrisEnv, afterstates, board_features, engine,
                               piece_sequence, placements, play_games, reference)
from mpies.envs.tetris.pieces import NUM_PLACEMENTS, PLACEMENT_ORIENTATION, SHAPES

DELLACHERIE = np.array([-1.0, 1, -1, -1, -4, -1, 0, 0])  # landing, eroded, row/col trans, holes, wells
SIMPLE_BT = np.r_[-np.ones(10), -np.ones(9), 0, -10, 0]  # penalise heights, bumps and holes


def make_board(*lines, height=10):
    """bool (height, 10) from rows written top first ('#' filled), stacked on the floor."""
    rows = [[ch == "#" for ch in line] for line in reversed(lines)]
    return np.vstack([np.array(rows, bool).reshape(-1, 10), np.zeros((height - len(rows), 10), bool)])


def engine_place(board, piece, orientation, column):
    """The compiled game step (``engine.apply``) on a bool board: (afterstate, lines, landing, eroded)."""
    height = board.shape[0]
    rows = np.zeros(height + engine.ROW_BUFFER, np.int64)
    rows[:height] = board.astype(np.int64) @ (1 << np.arange(10))
    heights, stats = np.zeros(10, np.int64), np.zeros(3, np.int64)
    engine.set_state(rows, heights, stats)
    o = PLACEMENT_ORIENTATION[piece, 0] + orientation
    lines, bottom, eroded = engine.apply(rows, heights, stats, o, column)
    after = (rows[:height, None] >> np.arange(10)) & 1 == 1
    check_heights, check_stats = np.zeros(10, np.int64), np.zeros(3, np.int64)
    engine.set_state(rows.copy(), check_heights, check_stats)  # incremental state == recomputed
    np.testing.assert_array_equal(heights, check_heights)
    np.testing.assert_array_equal(stats, check_stats)
    landing = bottom + max(r for r, _ in SHAPES[piece][orientation]) / 2  # + (piece height - 1) / 2
    return after, lines, landing, lines * eroded


def random_boards(rng, count):
    """Boards reached by random non-losing placements (heights 10 and 20, 0 to 80 pieces)."""
    boards = []
    for i in range(count):
        height = (10, 20)[i % 2]
        board = np.zeros((height, 10), bool)
        for _ in range(rng.integers(0, 80)):
            piece = int(rng.integers(7))
            options = np.flatnonzero(afterstates(board, piece, "bt")[1] >= 0)
            if not options.size:
                break
            o, x = placements(piece)[rng.choice(options)]
            board = reference.place(board, piece, o, x)[0]
        boards.append(board)
    return boards


# --- pieces and placements -------------------------------------------------------------------

def test_orientations_are_the_distinct_rotations_of_each_piece():
    def normalise(cells):
        r0, c0 = min(r for r, _ in cells), min(c for _, c in cells)
        return frozenset((r - r0, c - c0) for r, c in cells)

    assert [len(s) for s in SHAPES] == [2, 1, 4, 2, 2, 4, 4] and PIECES == "IOTSZJL"
    for shape in SHAPES:
        cells, rotations = shape[0], set()
        for _ in range(4):
            rotations.add(normalise(cells))
            cells = [(c, -r) for r, c in cells]
        assert {normalise(c) for c in shape} == rotations and len(set(map(normalise, shape))) == len(shape)
    assert list(NUM_PLACEMENTS) == [17, 9, 34, 17, 17, 34, 34] and NUM_PLACEMENTS.sum() == 162
    assert [tuple(p) for p in placements("I")] == reference.placements(0)
    assert placements("T")[:3].tolist() == [[0, 0], [0, 1], [0, 2]] and placements("T")[-1].tolist() == [3, 8]


# --- features on hand-built boards -----------------------------------------------------------

BOARD_A = make_board(
    ".#........",
    ".#...#....",
    "##.#......",
    "...##.##.#",
    "##.#######",
)
# heights 3 5 0 3 2 4 2 2 1 2; holes: col 0 row 1, col 1 row 1, col 5 rows 1 and 2 (two cells under
# one filled cell). Wells: (0,2) 1; (1,5) 1; (1,8) 1; (2,2) 1 + 2 empty below = 3; (3,0) 1;
# (4,0) 1 + 1 = 2: total 9. Hole depth: col 0: 1, col 1: 3, col 5: 1. Rows with holes: 1, 2.
# Row transitions 2 + 6 + 4 + 6 + 4 + 5 empty rows x 2 = 32; column transitions 3 3 1 1 1 3 1 1 1 1.
BOARD_A_BT = [3, 5, 0, 3, 2, 4, 2, 2, 1, 2, 2, 5, 3, 1, 2, 2, 0, 1, 1, 5, 4, 1]
BOARD_A_DT = [2.5, 3, 32, 16, 4, 9, 5, 2]


@pytest.mark.parametrize("features", [board_features, reference.features])
def test_features_of_a_hand_built_board(features):
    np.testing.assert_array_equal(features(BOARD_A, "bt"), BOARD_A_BT)
    np.testing.assert_array_equal(features(BOARD_A, "dt", 2.5, 3), BOARD_A_DT)


def test_features_of_the_empty_board_and_of_holes_far_below():
    empty = np.zeros((20, 10), bool)
    np.testing.assert_array_equal(board_features(empty, "bt"), [0] * 21 + [1])
    np.testing.assert_array_equal(board_features(empty, "dt"), [0, 0, 40, 10, 0, 0, 0, 0])
    # one cell floating 3 rows up: 3 holes (not 1), 3 rows with holes, depth 1
    floating = make_board("#.........", "..........", "..........", "..........")
    bt, dt = board_features(floating, "bt"), board_features(floating, "dt")
    assert bt[0] == 4 and bt[19] == 4 and bt[20] == 3
    assert dt[4] == 3 and dt[6] == 1 and dt[7] == 3
    assert dt[3] == 9 + 3  # 9 empty columns, column 0: floor->empty, empty->filled, filled->empty
    # wells between walls: a 1-wide shaft at column 0 of depth 3 adds 1 + 2 + 3
    shaft = make_board(".#........", ".#........", ".#........")
    assert board_features(shaft, "dt")[5] == 6
    # the same at the right wall
    right = make_board("........#.", "........#.", "........#.")
    assert board_features(right, "dt")[5] == 6


def test_row_transitions_count_walls_as_filled():
    assert board_features(make_board("#########."), "dt")[2] == 2 + 9 * 2
    assert board_features(make_board(".#.#.#.#.#"), "dt")[2] == 10 + 9 * 2
    assert board_features(make_board("##########"[:9] + "."), "dt")[3] == 1 + 9  # col 9 empty, 9 tops


def test_landing_height_and_eroded_cells():
    # O on a column of height 3: bottom row 3, landing height 3 + (2 - 1) / 2
    board = make_board("#.........", "#.........", "#.........")
    feats, lines = afterstates(board, "O", "dt")
    assert lines[0] == 0 and feats[0, 0] == 3.5 and feats[0, 1] == 0
    # horizontal I completing row 0: 1 line x 4 piece cells
    feats, lines = afterstates(make_board("....######"), "I", "dt")
    assert lines[0] == 1 and feats[0, 0] == 0 and feats[0, 1] == 4
    # upright I completing rows 0 and 1: 2 lines x 2 piece cells; landing height 0 + 3 / 2
    two = make_board("#########.", "#########.")
    feats, lines = afterstates(two, "I", "dt")
    i = placements("I").tolist().index([1, 9])
    assert lines[i] == 2 and feats[i, 0] == 1.5 and feats[i, 1] == 4
    bt, _ = afterstates(two, "I", "bt")
    np.testing.assert_array_equal(bt[i, :10], [0] * 9 + [2])  # two I cells left in column 9


# --- line clearing and game over ---------------------------------------------------------------

@pytest.mark.parametrize("place", [engine_place, reference.place])
def test_lines_clear_and_the_rows_above_fall(place):
    board = make_board("#.........", "##........", "#########.", "#########.")
    after, lines, landing, eroded = place(board, 0, 1, 9)  # upright I into column 9
    assert (lines, landing, eroded) == (2, 1.5, 4)
    np.testing.assert_array_equal(after, make_board("#........#", "##.......#"))
    after, lines, _, _ = place(make_board("...#######"), 2, 0, 0)  # T flat side down, 1 line
    assert lines == 1
    np.testing.assert_array_equal(after, make_board(".#........"))
    after, lines, _, eroded = place(make_board("##...#####"), 1, 0, 0)  # O lands on top, no line
    assert lines == 0 and eroded == 0 and after[:, :2].sum() == 6 and after[0].sum() == 7


@pytest.mark.parametrize("place", [engine_place, reference.place])
def test_four_lines_at_once(place):
    board = make_board(*["#########."] * 4, height=10)
    after, lines, _, eroded = place(board, 0, 1, 9)
    assert lines == 4 and eroded == 16 and not after.any()


def test_a_placement_loses_only_if_cells_stay_above_the_board_after_clearing():
    # columns 0..8 filled to the top of a 10-high board, column 9 empty: only the upright I, and the
    # J and L whose hooks complete the top rows (their upper rows then fall into the board), fit
    tall = make_board(*["#########."] * 10, height=10)
    for piece in range(7):
        _, lines = afterstates(tall, piece, "bt")
        allowed = {tuple(placements(piece)[i].tolist()) for i in np.flatnonzero(lines >= 0)}
        assert allowed == {0: {(1, 9)}, 5: {(2, 7)}, 6: {(3, 8)}}.get(piece, set())
        for o, x in placements(piece).tolist():
            assert (reference.place(tall, piece, o, x)[0] is None) == ((o, x) not in allowed)
    # T overflows by one row but completes row 9, which is removed first: allowed (MdpTetris default)
    top = make_board("#######...", *[".#########"] * 9, height=10)
    _, lines = afterstates(top, "T", "bt")
    assert lines[placements("T").tolist().index([0, 7])] == 1
    assert reference.place(top, 2, 0, 7)[0] is not None
    assert reference.place(top, 2, 2, 7)[0] is None  # flat side up: the row is not completed


def test_games_end_and_respect_the_piece_cap():
    lines, pieces = play_games(np.zeros(22), "bt", 10, np.arange(5))
    assert np.all(pieces > 0) and np.all(pieces < 100)  # all-zero weights: leftmost placement
    lines, pieces = play_games(DELLACHERIE, "dt", 10, [1, 2], max_pieces=37)
    np.testing.assert_array_equal(pieces, [37, 37])


# --- piece generator -----------------------------------------------------------------------------

def test_piece_sequences_are_deterministic_uniform_and_platform_independent():
    first = piece_sequence(0, 20)
    np.testing.assert_array_equal(first, [2, 1, 2, 4, 2, 2, 1, 2, 1, 5, 5, 4, 1, 1, 2, 6, 4, 6, 6, 6])
    np.testing.assert_array_equal(first, reference.piece_sequence(0, 20))  # pure-Python splitmix64
    np.testing.assert_array_equal(piece_sequence(-5, 50), reference.piece_sequence(-5, 50))
    np.testing.assert_array_equal(piece_sequence(7, 1000), piece_sequence(7, 1000))
    assert not np.array_equal(piece_sequence(7, 50), piece_sequence(8, 50))
    counts = np.bincount(piece_sequence(123, 70_000), minlength=7)
    chi2 = ((counts - 10_000) ** 2 / 10_000).sum()
    assert counts.min() > 0 and chi2 < 22.5  # p ~ 0.001 for 6 degrees of freedom


# --- compiled engine == reference ----------------------------------------------------------------

def test_compiled_features_and_moves_match_the_reference_on_random_boards():
    rng = np.random.default_rng(0)
    checked = 0
    for board in random_boards(rng, 24):
        for fs in FEATURE_SETS:
            np.testing.assert_array_equal(board_features(board, fs, 1.5, 6), reference.features(board, fs, 1.5, 6))
        for piece in range(7):
            for fs in FEATURE_SETS:
                feats, lines = afterstates(board, piece, fs)
                for i, (ref_feats, ref_lines, _) in enumerate(reference.afterstates(board, piece, fs)):
                    if ref_feats is None:
                        assert lines[i] == -1 and np.isnan(feats[i]).all()
                    else:
                        assert lines[i] == ref_lines
                        np.testing.assert_array_equal(feats[i], ref_feats)
                    checked += 1
            for i, (o, x) in enumerate(placements(piece)[::5]):
                ref = reference.place(board, piece, o, x)
                if ref[0] is not None:
                    got = engine_place(board, piece, o, x)
                    np.testing.assert_array_equal(got[0], ref[0])
                    assert got[1:] == ref[1:]
    assert checked > 5000


@pytest.mark.parametrize("fs, weights", [("dt", DELLACHERIE), ("bt", SIMPLE_BT * 0.37),
                                         ("dt", np.random.default_rng(3).normal(size=8))])
def test_compiled_games_match_reference_games(fs, weights):
    for seed in (0, 11):
        lines, pieces = play_games(weights, fs, 10, [seed], max_pieces=60)
        assert (lines[0], pieces[0]) == reference.play_game(weights, fs, 10, seed, max_pieces=60)


# --- policy quality --------------------------------------------------------------------------------

def test_a_simple_policy_clears_many_lines_and_random_weights_few():
    seeds = np.arange(8)
    good_dt = np.median(play_games(DELLACHERIE, "dt", 10, seeds, max_pieces=3000)[0])
    good_bt = np.median(play_games(SIMPLE_BT, "bt", 10, seeds, max_pieces=3000)[0])
    rng = np.random.default_rng(0)
    random = [np.median(play_games(rng.normal(size=FEATURE_SETS[fs]), fs, 10, seeds, max_pieces=3000)[0])
              for fs in ("bt", "dt") for _ in range(5)]
    assert good_dt > 300 and good_bt > 40
    assert np.median(random) < 10 and max(random) < good_bt


# --- gymnasium wrapper -----------------------------------------------------------------------------

@pytest.mark.parametrize("fs, weights", [("dt", DELLACHERIE), ("bt", SIMPLE_BT), ("bt", np.zeros(22))])
def test_env_with_the_greedy_policy_replays_play_games(fs, weights):
    env = TetrisEnv(height=10, features=fs)
    for seed in (4, 9):
        obs, info = env.reset(seed=seed)
        assert env.observation_space.contains(obs) and obs[-7:].sum() == 1 and obs[-7 + info["piece"]] == 1
        total, steps, terminated = 0.0, 0, False
        while not terminated and steps < 300:
            feats, lines = afterstates(env.board, info["piece"], fs)
            np.testing.assert_array_equal(info["action_mask"], np.r_[lines >= 0, np.zeros(34 - len(lines), bool)])
            action = env.best_placement(weights)
            obs, reward, terminated, truncated, info = env.step(action)
            assert reward == lines[action] and not truncated and env.observation_space.contains(obs)
            np.testing.assert_array_equal(obs[:-7], feats[action])  # the afterstate is the new board
            total += reward
            steps += 1
        lines, pieces = play_games(weights, fs, 10, [seed], max_pieces=300)
        assert (total, steps) == (lines[0], pieces[0]) == (info["lines"], info["pieces"])
        assert terminated == (steps < 300) and terminated == (not info["action_mask"].any())


def test_env_invalid_and_losing_moves_terminate():
    env = TetrisEnv(height=20, features="bt", max_pieces=5)
    obs, info = env.reset(seed=1)
    assert info["piece"] == piece_sequence(1, 1)[0] and env.action_space.n == 34
    _, reward, terminated, _, _ = env.step(NUM_PLACEMENTS[info["piece"]])  # index past its placements
    assert terminated and reward == 0
    with pytest.raises(RuntimeError):
        env.step(0)
    env.reset(seed=1)
    for _ in range(5):
        _, _, terminated, truncated, _ = env.step(0)
    assert truncated and not terminated
    env = TetrisEnv(height=4)
    _, info = env.reset(seed=2)
    for _ in range(50):
        losing = np.flatnonzero(~info["action_mask"][:NUM_PLACEMENTS[info["piece"]]])
        if losing.size:
            break
        _, _, terminated, _, info = env.step(0)
        assert not terminated
    board = env.board.copy()
    _, reward, terminated, _, _ = env.step(losing[0])
    assert terminated and reward == 0 and np.array_equal(env.board, board)


def test_env_passes_the_gymnasium_checker():
    from gymnasium.utils.env_checker import check_env
    check_env(TetrisEnv(height=20, features="dt"), skip_render_check=True)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="feature set"):
        play_games(np.zeros(22), "xx", 20, [0])
    with pytest.raises(ValueError, match="needs"):
        play_games(np.zeros(8), "bt", 20, [0])
    with pytest.raises(ValueError, match="height"):
        TetrisEnv(height=3)
    with pytest.raises(ValueError, match="full row"):
        board_features(make_board("##########"), "bt")
