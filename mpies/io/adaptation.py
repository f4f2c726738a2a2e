"""``/adaptation/<name>``: the trials of one damage adaptation (``mpies adapt``) in a run file.

Each group holds one row per trial -- ``cell`` int64 ``(t,)``, ``measured``, ``predicted_mean``,
``predicted_std``, ``max_predicted`` float64 ``(t,)`` and ``descriptor`` float64 ``(t, dims)`` --
and the settings and outcome as attributes (see :func:`mpies.cli.adapt_cmd.adapt`). Writing
replaces a group of the same name; the rest of the file is untouched.
"""

from __future__ import annotations

import os

import h5py
import numpy as np

from .reader import RunFileError
from .writer import LIBVER, describe, quiet_cleanup, write_datasets

GROUP = "adaptation"
TRIAL_DOCS = {
    "cell": ("archive cell of the elite tried, one row per trial in trial order", "1"),
    "measured": ("its return on the damaged task (one episode)", "return"),
    "predicted_mean": ("the Gaussian process's mean for it before the trial", "return"),
    "predicted_std": ("the Gaussian process's std for it before the trial", "return"),
    "max_predicted": ("the highest predicted mean over the archive before the trial", "return"),
    "descriptor": ("its behaviour descriptor, float64 (trials, dims)", "descriptor"),
}
"""Dataset name -> (doc, units) of a group's datasets."""


class LiveRunError(RunFileError):
    """The run file is still being written by a run (status ``running``)."""


def check_not_live(path, status) -> None:
    """Raise :class:`LiveRunError` when ``status`` (the root attr) says the run is live."""
    if str(status) == "running":
        raise LiveRunError(f"{path}: the run is still going (status 'running'); wait for it to end "
                           f"(if it was killed, finish it with `mpies resume {path}` first)")


def write_adaptation(path: str | os.PathLike, name: str, arrays: dict, attrs: dict) -> None:
    """Write ``/adaptation/<name>`` (replacing it) in the closed run file ``path``.

    Raises:
        LiveRunError: the run is live (checked again once the file is open).
        OSError: the write failed; the message is one line.
    """
    try:
        with quiet_cleanup(), h5py.File(path, "r+", libver=LIBVER, locking=False) as f:
            check_not_live(path, f.attrs.get("status", ""))
            parent = f.require_group(GROUP)
            if name in parent:
                del parent[name]
            group = parent.create_group(name)
            write_datasets(group, arrays, TRIAL_DOCS)
            group.attrs.update(attrs)
            f.flush()
    except (OSError, RuntimeError) as exc:
        raise OSError(f"cannot write {path}: {describe(exc)}") from exc


def read_adaptation(f: h5py.File, name: str) -> tuple[dict[str, np.ndarray], dict]:
    """``(arrays, attrs)`` of ``/adaptation/<name>`` in an open run file."""
    group = f[GROUP][name]
    return ({k: group[k][()] for k in group},
            {k: (v.item() if hasattr(v, "item") else v) for k, v in group.attrs.items()})
