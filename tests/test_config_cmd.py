"""`mpies config` (shipped configs to copy), `mpies envs` (every environment and task) and the
command summaries of `mpies --help`, whole."""

import json
import re
import subprocess
import sys
import tomllib

from click.testing import CliRunner

from conftest import one_line_error, subprocess_env
from mpies import config as config_mod
from mpies.cli import main
from mpies.cli.config_cmd import summary_line


def test_config_prints_a_shipped_config_that_loads_as_it(tmp_path):
    result = CliRunner().invoke(main, ["config", "cartpole"])
    assert result.exit_code == 0
    assert result.output == config_mod.shipped_configs()["cartpole"]
    copy = tmp_path / "my.toml"
    copy.write_text(result.output)
    assert config_mod.to_toml(config_mod.load(str(copy))) == config_mod.to_toml(config_mod.load("cartpole")).replace(
        'name = "cartpole"', 'name = "my"')


def test_config_lists_every_shipped_config_with_its_first_comment_line_aligned():
    shipped = config_mod.shipped_configs()
    for args in ([], ["--list"]):
        result = CliRunner().invoke(main, ["config", *args])
        assert result.exit_code == 0
        rows = result.output.splitlines()[1:]
        assert [row.split()[0] for row in rows] == sorted(shipped)
        starts = {re.search(r"^  \S+ +", row).end() for row in rows}
        assert len(starts) == 1  # one column for the descriptions
        start = starts.pop()
        for row, name in zip(rows, sorted(shipped)):
            assert row[start:] and summary_line(shipped[name]).startswith(row[start:].removesuffix("...")), row
    assert summary_line("# CartPole: balance\nalgorithm = 'x'\n# later") == "CartPole: balance"
    assert summary_line("env = 'x'\n# not the first line") == ""


def test_an_unknown_config_is_one_line_with_close_matches():
    result = CliRunner().invoke(main, ["config", "cartpol"])
    one_line_error(result, "'cartpol'", "did you mean 'cartpole'", "`mpies config` lists them")
    result = CliRunner().invoke(main, ["config", "zzzz"])
    one_line_error(result, "'zzzz'")
    assert "did you mean" not in result.output


def test_envs_lists_every_task_in_aligned_columns():
    from mpies.envs import FAMILIES

    result = CliRunner().invoke(main, ["envs"])
    assert result.exit_code == 0
    table = result.output.split("\n\n")[0].splitlines()[1:]
    header, rows = table[0], {row.split()[0]: row for row in table[1:]}
    names = [name for ids in FAMILIES.values() for name in ids] + ["fn:NAME", "tetris", "arm", "ant",
                                                                    "bipedal_terrain"]
    assert list(rows) == names
    for column in ("EXTRA", "WHAT", "SHIPPED CONFIGS"):
        start = header.index(column)
        assert all(row[start - 2:start] == "  " and row[start] != " " for row in rows.values()), column
    extra = header.index("EXTRA")
    assert [rows[n][extra:].split()[0] for n in ("CartPole-v1", "LunarLander-v3", "Hopper-v5", "tetris",
                                                  "arm", "ant", "bipedal_terrain")] == \
        ["-", "box2d", "mujoco", "tetris", "-", "mujoco", "box2d"]
    assert rows["bipedal_terrain"].endswith("poet, poet-small") and "cartpole-ars" in rows["CartPole-v1"]
    assert '{height = 20, features = "bt", max_pieces = 0}' in result.output
    for text in config_mod.shipped_configs().values():  # every shipped config's env is listed
        env = tomllib.loads(text)["env"]
        assert env in rows or env.startswith("fn:")


def test_help_summaries_are_whole():
    result = CliRunner().invoke(main, ["--help"])
    commands = result.output.split("Commands:\n")[1].splitlines()
    assert {line.split()[0] for line in commands} == {"adapt", "config", "doctor", "envs", "eval", "inspect",
                                                      "plot", "resume", "run"}
    for line in commands:
        assert not line.endswith("...") and line.endswith("."), line


HEAVY = ("numpy", "h5py", "gymnasium", "mpi4py", "matplotlib", "numba", "mujoco", "Box2D")


def _modules_after(code: str) -> set[str]:
    """Top-level modules a fresh interpreter holds after running ``code``."""
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                         env=subprocess_env())
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_mpies_help_imports_no_heavy_module():
    held = _modules_after("from mpies.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass")
    assert not held & set(HEAVY), held & set(HEAVY)


def test_a_cartpole_run_imports_no_optional_extra():
    held = _modules_after("import os, tempfile\nimport mpies\n"
                          "mpies.run('cartpole', generations=1, path=os.path.join(tempfile.mkdtemp(), 'a.h5'),"
                          " log=lambda line: None)")
    assert not held & {"matplotlib", "numba", "mujoco", "Box2D", "imageio"}, held

