"""Step rules applied to an estimated gradient (ascent: ``theta += step(grad)``).

An optimizer holds only its hyperparameters; what changes each step lives in a typed state
(:class:`SGDState`, :class:`AdamState`, :class:`ClipUpState`: fixed-shape arrays, updated in
place) that the owning
strategy keeps inside its own state, so a checkpoint saves it and a POET pair table can hold one
per pair. The learning rate is an argument of :meth:`step`: it belongs to the strategy's state
because it may change during a run (POET decays it per pair).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SGDState:
    """The momentum of SGD.

    Attributes:
        velocity: float64 ``(dim,)`` the momentum buffer.
    """

    velocity: np.ndarray


@dataclass
class AdamState:
    """The moments of Adam.

    Attributes:
        m: float64 ``(dim,)`` first moment (mean) of the gradient estimates.
        v: float64 ``(dim,)`` second moment (uncentred variance) of the gradient estimates.
        t: int64 ``()`` steps taken.
    """

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


@dataclass
class ClipUpState:
    """The velocity of ClipUp.

    Attributes:
        velocity: float64 ``(dim,)`` the clipped momentum buffer (its norm <= max_speed).
    """

    velocity: np.ndarray


class ClipUp:
    """ClipUp (Toklu, Liskowski & Srivastava 2020, "ClipUp: a simple and powerful optimizer for
    distribution-based policy evolution", PPSN): momentum on the normalised gradient, with the
    velocity clipped to a maximum speed::

        v = clip(m v + lr * g / ||g||, max_speed)      step = v

    so no step is longer than ``max_speed``; the paper's rule of thumb is ``lr = max_speed / 2``.
    A zero gradient adds nothing (the velocity only decays by ``m``).
    """

    def __init__(self, momentum: float = 0.9, max_speed: float = 0.15):
        self.momentum, self.max_speed = momentum, max_speed

    def init(self, dim: int) -> ClipUpState:
        return ClipUpState(np.zeros(dim, dtype=np.float64))

    def step(self, state: ClipUpState, grad: np.ndarray, learning_rate: float) -> np.ndarray:
        """The step float64 ``(dim,)`` for ``grad`` ``(dim,)``; updates ``state`` in place."""
        v = state.velocity
        v *= self.momentum
        grad_norm = float(np.linalg.norm(grad))
        if grad_norm > 0.0:
            v += (learning_rate / grad_norm) * grad
        speed = float(np.linalg.norm(v))
        if speed > self.max_speed:
            v *= self.max_speed / speed
        return v.copy()


def make_optimizer(config) -> SGD | Adam | ClipUp:
    """The optimizer named by ``config.optimizer`` (``"adam"``, ``"sgd"`` or ``"clipup"``, which
    reads ``config.max_speed``), with its settings."""
    if config.optimizer == "adam":
        return Adam(config.beta1, config.beta2)
    if config.optimizer == "clipup":
        return ClipUp(config.momentum, config.max_speed)
    return SGD(config.momentum)
