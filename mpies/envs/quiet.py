"""Third-party warnings under MPI: printed once (by rank 0), and never written into a file.

MuJoCo's default warning handler prints each warning and appends it to ``MUJOCO_LOG.TXT`` in the
working directory, on every rank (Ant-v5 and HalfCheetah-v5 warn at every construction: their
XML uses the deprecated ``settotalmass``). :func:`route_mujoco_warnings` hands MuJoCo's warnings
to Python's :mod:`warnings` instead, where :func:`quiet_third_party_warnings` silences them, like
gymnasium's, on every rank but 0.
"""

from __future__ import annotations

import warnings


class MuJoCoWarning(RuntimeWarning):
    """A warning of MuJoCo's C library (model compiler or simulation)."""


def _warn(message: str) -> None:
    warnings.warn(f"MuJoCo: {message}", MuJoCoWarning, stacklevel=2)


def route_mujoco_warnings() -> None:
    """Send MuJoCo's warnings to :mod:`warnings` (no ``MUJOCO_LOG.TXT``); call before MuJoCo
    compiles a model. Idempotent; imports MuJoCo."""
    import mujoco

    mujoco.set_mju_user_warning(_warn)


def quiet_third_party_warnings(rank: int) -> None:
    """Start-up of every rank: ignore all Python warnings on ranks other than 0, so that rank 0
    alone prints a library's warning (mpies's own notices are printed, not warned)."""
    if rank != 0:
        warnings.simplefilter("ignore")
