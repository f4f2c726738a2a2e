"""Run files: A/B checkpoints survive a crash mid-write; killed writers' files are recovered."""

import os
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest

from mpies.io import OutputError, RunFileError, RunWriter, open_run, read_history, read_state
from mpies.io.schema import V1_HISTORY_DTYPE, history_dtype
from mpies.io.writer import repair


def make_file(path):
    state = {"strategy/theta": np.zeros(3), "counters/env_steps": np.asarray(0)}
    best = {"params": np.zeros(3), "fitness": np.asarray(-np.inf)}
    return RunWriter.create(path, {"env": "X"}, state, best)


def row(g):
    r = np.zeros((), history_dtype("search"))
    r["generation"] = g
    return r


def test_checkpoints_alternate_slots_and_the_pointer_names_the_latest(tmp_path):
    writer = make_file(tmp_path / "r.h5")
    for g in range(3):
        state = {"strategy/theta": np.full(3, g), "counters/env_steps": np.asarray(g), "next_generation": g + 1}
        writer.write_generation(row(g), state)
    with open_run(writer.path) as f:
        generation, state = read_state(f)
        assert generation == 3 and f["state/pointer"][0] == 0  # slots 0, 1, 0
        np.testing.assert_array_equal(state["strategy/theta"], [2, 2, 2])
        assert read_history(f)["generation"].tolist() == [0, 1, 2]


def test_a_crash_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    writer = make_file(tmp_path / "r.h5")
    writer.write_generation(row(0), {"strategy/theta": np.ones(3), "counters/env_steps": np.asarray(1),
                                     "next_generation": 1})
    # fail after the slot data went out but before the pointer flips
    original = h5py.Dataset.__setitem__

    def crash_on_pointer(self, key, value):
        if self.name == "/state/pointer":
            raise OSError("disk vanished")
        return original(self, key, value)
    monkeypatch.setattr(h5py.Dataset, "__setitem__", crash_on_pointer)
    with pytest.raises(OutputError, match="disk vanished|cannot write"):
        writer.write_generation(row(1), {"strategy/theta": np.full(3, 9.0), "counters/env_steps": np.asarray(2),
                                         "next_generation": 2})
    monkeypatch.undo()
    with open_run(writer.path) as f:
        generation, state = read_state(f)
    assert generation == 1
    np.testing.assert_array_equal(state["strategy/theta"], np.ones(3))


def test_state_shapes_cannot_change(tmp_path):
    writer = make_file(tmp_path / "r.h5")
    with pytest.raises(ValueError, match="changed shape"):
        writer.write_generation(row(0), {"strategy/theta": np.zeros(4), "counters/env_steps": np.asarray(0),
                                         "next_generation": 1})


def test_a_writer_killed_mid_write_leaves_a_file_that_repair_makes_clean(tmp_path):
    path = tmp_path / "r.h5"
    make_file(path)
    code = ("import h5py, os, signal\n"
            f"f = h5py.File({str(path)!r}, 'r+', libver=('v110', 'v110'), locking=False)\n"
            "f.swmr_mode = True\nf.flush()\nos.kill(os.getpid(), signal.SIGKILL)\n")
    assert subprocess.run([sys.executable, "-c", code]).returncode == -signal.SIGKILL
    with pytest.raises(OSError):
        h5py.File(path, "r").close()  # the consistency flags are still set
    with open_run(path) as f:  # mpies readers cope anyway
        assert f.attrs["env"] == "X"
    repair(path)
    with h5py.File(path, "r") as f:
        assert f.attrs["env"] == "X" and f["history"].maxshape == (None,)
    RunWriter(path).write_generation(row(0))  # and it is writable again


def test_not_a_run_file_is_a_clear_error(tmp_path):
    with pytest.raises(RunFileError, match="no such file"):
        open_run(tmp_path / "missing.h5")
    text = tmp_path / "text.h5"
    text.write_text("hello")
    with pytest.raises(RunFileError, match="not an HDF5 file"):
        open_run(text)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = 1
    with pytest.raises(RunFileError, match="not an mpies run"):
        open_run(foreign)
    truncated = tmp_path / "truncated.h5"
    make_file(truncated)
    size = os.path.getsize(truncated)
    with open(truncated, "r+b") as fh:
        fh.truncate(size // 2)
    with pytest.raises(RunFileError):
        open_run(truncated, retries=1)


def test_history_columns_carry_their_family_doc_and_units(tmp_path):
    writer = make_file(tmp_path / "r.h5")
    with h5py.File(writer.path, "r") as f:
        assert f.attrs["history_family"] == "search" and f.attrs["schema_version"] == 2
        history = f["history"]
        assert history.dtype == history_dtype("search")
        assert "qd_score" not in history.dtype.names and "active_pairs" not in history.dtype.names
        assert history.attrs["units:wall_time"] == "s" and "noiseless" in history.attrs["doc:eval_return"]
    for family in ("qd", "poet"):
        names = history_dtype(family).names
        assert names[:3] == ("generation", "wall_time", "env_steps") and "sigma" not in names


def test_a_version_1_file_is_read_but_not_resumed(tmp_path):
    from mpies.io.reader import check_resumable
    path = tmp_path / "v1.h5"
    with h5py.File(path, "w") as f:
        f.attrs.update(schema_version=1, mpies_version="0.1.0", status="finished", config="")
        f.create_dataset("history", data=np.zeros(3, V1_HISTORY_DTYPE))
    with open_run(path) as f:
        assert read_history(f).shape == (3,)
        with pytest.raises(RunFileError, match="written by mpies 0.1.0 .schema version 1.*cannot resume"):
            check_resumable(f)


def test_a_file_from_a_newer_mpies_is_refused_with_its_version(tmp_path):
    path = tmp_path / "v99.h5"
    make_file(path)
    with h5py.File(path, "r+") as f:
        f.attrs.update(schema_version=99, mpies_version="9.0")
    with pytest.raises(RunFileError, match="written by mpies 9.0 .schema version 99.*upgrade mpies"):
        open_run(path)
