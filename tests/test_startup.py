"""``scripts/bench_startup.py`` at one rank (so it cannot rot): what a rank imports to run CartPole."""

import json
import subprocess
import sys
from pathlib import Path

from conftest import subprocess_env

REPO = Path(__file__).resolve().parent.parent


def test_bench_startup_one_rank(tmp_path):
    out = tmp_path / "startup.json"
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_startup.py"), "--ranks", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(out.read_text())
    (run,) = payload["runs"]
    assert run["optional_extras"] == [] and run["module_files"] > payload["help"]["module_files"] > 0
    assert 0 < run["import_seconds_max"] < run["first_generation_seconds"]
