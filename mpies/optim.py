"""Step rules applied to an estimated gradient (ascent: ``theta += step(grad)``).

An optimizer holds only its hyperparameters; what changes each step lives in a typed state
(:class:`SGDState`, :class:`AdamState`: fixed-shape arrays, updated in place) that the owning
strategy keeps inside its own state, so a checkpoint saves it and a POET pair table can hold one
per pair. The learning rate is an argument of :meth:`step`: it belongs to the strategy's state
because it may change during a run (POET decays it per pair).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SGDState:
    """Attributes: velocity: float64 ``(dim,)``, the momentum buffer."""

    velocity: np.ndarray


@dataclass
class AdamState:
    """Attributes: m, v: float64 ``(dim,)`` first and second moments; t: int64 ``()`` steps taken."""

    m: np.ndarray
    v: np.ndarray
    t: np.ndarray


class SGD:
    """Gradient ascent with heavy-ball momentum: ``v = m v + (1 - m) g``, ``step = lr v``."""

    def __init__(self, momentum: float = 0.9):
        self.momentum = momentum

    def init(self, dim: int) -> SGDState:
        return SGDState(np.zeros(dim, dtype=np.float64))

    def step(self, state: SGDState, grad: np.ndarray, learning_rate: float) -> np.ndarray:
        """The step float64 ``(dim,)`` for ``grad`` ``(dim,)``; updates ``state`` in place."""
        v = state.velocity
        v *= self.momentum
        v += (1.0 - self.momentum) * grad
        return learning_rate * v


class Adam:
    """Adam (Kingma & Ba 2015) with bias correction folded into the step size, as in OpenAI-ES."""

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8):
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon

    def init(self, dim: int) -> AdamState:
        return AdamState(np.zeros(dim, dtype=np.float64), np.zeros(dim, dtype=np.float64),
                         np.zeros((), dtype=np.int64))

    def step(self, state: AdamState, grad: np.ndarray, learning_rate: float) -> np.ndarray:
        """The step float64 ``(dim,)`` for ``grad`` ``(dim,)``; updates ``state`` in place."""
        state.t[...] = state.t + 1
        t = int(state.t)
        a = learning_rate * np.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)
        state.m *= self.beta1
        state.m += (1.0 - self.beta1) * grad
        state.v *= self.beta2
        state.v += (1.0 - self.beta2) * grad * grad
        return a * state.m / (np.sqrt(state.v) + self.epsilon)


def make_optimizer(config) -> SGD | Adam:
    """The optimizer named by ``config.optimizer`` (``"adam"`` or ``"sgd"``), with its settings."""
    if config.optimizer == "adam":
        return Adam(config.beta1, config.beta2)
    return SGD(config.momentum)
