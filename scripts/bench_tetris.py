#!/usr/bin/env python
"""Tetris placements scored per second on one core: the compiled engine against the plain
numpy reference, for both feature sets.

What is measured
    Whole games of research Tetris (``mpies.envs.tetris``) on a 10 x ``--height`` board, played
    by the greedy linear policy with a fixed weight vector:

    dt   Dellacherie's hand-tuned weights: -1 landing height, +1 eroded cells, -1 row transitions,
         -1 column transitions, -4 holes, -1 wells (0 for hole depth and rows with holes).
    bt   a Bertsekas-Tsitsiklis vector from a short noisy-CEM run on the 10 x 10 board (25
         iterations of 100 samples): heights, |differences|, max height, holes, constant below.
         It clears a median of a few thousand lines per game on 10 x 20.

    compiled   ``mpies.envs.tetris.play_games(weights, fs, height, seeds, max_pieces)``: one
               call plays ``--games`` games (seeds 0..games-1) of at most ``--pieces`` pieces
               each, timed with ``time.perf_counter`` after one untimed warm-up call (numba
               compilation or cache load); repeated ``--rounds`` times, median reported.
    reference  ``mpies.envs.tetris.reference.play_game``, the straightforward numpy version (one
               afterstate board and its features built cell by cell per placement), one game
               of at most ``--reference-pieces`` pieces (seed 0), timed once.

    A *placement* is one (orientation, column) candidate evaluated: every placement of every
    piece drawn, so a game of p pieces evaluates the 9 to 34 placements of each of its p pieces,
    plus those of the piece that found no non-losing placement when the game was lost. The counts
    come from the games' piece sequences (``piece_sequence``). placements/s = placements / seconds
    of the timed call(s); single process, single thread: this is the per-core rate. Target: the
    compiled engine scores >= 10 million placements per second with bt features. Speed is never
    asserted.

Machine load
    Each script samples, from /proc/stat, how many cores other processes keep busy just before and
    during the measurement and prints a WARNING when that is above 0.2 cores: numbers taken next
    to other work (another MPI job, a test suite) are slower and noisier than the code deserves.

Reproduce
    python scripts/bench_tetris.py                 # 10 x 20, 10 games x 20000 pieces, 5 rounds
    python scripts/bench_tetris.py --quick         # smoke run, a few seconds
    python scripts/bench_tetris.py --height 10 --features dt

Output: a table on stdout and JSON in bench-results/bench_tetris.json (``--out`` to change).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as common  # noqa: E402  (sets BLAS thread variables before numpy loads)

import numpy as np  # noqa: E402

NAME = "bench_tetris"
WEIGHTS = {
    "dt": [-1.0, 1, -1, -1, -4, -1, 0, 0],
    "bt": [-2.0, -12, -6, -13, -13, -8, -8, -14, -15, 7,  # column heights
           -12, -8, -13, -10, -11, -13, -13, -13, -16,    # |height differences|
           -10, -61, 0],                                   # max height, holes, constant
}
TARGET = 10e6  # bt placements per second, compiled


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                epilog="See the module docstring (top of this file) for the method.")
    p.add_argument("--height", type=int, default=20, help="board height (width is 10)")
    p.add_argument("--features", nargs="+", default=["bt", "dt"], choices=["bt", "dt"],
                   help="feature sets to time")
    p.add_argument("--games", type=int, default=10, help="games per compiled call (seeds 0..games-1)")
    p.add_argument("--pieces", type=int, default=20_000, help="piece cap per compiled game")
    p.add_argument("--rounds", type=int, default=5, help="timed compiled calls per feature set")
    p.add_argument("--reference-pieces", type=int, default=200, help="piece cap of the reference game")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 3 games x 2000 pieces, 2 rounds, reference 20 pieces")
    common.add_common_options(p, NAME)
    args = p.parse_args(argv)
    if args.quick:
        args.games, args.pieces, args.rounds, args.reference_pieces = 3, 2000, 2, 20
    if min(args.games, args.pieces, args.rounds, args.reference_pieces) < 1:
        p.error("--games, --pieces, --rounds and --reference-pieces must be >= 1")
    if args.height < 4:
        p.error("--height must be >= 4")
    return args


def placements_evaluated(seed: int, pieces: int, cap: int) -> int:
    """Candidates a game of ``pieces`` placements evaluated (plus the losing piece's, if it was lost)."""
    from mpies.envs.tetris import piece_sequence
    from mpies.envs.tetris.pieces import NUM_PLACEMENTS

    drawn = pieces if pieces == cap else pieces + 1
    return int(NUM_PLACEMENTS[piece_sequence(seed, drawn)].sum())


def time_compiled(fs: str, args) -> dict:
    from mpies.envs.tetris import play_games

    weights, seeds = np.array(WEIGHTS[fs]), np.arange(args.games)
    t0 = time.perf_counter()
    play_games(weights, fs, args.height, seeds[:1], 10)
    warmup = time.perf_counter() - t0
    seconds = []
    for r in range(args.rounds):
        t0 = time.perf_counter()
        lines, pieces = play_games(weights, fs, args.height, seeds, args.pieces)
        seconds.append(time.perf_counter() - t0)
        print(f"  {fs} compiled round {r}: {pieces.sum():,} pieces in {seconds[-1]:.3f} s")
    count = sum(placements_evaluated(s, int(p), args.pieces) for s, p in zip(seeds, pieces))
    med = common.median(seconds)
    return {"warmup_seconds": warmup, "seconds": seconds, "median_seconds": med,
            "placements": count, "pieces": int(pieces.sum()), "games": args.games,
            "piece_cap": args.pieces, "lines_per_game": lines.tolist(),
            "median_lines": common.median(lines.tolist()), "games_capped": int((pieces == args.pieces).sum()),
            "placements_per_second": count / med, "pieces_per_second": pieces.sum() / med}


def time_reference(fs: str, args) -> dict:
    from mpies.envs.tetris import reference

    t0 = time.perf_counter()
    lines, pieces = reference.play_game(np.array(WEIGHTS[fs]), fs, args.height, 0, args.reference_pieces)
    seconds = time.perf_counter() - t0
    count = placements_evaluated(0, pieces, args.reference_pieces)
    print(f"  {fs} reference: {pieces:,} pieces in {seconds:.3f} s")
    return {"seconds": [seconds], "median_seconds": seconds, "placements": count, "pieces": pieces,
            "games": 1, "piece_cap": args.reference_pieces, "lines_per_game": [lines],
            "median_lines": float(lines), "games_capped": int(pieces == args.reference_pieces),
            "placements_per_second": count / seconds, "pieces_per_second": pieces / seconds}


def main(argv=None) -> dict:
    args = parse_args(argv)
    print(f"{NAME}: 10 x {args.height} board, feature sets {args.features}; compiled {args.games} games x "
          f"<= {args.pieces:,} pieces, {args.rounds} rounds; reference 1 game x <= {args.reference_pieces} pieces")
    if args.wait_quiet:
        common.wait_quiet(args.wait_quiet)
    before = common.idle_check()
    monitor = common.CpuMonitor().start()
    results = {fs: {"compiled": time_compiled(fs, args), "reference": time_reference(fs, args)}
               for fs in args.features}
    load = dict(monitor.stop(), before=before)

    rows = []
    for fs, r in results.items():
        speedup = r["compiled"]["placements_per_second"] / r["reference"]["placements_per_second"]
        r["speedup"] = speedup
        for engine, m in r.items():
            if engine == "speedup":
                continue
            rows.append([f"{fs} {engine}", f"{m['games']} x {m['piece_cap']:,}", f"{m['pieces']:,}",
                         f"{m['placements']:,}", f"{m['median_seconds']:.3f}",
                         f"{m['placements_per_second'] / 1e6:.3f}", f"{m['pieces_per_second']:,.0f}",
                         f"{m['median_lines']:,.0f}", f"{speedup:,.0f}x" if engine == "compiled" else ""])
    table = common.format_table(
        ["features engine", "games x cap", "pieces", "placements", "seconds", "M placements/s",
         "pieces/s", "median lines", "speedup"], rows,
        title=f"\nplacements scored per second, one core, 10 x {args.height} board (compiled: median of "
              f"{args.rounds} rounds)")
    print(table)
    measured = results["bt"]["compiled"]["placements_per_second"] if "bt" in results else float("nan")
    print(f"target compiled bt >= {TARGET / 1e6:.0f}M placements/s: {measured / 1e6:.2f}M -> "
          f"{common.check(measured, TARGET)}")
    print(common.contamination_line(load))

    payload = {
        "benchmark": NAME,
        "description": "Tetris (orientation, column) placements scored per second per core, compiled "
                       "numba engine vs plain numpy reference, bt and dt features",
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "weights": {fs: WEIGHTS[fs] for fs in args.features},
        "results": results,
        "target": {"metric": "compiled bt placements per second", "value": TARGET, "measured": measured},
        "machine_load": load,
        "environment": dict(common.environment(), numba=__import__("numba").__version__),
        "table": table,
    }
    common.write_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
