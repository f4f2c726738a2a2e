"""Optional dependencies come as extras; a missing one is one line that names the extra."""

import configparser
import subprocess
import sys
from pathlib import Path

import pytest

from mpies.extras import EXTRAS

ROOT = Path(__file__).resolve().parents[1]


def test_setup_cfg_declares_every_extra_and_all_of_them():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    extras = parser["options.extras_require"]
    assert set(EXTRAS) <= set(extras)
    assert extras["all"].strip() == f"mpies[{','.join(EXTRAS)}]"
    core = parser["options"]["install_requires"]
    assert "numba" not in core and "matplotlib" not in core and "mujoco" not in core


def run_without(module: str, code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter in which ``import module`` fails."""
    prelude = f"import sys; sys.modules[{module!r}] = None\n"
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("module, extra, code", [
    ("numba", "tetris", "from mpies import config; from mpies.tasks import make_task\n"
                        "make_task(config.from_dict({'algorithm': 'cem', 'env': 'tetris'}))"),
    ("mujoco", "mujoco", "from mpies.envs import make_env; make_env('Hopper-v5')"),
    ("mujoco", "mujoco", "from mpies.envs.ant import AntGait; AntGait()"),
    ("Box2D", "box2d", "from mpies.envs import make_env; make_env('LunarLander-v3')"),
])
def test_a_missing_extra_is_a_config_error_naming_it(module, extra, code):
    out = run_without(module, "from mpies.config import ConfigError\ntry:\n    "
                      + code.replace("\n", "\n    ") + "\nexcept ConfigError as exc:\n    print(exc)")
    assert out.returncode == 0, out.stderr
    assert f"pip install 'mpies[{extra}]'" in out.stdout and len(out.stdout.splitlines()) == 1, out.stdout


def test_plot_without_matplotlib_exits_2_with_one_line(tmp_path):
    out = run_without("matplotlib", "from mpies.cli import main; main(['plot', '--help'])")
    assert out.returncode == 0  # help needs no matplotlib
    missing = tmp_path / "x.h5"
    missing.write_bytes(b"")
    out = run_without("matplotlib", f"from mpies.cli import main; main(['plot', {str(missing)!r}])")
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and "mpies[plot]" in lines[0], out.stderr


def test_the_core_install_runs_and_inspects_a_classic_control_job(tmp_path):
    hidden = "".join(f"sys.modules[{m!r}] = None; " for m in ("numba", "matplotlib", "mujoco", "Box2D", "imageio"))
    out = tmp_path / "core.h5"
    for args in (["--help"], ["run", "cartpole", "--set", "generations=2", "-o", str(out)], ["inspect", str(out)]):
        code = f"import sys; {hidden}\nfrom mpies.cli import main\nmain({args!r})"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (args, proc.stderr)
    assert "CartPole-v1" in proc.stdout and "finished" in proc.stdout
