"""Step rules applied to an estimated gradient (ascent: ``theta += step(grad)``).

Each optimizer keeps its state in a dict of numpy arrays so a checkpoint can save it exactly.
"""

from __future__ import annotations

import numpy as np


class SGD:
    """Gradient ascent with heavy-ball momentum: ``v = m v + (1 - m) g``, ``step = lr v``."""

    def __init__(self, dim: int, learning_rate: float, momentum: float = 0.9):
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.state = {"velocity": np.zeros(dim, dtype=np.float64)}

    def step(self, grad: np.ndarray) -> np.ndarray:
        v = self.state["velocity"]
        v *= self.momentum
        v += (1.0 - self.momentum) * grad
        return self.learning_rate * v


class Adam:
    """Adam (Kingma & Ba 2015) with bias correction folded into the step size, as in OpenAI-ES."""

    def __init__(self, dim: int, learning_rate: float, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8):
        self.learning_rate = learning_rate
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.state = {"m": np.zeros(dim, dtype=np.float64), "v": np.zeros(dim, dtype=np.float64),
                      "t": np.zeros((), dtype=np.int64)}

    def step(self, grad: np.ndarray) -> np.ndarray:
        s = self.state
        s["t"] = np.asarray(s["t"] + 1, dtype=np.int64)
        t = int(s["t"])
        a = self.learning_rate * np.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)
        s["m"] *= self.beta1
        s["m"] += (1.0 - self.beta1) * grad
        s["v"] *= self.beta2
        s["v"] += (1.0 - self.beta2) * grad * grad
        return a * s["m"] / (np.sqrt(s["v"]) + self.epsilon)


def make_optimizer(name: str, dim: int, config) -> SGD | Adam:
    """Build the optimizer named by ``strategy.optimizer`` from the strategy config."""
    if name == "adam":
        return Adam(dim, config.learning_rate, config.beta1, config.beta2)
    return SGD(dim, config.learning_rate, config.momentum)
