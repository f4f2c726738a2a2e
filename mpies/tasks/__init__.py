"""What a member's parameters are evaluated on: one module per task, chosen by ``config.env``.

* :mod:`.gym`      -- a gymnasium id: a policy network in the environment (:class:`GymTask`)
* :mod:`.function` -- ``fn:NAME``: a benchmark function of the parameters (:class:`FunctionTask`)
* :mod:`.tetris`   -- ``tetris``: feature weights of a Tetris player (:class:`TetrisTask`)
* :mod:`.arm`      -- ``arm``: the planar arm of quality diversity (:class:`ArmTask`)
* :mod:`.ant`      -- ``ant``: open-loop gaits of the MuJoCo ant (:class:`AntGaitTask`)

Every task follows :class:`Task` and returns an :class:`Evaluation` per member. POET's terrain
episodes (:mod:`.bipedal_terrain`) are run by its own program, not made here.
"""

from __future__ import annotations

from ..config import RunConfig
from .ant import AntGaitTask
from .arm import ArmTask
from .base import Evaluation, Task
from .function import FUNCTION_PREFIX, FunctionTask
from .gym import GymTask
from .tetris import TetrisTask

__all__ = ["BUILT_IN", "FUNCTION_PREFIX", "AntGaitTask", "ArmTask", "Evaluation", "FunctionTask",
           "GymTask", "Task", "TetrisTask", "make_task"]

BUILT_IN = {"tetris": TetrisTask, "arm": ArmTask, "ant": AntGaitTask}
"""``config.env`` -> the task of an environment of mpies's own."""


def make_task(config: RunConfig, rank: int = 0) -> Task:
    """The task named by ``config.env``: one of :data:`BUILT_IN`, ``fn:NAME`` (a benchmark
    function), or else a gymnasium id; ``rank`` labels the warnings of a gymnasium task.

    Raises:
        ConfigError: the task refuses ``config`` (one line naming the field).
    """
    if config.env in BUILT_IN:
        return BUILT_IN[config.env](config)
    if config.env.startswith(FUNCTION_PREFIX):
        return FunctionTask(config)
    return GymTask(config, rank)
