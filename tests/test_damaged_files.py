"""Damaged run files and a disk that fills: every command ends within seconds with one line, and
the file is left byte for byte as it was.

A module fixture makes one real run file through the CLI, then damages copies of it: flipped
bytes in the superblock and in object headers (found by address, so they hit checksummed
metadata), truncations, and edits with h5py (attributes, the pointer, state arrays, the
history). Each variant is given to ``mpies inspect``, ``eval``, ``plot`` and ``resume`` in a real
process; the subprocess timeout is what catches a hang (these used to hang for hours in HDF5's
SWMR retries, deaf to Ctrl-C). Damage to raw data (HDF5 keeps no checksum of it) cannot be
detected and is not a case here.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable, NamedTuple

import h5py
import numpy as np
import pytest

from conftest import one_line_error, run_mpies, subprocess_env
from mpies.io.schema import history_dtype
from mpies.io.writer import WRITE_BYTES

CONFIG = """
algorithm = "openai_es"
env = "fn:sphere"
env_kwargs = {dim = 5}
seed = 1
generations = 300

[strategy]
population = 8

[noise]
table_size = 10000

[rollout]
eval_every = 2

[output]
checkpoint_every = 2
"""
DONE = 4  # generations in the fixture's file: checkpoints at 2 (slot 0) and 4 (slot 1)
HANG = 60  # seconds after which a command counts as hung (it takes about one on this machine)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- damage
def flip(offset: int, count: int = 1) -> Callable:
    """Invert ``count`` bytes from ``offset`` (an int, or a function of the pristine file)."""
    def make(pristine: Path, out: Path) -> None:
        data = bytearray(pristine.read_bytes())
        start = offset(pristine) if callable(offset) else offset
        data[start:start + count] = bytes(b ^ 0xFF for b in data[start:start + count])
        out.write_bytes(data)
    return make


def header_of(name: str) -> Callable[[Path], int]:
    """A byte inside the object header of ``name`` (past its signature and version)."""
    def offset(pristine: Path) -> int:
        with h5py.File(pristine, "r") as f:
            return h5py.h5o.get_info(f[name].id).addr + 8
    return offset


def cut(size: Callable[[int], int]) -> Callable:
    def make(pristine: Path, out: Path) -> None:
        data = pristine.read_bytes()
        out.write_bytes(data[: size(len(data))])
    return make


def edit(change: Callable[[h5py.File], None]) -> Callable:
    def make(pristine: Path, out: Path) -> None:
        shutil.copy(pristine, out)
        with h5py.File(out, "r+") as f:
            change(f)
    return make


def pointed_slot(f: h5py.File) -> list[str]:
    return [f"state/slot{int(f['state/pointer'][0])}"]


def both_slots(f: h5py.File) -> list[str]:
    return ["state/slot0", "state/slot1"]


def replace(name: str, value, groups=pointed_slot) -> Callable[[h5py.File], None]:
    """Replace dataset ``name`` of each of the ``groups(f)`` by ``value``."""
    def change(f: h5py.File) -> None:
        for group in groups(f):
            del f[f"{group}/{name}"]
            f[f"{group}/{name}"] = value
    return change


def root(f: h5py.File) -> list[str]:
    return ["/"]


def delete(name: str, groups=root) -> Callable[[h5py.File], None]:
    """Delete ``name`` (an attribute or an object) of each of the ``groups(f)``."""
    def change(f: h5py.File) -> None:
        for group in map(f.__getitem__, groups(f)):
            if name in group.attrs:
                del group.attrs[name]
            else:
                del group[name]
    return change


def set_attr(name: str, value) -> Callable[[h5py.File], None]:
    return lambda f: f.attrs.__setitem__(name, value)


def set_pointer(index: int, value: int) -> Callable[[h5py.File], None]:
    return lambda f: f["state/pointer"].__setitem__(index, value)


def new_history(data) -> Callable[[h5py.File], None]:
    def change(f: h5py.File) -> None:
        del f["history"]
        f.create_dataset("history", data=data, maxshape=(None,), chunks=(256,))
    return change


def bare(pristine: Path, out: Path) -> None:
    with h5py.File(out, "w") as f:
        f.attrs["schema_version"] = 2


def directory(pristine: Path, out: Path) -> None:
    out.mkdir()


def killed_in_a_write(then: Callable) -> Callable:
    """A writer killed with the file open in SWMR mode (consistency flags set), then ``then``."""
    def make(pristine: Path, out: Path) -> None:
        then(pristine, out)
        code = ("import h5py, os, signal, sys\n"
                "f = h5py.File(sys.argv[1], 'r+', libver=('v110', 'v110'), locking=False)\n"
                "f.swmr_mode = True\nf.flush()\nos.kill(os.getpid(), signal.SIGKILL)\n")
        assert subprocess.run([sys.executable, "-c", code, str(out)]).returncode == -signal.SIGKILL
    return make


class Variant(NamedTuple):
    make: Callable[[Path, Path], None]
    word: str  # in the one-line message
    commands: tuple[str, ...]


EVERY = ("inspect", "eval", "plot", "resume")
LIGHT = ("inspect", "resume")  # eval and plot take the same path (check_run_file) as inspect
RESUME = ("resume",)  # damage only a resume can see: the file is whole, but not of its config

VARIANTS = {
    "signature": Variant(flip(0), "not an HDF5 file", LIGHT),
    "superblock-version": Variant(flip(8), "damaged", LIGHT),
    "superblock-eof-address": Variant(flip(28), "damaged", LIGHT),
    "superblock-byte-40": Variant(flip(40), "damaged", EVERY),
    "16-bytes-in-slot-header": Variant(flip(header_of("state/slot1"), 16), "damaged", EVERY),
    "16-bytes-in-theta-header": Variant(flip(header_of("state/slot0/strategy/theta"), 16), "damaged", LIGHT),
    "16-bytes-in-history-header": Variant(flip(header_of("history"), 16), "damaged", LIGHT),
    "killed-in-a-write-and-16-bytes": Variant(
        killed_in_a_write(flip(header_of("state/slot0"), 16)), "damaged", LIGHT),
    "cut-at-8-bytes": Variant(cut(lambda n: 8), "damaged", EVERY),
    "cut-after-superblock": Variant(cut(lambda n: 48), "truncated", LIGHT),
    "cut-in-half": Variant(cut(lambda n: n // 2), "truncated", LIGHT),
    "schema-version-99": Variant(edit(set_attr("schema_version", 99)), "schema version 99", EVERY),
    "schema-version-text": Variant(edit(set_attr("schema_version", "two")), "not an mpies run", LIGHT),
    "no-run-structure": Variant(bare, "not an mpies run", EVERY),
    "no-history": Variant(edit(delete("history")), "not an mpies run", LIGHT),
    "history-of-floats": Variant(edit(new_history(np.zeros(DONE))), "/history", EVERY),
    "history-of-another-family": Variant(edit(new_history(np.zeros(DONE, history_dtype("qd")))), "/history", LIGHT),
    "no-status": Variant(edit(delete("status")), "status", EVERY),
    "no-config": Variant(edit(delete("config")), "config", EVERY),
    "config-not-toml": Variant(edit(set_attr("config", "generations = [")), "TOML", LIGHT),
    "no-pointer": Variant(edit(delete("state/pointer")), "pointer", EVERY),
    "pointer-of-floats": Variant(edit(replace("pointer", np.zeros(2), lambda f: ["state"])), "pointer", LIGHT),
    "pointer-to-slot-7": Variant(edit(set_pointer(0, 7)), "slot 7", EVERY),
    "pointer-past-the-history": Variant(edit(set_pointer(1, 10**12)), "generation", LIGHT),
    "no-best": Variant(edit(delete("best")), "/best", LIGHT),
    "slot-without-theta": Variant(edit(delete("state/slot1/strategy/theta")), "theta", EVERY),
    "theta-of-another-shape": Variant(edit(replace("strategy/theta", np.zeros(7))), "theta", EVERY),
    "theta-of-float32": Variant(edit(replace("strategy/theta", np.zeros(5, np.float32))), "theta", LIGHT),
    "both-slots-theta-of-another-shape": Variant(
        edit(replace("strategy/theta", np.zeros(7), both_slots)), "theta", RESUME),
    "both-slots-without-adam-m": Variant(edit(delete("strategy/optimizer/m", both_slots)), "optimizer/m", RESUME),
    "best-params-of-another-shape": Variant(
        edit(replace("params", np.zeros(3), lambda f: ["best"])), "best/params", RESUME),
    "no-num-params": Variant(edit(delete("num_params")), "num_params", RESUME),
    "a-directory": Variant(directory, "is a directory", EVERY),
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A real run: fn:sphere, openai_es, stopped after generation 4 with a checkpoint."""
    folder = tmp_path_factory.mktemp("pristine")
    (folder / "sphere.toml").write_text(CONFIG)
    out = folder / "run.h5"
    run_mpies(None, "run", folder / "sphere.toml", "-o", out, "--stop-after", DONE, check_rc=75, timeout=HANG)
    return out


