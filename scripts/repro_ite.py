"""Damage recovery with Intelligent Trial & Error on a MAP-Elites gait archive (Cully et al. 2015).

For each damage (default: each single leg removed), runs ``mpies adapt FILE --damage D`` and reads
``/adaptation/D`` back: trials used, the best distance found on the damaged robot as a fraction of
the best undamaged gait, and the same fraction for simply replaying the best undamaged gait on the
damaged robot (the baseline).

Reproduce (after ``mpiexec -n 2 mpies run ant-map-elites -o ant.h5``):
    python scripts/repro_ite.py ant.h5 [--damages leg=0 leg=1 leg=2 leg=3]
Writes bench-results/repro_ite.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import h5py

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="run file of a finished MAP-Elites run")
    parser.add_argument("--damages", nargs="+", default=[f"leg={k}" for k in range(4)])
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "repro_ite.json")
    args = parser.parse_args()

    rows = []
    for damage in args.damages:
        proc = subprocess.run([sys.executable, "-m", "mpies", "adapt", str(args.path), "--damage", damage],
                              capture_output=True, text=True)
        if proc.returncode:
            print(proc.stdout + proc.stderr, file=sys.stderr)
            return proc.returncode
        with h5py.File(args.path, "r") as f:
            group = f[f"adaptation/{damage}"]
            a = dict(group.attrs)
            undamaged_best = float(f["archive/fitness"][()].max())
        rows.append({"damage": damage, "trials": int(a["trials"]), "stop": str(a["stop_reason"]),
                     "best_undamaged": undamaged_best, "recovered": float(a["best_measured"]),
                     "recovered_fraction": float(a["best_measured"]) / undamaged_best,
                     "baseline": float(a["baseline"]), "baseline_fraction": float(a["baseline"]) / undamaged_best})

    header = f"{'damage':<8} {'trials':>6} {'stop':<10} {'recovered m':>11} {'fraction':>8} {'replay best m':>13} {'fraction':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['damage']:<8} {r['trials']:>6} {r['stop']:<10} {r['recovered']:>11.3f} {r['recovered_fraction']:>8.2f} "
              f"{r['baseline']:>13.3f} {r['baseline_fraction']:>8.2f}")
    print(f"best undamaged gait: {rows[0]['best_undamaged']:.3f} m in the archive")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"file": str(args.path), "results": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
