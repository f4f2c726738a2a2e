"""Kill -9 a random rank of a live 2-rank run at random moments, then resume; count what was lost.

Each trial starts ``mpiexec -n 2 mpies run`` on a CartPole whose steps sleep 1 ms (so generations
last ~0.5 s) with a 67k-parameter policy and a checkpoint every generation (~3 MB written each
time, so some kills land inside a checkpoint write), waits until the run has written a random
number of generations, sleeps a random fraction of a generation, SIGKILLs one rank chosen at
random, and then checks:

* the job exits non-zero, and how fast;
* whether the file opens in plain h5py / h5dump (a kill inside a write leaves HDF5's consistency
  flags set: mpies still reads it and ``mpies resume`` repairs it);
* how many generations were lost (written before the kill, but after the last checkpoint);
* that ``mpies resume`` ends bitwise equal to an uninterrupted run.

Reproduce: ``python scripts/fault_injection.py --trials 20`` (about 15 s a trial on 2 cores).
Writes bench-results/fault_injection.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CONFIG = """
env = "mpies_test_envs:SleepyCartPole-v0"
env_kwargs = {delay = 0.001}
seed = 11
generations = 10
[policy]
hidden = [256, 256]
[strategy]
population = 12
sigma = 0.1
learning_rate = 0.05
[noise]
table_size = 200000
[rollout]
max_steps = 60
eval_every = 2
eval_episodes = 3
[output]
checkpoint_every = 1
"""


def environment() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), env.get("PYTHONPATH", "")])
    return env


def mpies(*args, ranks: int | None = 2) -> list[str]:
    base = [sys.executable, "-m", "mpies", *map(str, args)]
    return base if ranks is None else ["mpiexec", "-n", str(ranks), *base]


def rows(path: Path) -> int:
    try:
        with h5py.File(path, "r", swmr=True, locking=False) as f:
            return f["history"].shape[0]
    except (OSError, KeyError):
        return 0


def rank_pids(marker: str) -> list[int]:
    """PIDs of the python ranks whose command line contains ``marker`` (not mpiexec itself)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker.encode() in b" ".join(argv) and b"python" in Path(argv[0].decode()).name.encode():
            pids.append(int(entry.name))
    return sorted(pids)


def final_state(path: Path) -> dict[str, np.ndarray]:
    sys.path.insert(0, str(ROOT))
    from mpies.io import open_run, read_history, read_state
    from mpies.io.schema import deterministic_fields
    with open_run(path) as f:
        _, state = read_state(f)
        history = read_history(f)
    return {**state, **{f"history/{k}": history[k] for k in deterministic_fields(history.dtype)}}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.asarray(a[k]).tobytes() == np.asarray(b[k]).tobytes() for k in a)


def trial(workdir: Path, config: Path, reference: dict, rng: random.Random, index: int) -> dict:
    out = workdir / f"killed{index}.h5"
    proc = subprocess.Popen(mpies("run", config, "-o", out), env=environment(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    target = rng.randint(1, 8)
    deadline = time.time() + 120
    while rows(out) < target and time.time() < deadline:
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, 0.6))
    pids = rank_pids(str(out))
    victim_rank = rng.randrange(len(pids))
    os.kill(pids[victim_rank], signal.SIGKILL)
    killed = time.time()
    proc.communicate(timeout=60)
    exit_seconds = time.time() - killed
    try:
        h5py.File(out, "r").close()
        clean = True
    except OSError:
        clean = False
    with h5py.File(out, "r", swmr=True, locking=False) as f:
        written, checkpoint = f["history"].shape[0], int(f["state/pointer"][1])
    resumed = subprocess.run(mpies("resume", out), env=environment(), capture_output=True, text=True)
    return {"trial": index, "killed_rank": victim_rank, "exit_code": proc.returncode,
            "exit_seconds": round(exit_seconds, 2), "file_clean": clean, "rows_written": written,
            "checkpoint_generation": checkpoint, "generations_lost": written - checkpoint,
            "resume_exit_code": resumed.returncode,
            "equal_to_uninterrupted": resumed.returncode == 0 and same(reference, final_state(out))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments and victims")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "fault_injection.json")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="mpies-faults-") as tmp:
        workdir = Path(tmp)
        config = workdir / "faults.toml"
        config.write_text(CONFIG)
        straight = workdir / "straight.h5"
        subprocess.run(mpies("run", config, "-o", straight), env=environment(), check=True, capture_output=True)
        reference = final_state(straight)
        results = []
        for i in range(args.trials):
            results.append(trial(workdir, config, reference, rng, i))
            print(json.dumps(results[-1]), flush=True)
    summary = {
        "trials": len(results),
        "job_ended_nonzero": sum(r["exit_code"] != 0 for r in results),
        "max_exit_seconds": max(r["exit_seconds"] for r in results),
        "file_clean_for_h5dump": sum(r["file_clean"] for r in results),
        "resumed_equal": sum(r["equal_to_uninterrupted"] for r in results),
        "generations_lost_max": max(r["generations_lost"] for r in results),
    }
    print("\n" + "\n".join(f"{k:<24} {v}" for k, v in summary.items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "trials": results}, indent=1))
    ok = summary["job_ended_nonzero"] == summary["resumed_equal"] == len(results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
