"""Numpy policies on a flat parameter vector, and the observation normaliser.

A policy maps an observation ``(obs_dim,)`` to an action:

* ``linear``: ``y = x W + b``;  ``mlp``: tanh hidden layers, then a linear output layer.
* Discrete action spaces take ``argmax(y)``; Box spaces squash ``tanh(y)`` into ``[low, high]``
  (optionally plus Gaussian action noise, clipped to the bounds).

Observations are normalised as ``(x - mean) / std`` with statistics from :class:`ObsNormalizer`.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class ObsNormalizer:
    """Running observation statistics as sums, so that adding members in order is exact.

    Attributes:
        state: dict with ``sum`` and ``sumsq`` float64 ``(obs_dim,)`` and ``count`` float64 scalar.
    """

    STD_FLOOR = 1e-2  # as in OpenAI-ES: never amplify a near-constant coordinate more than 100x
    DOCS = {"sum": ("sum of the observations seen, float64 (obs_dim,)", "observation"),
            "sumsq": ("sum of their squares, float64 (obs_dim,)", "observation^2"),
            "count": ("observations summed", "observations")}
    """``state`` name -> (doc, units), for the run file."""

    def __init__(self, obs_dim: int):
        self.state = {"sum": np.zeros(obs_dim), "sumsq": np.zeros(obs_dim), "count": np.zeros(())}

    def add(self, total: np.ndarray, total_sq: np.ndarray, count: float) -> None:
        self.state["sum"] = self.state["sum"] + total
        self.state["sumsq"] = self.state["sumsq"] + total_sq
        self.state["count"] = np.asarray(self.state["count"] + count)

    def mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        """Current ``(mean, std)``, each float64 ``(obs_dim,)``; ``(0, 1)`` before any data."""
        n = float(self.state["count"])
        if n < 2:
            return np.zeros_like(self.state["sum"]), np.ones_like(self.state["sum"])
        mean = self.state["sum"] / n
        var = np.maximum(self.state["sumsq"] / n - mean * mean, 0.0)
        return mean, np.maximum(np.sqrt(var), self.STD_FLOOR)


def _flat_box(space) -> bool:
    return isinstance(space, gym.spaces.Box) and len(space.shape) == 1


def unsupported_spaces(observation_space, action_space) -> str | None:
    """Why a :class:`Policy` cannot act in these spaces (one line), or None when it can: it needs a
    flat Box observation and a Discrete or flat Box action space."""
    if not _flat_box(observation_space):
        return f"observation space {observation_space} is not a flat Box"
    if not (isinstance(action_space, gym.spaces.Discrete) or _flat_box(action_space)):
        return f"action space {action_space} is neither Discrete nor a flat Box"
    return None


class Policy:
    """Architecture of a policy; :meth:`actor` binds it to a parameter vector.

    Args:
        observation_space: a gymnasium Box.
        action_space: a gymnasium Discrete or Box.
        kind: ``"linear"`` or ``"mlp"``.
        hidden: hidden layer sizes (ignored for linear).
        squash: continuous actions are ``center + scale * tanh(f)`` (``"tanh"``) or
            ``clip(center + scale * f, low, high)`` (``"clip"``), ``f`` the network's output and
            ``center``, ``scale`` the action box's middle and half-width.

    Raises:
        ValueError: spaces it cannot act in (see :func:`unsupported_spaces`).
    """

    def __init__(self, observation_space, action_space, kind: str = "mlp", hidden=(32, 32), squash: str = "tanh"):
        problem = unsupported_spaces(observation_space, action_space)
        if problem:
            raise ValueError(problem)
        self.clip = squash == "clip"
        self.obs_dim = int(observation_space.shape[0])
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        if self.discrete:
            self.act_dim = int(action_space.n)
        else:
            self.act_dim = int(action_space.shape[0])
            low, high = action_space.low.astype(np.float64), action_space.high.astype(np.float64)
            self.low, self.high = low, high
            self.action_center, self.action_scale = (high + low) / 2, (high - low) / 2
        sizes = [self.obs_dim] + (list(hidden) if kind == "mlp" else []) + [self.act_dim]
        self.layer_shapes = [(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)]
        self.num_params = sum(a * b + b for a, b in self.layer_shapes)

    def initial_params(self, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
        """Weights ``N(0, scale^2 / fan_in)``, output layer x0.1, biases 0: float64 ``(num_params,)``."""
        parts = []
        for i, (fan_in, fan_out) in enumerate(self.layer_shapes):
            w = rng.standard_normal((fan_in, fan_out)) * (scale / np.sqrt(fan_in))
            if i == len(self.layer_shapes) - 1:
                w *= 0.1
            parts += [w.ravel(), np.zeros(fan_out)]
        return np.concatenate(parts)

    def _layers(self, params: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        if params.shape != (self.num_params,):
            raise ValueError(f"params have shape {params.shape}, expected ({self.num_params},)")
        layers, offset = [], 0
        for fan_in, fan_out in self.layer_shapes:
            w = params[offset : offset + fan_in * fan_out].reshape(fan_in, fan_out)
            offset += fan_in * fan_out
            layers.append((w, params[offset : offset + fan_out]))
            offset += fan_out
        return layers

    def actor(self, params: np.ndarray, obs_mean: np.ndarray, obs_std: np.ndarray,
              action_noise: float = 0.0, rng: np.random.Generator | None = None):
        """A function ``obs -> action`` for these parameters and normaliser statistics."""
        (*hidden, (w_out, b_out)) = self._layers(params)
        inv_std = 1.0 / obs_std

        def features(obs):
            x = (obs - obs_mean) * inv_std
            for w, b in hidden:
                x = np.tanh(x @ w + b)
            return x @ w_out + b_out

        if self.discrete:
            return lambda obs: int(np.argmax(features(obs)))
        center, scale, low, high = self.action_center, self.action_scale, self.low, self.high
        if self.clip:
            def bounded(obs):
                return np.clip(center + scale * features(obs), low, high)
        else:
            def bounded(obs):
                return center + scale * np.tanh(features(obs))
        if action_noise > 0.0:
            def act(obs):
                a = bounded(obs)
                return np.clip(a + action_noise * rng.standard_normal(a.shape), low, high)
            return act
        return bounded
