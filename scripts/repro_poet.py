"""POET at reduced scale on this machine, then direct ES from scratch at the same compute.

1. ``mpiexec -n R mpies run poet-small``: pairs created, transfers accepted, each pair's terrain
   and scores, the hardest terrain solved (score >= strategy.solved_score).
2. Direct ES: one pair on the hardest terrain POET solved (else the hardest it created), no
   mutation and no transfers, for as many ES steps as POET took over all its pairs.

Reproduce:
    python scripts/repro_poet.py [--ranks 2] [--config poet-small] [--set KEY=VALUE ...]
Writes bench-results/repro_poet.json and the two run files next to it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import _bench_common as common
import h5py
import numpy as np

from mpies import config as config_mod
from mpies.io import poet_tables
from mpies.poet.summary import hardest_solved, pair_summaries


def _run(cmd: list[str]) -> float:
    print("$", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0


def _read(path: Path):
    with h5py.File(path, "r") as f:
        events, scores = poet_tables.read(f)
        return events, scores, int(f["history"]["env_steps"][-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--config", default="poet-small")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--skip-direct", action="store_true", help="only the POET run")
    common.add_common_options(parser, "repro_poet")
    args = parser.parse_args()
    cfg = config_mod.load(args.config, args.overrides)
    out_dir = args.out.parent
    launch = ["mpiexec", "-n", str(args.ranks), sys.executable, "-m", "mpies", "run", args.config, "--overwrite"]
    launch += [f"--set={o}" for o in args.overrides]

    poet_file = out_dir / "repro_poet.h5"
    poet_seconds = _run(launch + ["-o", str(poet_file)])
    events, scores, poet_steps = _read(poet_file)
    pairs = pair_summaries(events, scores)
    solved_score = cfg.strategy.solved_score
    hardest = hardest_solved(pairs, solved_score)
    kinds = events["kind"]
    result = {
        "config": args.config, "overrides": args.overrides, "ranks": args.ranks,
        "iterations": cfg.generations, "poet_seconds": poet_seconds, "poet_env_steps": poet_steps,
        "pairs_created": int((kinds == b"created").sum()) - 1,
        "transfers_accepted": int(np.char.startswith(kinds, b"transfer").sum()),
        "pairs_removed": int((kinds == b"removed").sum()), "pairs": pairs,
        "hardest_solved": hardest, "solved_score": solved_score, "environment": common.environment(),
    }
    rows = [[p["pair_id"], p["parent_id"], p["created_at"], p["describe"], p["difficulty"],
             f"{p['score']:.1f}", f"{p['best_score']:.1f}", p["transfers_in"]] for p in pairs]
    print(common.format_table(["pair", "parent", "created", "terrain", "difficulty", "score", "best", "transfers in"],
                              rows, title=f"POET, {cfg.generations} iterations on {args.ranks} ranks, "
                                          f"{poet_seconds / 60:.1f} min, {poet_steps / 1e6:.1f}M env steps"))
    print(f"pairs created {result['pairs_created']}, transfers accepted {result['transfers_accepted']}, "
          f"hardest terrain solved (>= {solved_score:g}): {hardest['describe'] if hardest else 'none'}")

    if not args.skip_direct:
        target = hardest or max(pairs, key=lambda p: (p["difficulty_level"], float(np.linalg.norm(p["terrain"]))))
        es_steps = int(scores.shape[0])  # one ES step per pair and iteration
        direct_file = out_dir / "repro_poet_direct.h5"
        terrain = "[" + ",".join(repr(v) for v in target["terrain"]) + "]"
        direct_seconds = _run(launch + ["-o", str(direct_file), f"--set=generations={es_steps}",
                                        f"--set=strategy.initial_terrain={terrain}",
                                        f"--set=strategy.initial_terrain_seed={target['terrain_seed']}",
                                        f"--set=strategy.mutate_every={es_steps + 1}"])
        _, direct_scores, direct_steps = _read(direct_file)
        result["direct"] = {"terrain": target["describe"], "es_steps": es_steps, "seconds": direct_seconds,
                            "env_steps": direct_steps, "best_score": float(np.nanmax(direct_scores["score"])),
                            "final_score": float(direct_scores["score"][-1]),
                            "poet_best_score": target["best_score"]}
        d = result["direct"]
        print(common.format_table(
            ["method", "ES steps", "env steps (M)", "best score", "final score"],
            [["POET (pair on this terrain)", "-", f"{poet_steps / 1e6:.1f} (all pairs)", f"{target['best_score']:.1f}",
              f"{target['score']:.1f}"],
             ["direct ES from scratch", es_steps, f"{direct_steps / 1e6:.1f}", f"{d['best_score']:.1f}",
              f"{d['final_score']:.1f}"]],
            title=f"terrain {target['describe']} ({target['difficulty']})"))
    common.write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
