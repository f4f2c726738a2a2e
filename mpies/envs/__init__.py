"""Environments: gymnasium ids, checked before any process starts a rollout, and mpies's own
(:mod:`.tetris`, :mod:`.bipedal_terrain`, :mod:`.ant`, :mod:`.functions`).

Nothing here knows of tasks: :mod:`mpies.tasks` builds on these.
"""

from __future__ import annotations

import difflib
import importlib

import gymnasium as gym

from ..config import ConfigError
from ..extras import install_hint
from .quiet import quiet_third_party_warnings, route_mujoco_warnings

__all__ = ["FAMILIES", "FreshBox2DWorld", "check_env_id", "fresh_world", "make_env",
           "quiet_third_party_warnings", "route_mujoco_warnings"]

FAMILIES = {
    "classic control": ["CartPole-v1", "Pendulum-v1", "Acrobot-v1", "MountainCarContinuous-v0"],
    "box2d": ["LunarLander-v3", "LunarLanderContinuous-v3", "BipedalWalker-v3"],
    "mujoco": ["HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Ant-v5", "Humanoid-v5", "Swimmer-v5",
               "InvertedPendulum-v5", "InvertedDoublePendulum-v5"],
}
"""Environments mpies is tested on, by family (any flat-Box-observation gymnasium id works)."""


def check_env_id(env_id: str) -> None:
    """Raise ConfigError unless ``env_id`` names a registered gymnasium environment.

    ``module:Env-v0`` imports ``module`` first, which may register ``Env-v0``.
    """
    name = env_id
    if ":" in env_id:
        module, _, name = env_id.partition(":")
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"env: cannot import module {module!r} for {env_id!r}: {exc}") from None
    if name not in gym.envs.registry:
        close = difflib.get_close_matches(name, list(gym.envs.registry), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"env: unknown environment {env_id!r}{hint}; run `mpies envs` to list them")


def make_env(env_id: str, env_kwargs: dict | None = None) -> gym.Env:
    """Create the environment without gymnasium's passive checker (it costs time every step).

    Raises:
        ConfigError: an unknown id, ``env_kwargs`` the environment rejects, or a missing optional
            dependency (e.g. ``gymnasium[box2d]``); one line.
    """
    check_env_id(env_id)
    name = env_id.partition(":")[2] or env_id
    try:
        if _uses_mujoco(name):
            route_mujoco_warnings()
        env = gym.make(name, disable_env_checker=True, **(env_kwargs or {}))
    except TypeError as exc:
        raise ConfigError(f"env_kwargs: {env_id} rejected them: {exc}") from None
    except (gym.error.DependencyNotInstalled, ImportError) as exc:
        reason = " ".join(str(exc).split())  # gymnasium's hints may span lines
        extra = _extra_of(name)
        hint = f"; install it with {install_hint(extra)}" if extra else ""
        raise ConfigError(f"env: {env_id} cannot be made, a dependency is missing ({reason}){hint}") from None
    if type(env.unwrapped).__name__ == "BipedalWalker":
        env = FreshBox2DWorld(env)
    return env


def _entry_point(name: str) -> str:
    entry_point = gym.spec(name).entry_point
    return entry_point if isinstance(entry_point, str) else ""


def _uses_mujoco(name: str) -> bool:
    """Whether gymnasium's entry point of ``name`` is one of its MuJoCo environments."""
    return _entry_point(name).startswith("gymnasium.envs.mujoco")


def _extra_of(name: str) -> str | None:
    """The mpies extra that installs what gymnasium environment ``name`` needs, if one does."""
    family = _entry_point(name).removeprefix("gymnasium.envs.").partition(".")[0]
    return family if family in ("mujoco", "box2d") else None


class FreshBox2DWorld(gym.Wrapper):
    """Resets BipedalWalker in a new Box2D world. gymnasium keeps one world across resets, and
    the order in which Box2D then recycles bodies makes an episode depend on the episodes the
    process played before it -- so results would depend on how members are dealt to ranks."""

    def reset(self, **kwargs):
        fresh_world(self.env.unwrapped)
        return self.env.reset(**kwargs)


def fresh_world(walker) -> None:
    """Destroy a BipedalWalker's bodies and give it a new, empty Box2D world."""
    import Box2D

    walker._destroy()
    walker.world = Box2D.b2World()