def damaged(pristine: Path, folder: Path, name: str) -> Path:
    path = folder / name
    VARIANTS[name].make(pristine, path)
    return path


def command_line(command: str, path: Path, folder: Path) -> list:
    extra = {"eval": ["--episodes", 1], "plot": ["-o", folder / "curve.png"], "resume": ["--stop-after", 1]}
    return [command, path, *extra.get(command, [])]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file of ``folder`` and its sha256 (directories by name only)."""
    return {p.name: sha256(p) if p.is_file() else "dir" for p in folder.iterdir()}


CASES = [(name, command) for name, variant in VARIANTS.items() for command in variant.commands]


@pytest.mark.parametrize("name, command", CASES, ids=[f"{n}-{c}" for n, c in CASES])
def test_a_damaged_file_is_one_line_within_seconds_and_left_unchanged(pristine, tmp_path, name, command):
    path = damaged(pristine, tmp_path, name)
    before = snapshot(tmp_path)
    proc = run_mpies(None, *command_line(command, path, tmp_path), timeout=HANG, check_rc=None)
    one_line_error(proc, VARIANTS[name].word)
    assert snapshot(tmp_path) == before  # the file unchanged, and nothing left beside it (lock, copies)


@pytest.mark.parametrize("name", ["superblock-byte-40", "both-slots-theta-of-another-shape"])
def test_resume_under_mpiexec_refuses_a_damaged_file_on_every_rank(pristine, tmp_path, name):
    path = damaged(pristine, tmp_path, name)
    before = snapshot(tmp_path)
    proc = run_mpies(2, "resume", path, timeout=HANG, check_rc=None)
    one_line_error(proc, VARIANTS[name].word)
    assert snapshot(tmp_path) == before


def test_the_undamaged_file_passes_every_command(pristine, tmp_path):
    path = tmp_path / "run.h5"
    shutil.copy(pristine, path)
    for command in ("inspect", "eval", "plot"):
        run_mpies(None, *command_line(command, path, tmp_path), timeout=HANG)
    run_mpies(None, *command_line("resume", path, tmp_path), timeout=HANG, check_rc=75)
    with h5py.File(path, "r") as f:
        assert f["history"].shape == (DONE + 1,)


# --------------------------------------------------------------------------- disk
LIMITED = """\
import resource, sys
from mpi4py import MPI  # MPI starts first: its shared-memory files are not held to the limit
import mpies.cli  # ignores SIGXFSZ: a write past the limit then fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), resource.RLIM_INFINITY))
mpies.cli.main(sys.argv[2:], prog_name="mpies")
"""


def test_a_disk_that_fills_after_the_free_space_check_exits_74_with_the_os_reason(pristine, tmp_path):
    """The disk "fills" through RLIMIT_FSIZE, set in the process after MPI has started: the free-
    space check (statvfs) still sees a roomy disk, and the next write past the limit fails in
    the kernel with an errno -- EFBIG instead of ENOSPC, through the same calls (fallocate,
    pwrite) and the same error handling, with no root, tmpfs or LD_PRELOAD needed. The limit
    leaves 16 KiB above the file: less than the history's next 256-row chunk (32 KiB), which an
    unprotected writer then fails to write in the middle of a write (at generation 256)."""
    path = tmp_path / "run.h5"
    shutil.copy(pristine, path)
    before = sha256(path)
    limit = path.stat().st_size + 16 * 1024
    assert limit < path.stat().st_size + WRITE_BYTES  # the writer's reservation cannot fit
    proc = subprocess.run([sys.executable, "-c", LIMITED, str(limit), "resume", str(path)], env=subprocess_env(),
                          capture_output=True, text=True, timeout=HANG)
    assert proc.returncode == 74, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"Error: cannot write {path}: {os.strerror(errno.EFBIG)}")
    assert sha256(path) == before
    with h5py.File(path, "r") as f:  # plain h5py: consistency flags clear, nothing truncated
        assert f["state/pointer"][()].tolist() == [1, DONE] and f["history"].shape == (DONE,)
    run_mpies(None, "resume", path, "--stop-after", 1, timeout=HANG, check_rc=75)  # space freed
    with h5py.File(path, "r") as f:
        assert f["history"].shape == (DONE + 1,)
