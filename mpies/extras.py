"""Optional dependencies, installed as extras: ``pip install 'mpies[mujoco]'`` and so on.

The core (numpy, MPI, HDF5, click, gymnasium's classic control) runs every algorithm on
benchmark functions, the arm and classic-control tasks; the rest comes with the extra of the task
or command that needs it. :func:`require` imports a module of an extra or raises one line that
names the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .config import ConfigError

EXTRAS = {
    "mujoco": "MuJoCo tasks (HalfCheetah-v5, Hopper-v5, ..., the ant gait task)",
    "box2d": "Box2D tasks (LunarLander-v3, BipedalWalker-v3, POET's bipedal_terrain)",
    "tetris": "the Tetris engine (compiled with numba)",
    "plot": "mpies plot (matplotlib)",
    "video": "mpies eval --video (imageio, imageio-ffmpeg, pygame for classic control)",
}
"""Extra -> what it enables (``all`` installs every one)."""
MODULES = {"mujoco": ("mujoco",), "box2d": ("Box2D",), "tetris": ("numba",), "plot": ("matplotlib",),
           "video": ("imageio", "imageio_ffmpeg")}
"""Extra -> the modules it installs that mpies imports."""


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that this Python cannot find (none imported)."""
    import importlib.util

    return [m for m in MODULES[extra] if importlib.util.find_spec(m) is None]


def install_hint(extra: str) -> str:
    """``pip install 'mpies[EXTRA]'``: the command that installs ``extra``."""
    return f"pip install 'mpies[{extra}]'"


def require(module: str, extra: str, needed_by: str, field: str = "env") -> ModuleType:
    """Import ``module`` (part of ``extra``), or raise ConfigError naming ``field`` and the extra.

    Args:
        module: e.g. ``"numba"``.
        extra: a key of :data:`EXTRAS`.
        needed_by: what needs it, for the message (e.g. ``"tetris"``).
        field: the config field or command the message starts with.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"{field}: {needed_by} needs {module}, which cannot be imported ({exc}); "
                          f"install it with {install_hint(extra)}") from None
