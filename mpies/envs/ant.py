"""The legged robot of Cully et al.'s damage recovery (Nature 2015) on gymnasium's MuJoCo Ant-v5:
the model surgery (servos, damage), the open-loop gait controller and the episode that plays a
gait (:class:`AntGait`). The task over it (``env = "ant"``) is :mod:`mpies.tasks.ant`.

Controller (Cully's open-loop hexapod controller, on the ant's 8 joints)
    Every actuated joint follows a periodic target angle of period 1 s given by 3 parameters
    (amplitude, phase, duty cycle), so ``num_params = 24``, ordered leg by leg, hip then ankle:
    ``params[6 * leg + 3 * joint + (0, 1, 2)]`` with ``joint`` 0 = hip, 1 = ankle. Parameters are
    **clipped into [0, 1]** before use (a search may step outside; the robot sees the clipped
    values). As in Cully's reference controller, one period is 100 samples: a square wave that
    is ``+amplitude`` for the first ``int(100 * duty)`` samples and ``-amplitude`` after, smoothed
    by a circular (wrap-around) Gaussian kernel of half-width 10 samples and sigma 3 samples, then
    rotated left by ``floor(100 * phase)`` samples. The signal ``s`` in ``[-amplitude, amplitude]``
    is mapped onto the joint's range of motion: target = range centre + ``s`` x half range (so
    amplitude 0 holds the standing posture and amplitude 1 sweeps the whole range).

    The targets are tracked by a PD servo, like the position-controlled servos of Cully's robot:
    the Ant-v5 motors (torque = gear 150 x action, action in [-1, 1]) are turned, inside the
    MuJoCo model, into servos whose action is ``clip(KP * (target - q) - KD * dq, -1, 1)`` with the
    class constants :attr:`AntGait.KP` and :attr:`AntGait.KD`, so the torque envelope is
    exactly Ant-v5's. The servo is computed by MuJoCo at every physics step (0.01 s, the RK4 step
    of Ant-v5), and the target advances one sample of the 100-sample table per physics step.
    (Feeding the signal directly as the torque makes the light ant bounce rather than walk.)
    The episode loop drives MuJoCo directly (``mj_step``), not ``env.step``: no observations or
    rewards are computed, and after the model edits ``env.step``'s actions would be target angles.

Episode (:meth:`AntGait.play`)
    ``duration`` seconds of simulated time (``round(duration / 0.05)`` Ant-v5 steps of 5 physics
    steps each), no early termination, no reset noise: every episode starts from the same state
    and runs the same length, so an episode is **deterministic** (there is no seed).

Outcome
    The forward distance: the torso's x displacement over the episode, in meters. The foot
    contacts: for each of the 4 feet, the fraction of the episode's physics steps (0.01 s) in which
    the foot (the lower-leg "ankle" capsule) is in MuJoCo's contact list with the floor (i.e.
    within the model's 1 cm contact margin), in ``[0, 1]^4``, feet in leg order.

Legs
    Leg ``K`` is gymnasium's leg ``K + 1`` (joints ``hip_{K+1}``, ``ankle_{K+1}``). With +x forward
    and +y to the left, their hips are at: 0 front left (+x, +y), 1 back left (-x, +y),
    2 back right (-x, -y), 3 front right (+x, -y).

Damage, applied to the MuJoCo model once, after the environment is made; see :data:`DAMAGES`
and :func:`parse_damage`. Several damages to different legs combine with commas: ``"leg=0,weak=2"``.
"""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np

from ..extras import require
from .quiet import route_mujoco_warnings

DAMAGES = {
    "none": "the intact robot",
    "leg=K": "leg K (0-3) removed: its geoms stop colliding (and are hidden), its bodies keep 1e-4 of "
             "their mass, its two motors get gear 0",
    "locked=K": "leg K's joints locked at the standing posture (the centre of their range): motors get "
                "gear 0 and the joint ranges shrink to that angle",
    "weak=K": "leg K's two motors at 30% strength (gear x 0.3: 30% of the torque, same servo gains)",
}
"""The damage forms :func:`parse_damage` accepts (comma-separated, one per leg)."""

ARRAY_DIM = 100          # samples per period (Cully's reference controller)
PERIOD = 1.0             # seconds
KERNEL_HALF_WIDTH = ARRAY_DIM // 10
KERNEL_SIGMA = float(KERNEL_HALF_WIDTH // 3)  # the reference computes it in integer arithmetic: 3
NUM_LEGS = 4
NUM_PARAMS = 3 * 2 * NUM_LEGS  # (amplitude, phase, duty) x (hip, ankle) x legs
REMOVED_MASS_FRACTION = 1e-4
WEAK_FRACTION = 0.3
LOCK_HALF_WIDTH = 1e-4   # rad: half-width of a locked joint's range

_DAMAGE_RE = re.compile(r"^(leg|locked|weak)=([0-9]+)$")


def _smoothing_matrix() -> np.ndarray:
    """Circulant ``(100, 100)`` matrix: ``square @ M`` is the reference's circular Gaussian filter."""
    offsets = np.arange(-KERNEL_HALF_WIDTH, KERNEL_HALF_WIDTH + 1)
    kernel = np.exp(-offsets ** 2 / (2 * KERNEL_SIGMA ** 2))
    kernel /= kernel.sum()
    matrix = np.zeros((ARRAY_DIM, ARRAY_DIM))
    cols = np.arange(ARRAY_DIM)
    for offset, weight in zip(offsets, kernel):
        matrix[(cols + offset) % ARRAY_DIM, cols] += weight  # out[i] += in[i + offset] * weight
    return matrix


_SMOOTH = _smoothing_matrix()


def control_signals(params) -> np.ndarray:
    """Cully's periodic signals: ``(n, 3)`` rows of (amplitude, phase, duty), clipped into [0, 1],
    -> float ``(n, 100)``, one period sampled at 100 points, values in ``[-amplitude, amplitude]``."""
    p = np.clip(np.asarray(params, dtype=np.float64).reshape(-1, 3), 0.0, 1.0)
    amplitude, phase, duty = p[:, 0:1], p[:, 1], p[:, 2:3]
    up_time = (ARRAY_DIM * duty).astype(np.int64)  # C++ int conversion: truncation
    square = np.where(np.arange(ARRAY_DIM) < up_time, amplitude, -amplitude)
    smooth = square @ _SMOOTH
    start = np.floor(ARRAY_DIM * phase).astype(np.int64) % ARRAY_DIM
    index = (np.arange(ARRAY_DIM)[None, :] + start[:, None]) % ARRAY_DIM
    return np.take_along_axis(smooth, index, axis=1)


def parse_damage(damage) -> dict[int, str]:
    """A damage spec (``"none"``, ``"leg=1"``, ``"leg=0,weak=2"``, None) -> {leg: kind}.

    Raises:
        ValueError: not a string of the :data:`DAMAGES` forms, a leg out of range, or a leg named
            twice; the message (one line) lists the forms.
    """
    allowed = ", ".join(repr(form) for form in DAMAGES)
    if damage is None:
        return {}
    if not isinstance(damage, str):
        raise ValueError(f"got {damage!r}; expected a string, one of {allowed} "
                         f"(K = 0..{NUM_LEGS - 1}; combine legs with commas, e.g. 'leg=0,weak=2')")
    text = damage.strip().lower()
    if text in ("", "none"):
        return {}
    out: dict[int, str] = {}
    for item in text.split(","):
        match = _DAMAGE_RE.match(item.strip())
        leg = int(match.group(2)) if match else -1
        if not match or leg >= NUM_LEGS:
            raise ValueError(f"got {damage!r}; allowed: {allowed} (K = 0..{NUM_LEGS - 1}; "
                             f"combine legs with commas, e.g. 'leg=0,weak=2')")
        if leg in out:
            raise ValueError(f"got {damage!r}; leg {leg} is damaged twice (one damage per leg)")
        out[leg] = match.group(1)
    return out


class AntGait:
    """Ant-v5 with PD servos and a damage, playing open-loop gaits (see the module docstring).

    Args:
        damage: {leg: "leg" | "locked" | "weak"} (see :func:`parse_damage`).
        duration: seconds of simulated time per episode, a finite number >= :attr:`dt`.

    Raises:
        ValueError: ``duration`` is not a number of seconds of at least one Ant-v5 step (the
            message, one line, says so; the environment is closed).

    Attributes:
        model, data: the edited MuJoCo model and its data.
        dt: seconds per Ant-v5 step (0.05: ``substeps`` physics steps of ``model.opt.timestep``).
        episode_steps: Ant-v5 steps per episode.
        joint_ids: int ``(4, 2)`` MuJoCo joint ids of (hip, ankle) per leg.
        actuator_of: int ``(8,)`` the actuator (model order) of params joint ``2 * leg + joint``.
        leg_bodies: per leg, the MuJoCo body ids of the leg.
        locked_qpos, locked_value: ``qpos`` addresses of locked joints and the angles they hold.
    """

    KP = 5.0   # servo: action per radian of error (x gear 150 = 750 N m / rad)
    KD = 0.3   # servo: action per rad/s (x gear 150 = 45 N m s / rad; damping ratio ~0.8)

    def __init__(self, damage: dict[int, str] | None = None, duration: float = 5.0):
        mujoco = require("mujoco", "mujoco", "the ant task")  # imported here: it costs 0.2 s

        route_mujoco_warnings()
        self._mujoco = mujoco
        self.damage = dict(damage or {})
        self.env = gym.make("Ant-v5", terminate_when_unhealthy=False, reset_noise_scale=0.0,
                            disable_env_checker=True)
        self.model, self.data = self.env.unwrapped.model, self.env.unwrapped.data
        self.dt = float(self.env.unwrapped.dt)
        if (isinstance(duration, bool) or not isinstance(duration, (int, float)) or not np.isfinite(duration)
                or duration < self.dt):
            self.env.close()
            raise ValueError(f"got {duration!r}; expected a number of seconds >= {self.dt:g} (one Ant-v5 step)")
        self.duration = float(duration)
        self.episode_steps = max(1, round(self.duration / self.dt))
        self.substeps = int(self.env.unwrapped.frame_skip)
        self._find_legs()
        self._make_servos()
        self._apply_damage()
        mujoco.mj_setConst(self.model, self.data)
        timestep = self.model.opt.timestep
        n = self.episode_steps * self.substeps
        # which of the 100 samples of the period each physics step uses (integer steps, no float drift)
        self._sample = (np.floor(np.arange(n) * timestep / PERIOD * ARRAY_DIM + 1e-9).astype(np.int64)
                        % ARRAY_DIM)
        self._touched = np.zeros((n, NUM_LEGS + 1), dtype=bool)  # last column: not a foot

    # ------------------------------------------------------------------ model surgery
    def _find_legs(self) -> None:
        mujoco, m = self._mujoco, self.model
        name = lambda kind, i: mujoco.mj_name2id(m, kind, i)  # noqa: E731
        joint_ids = np.array([[name(mujoco.mjtObj.mjOBJ_JOINT, f"{j}_{leg + 1}") for j in ("hip", "ankle")]
                              for leg in range(NUM_LEGS)])
        if (joint_ids < 0).any() or m.nu != 2 * NUM_LEGS:  # pragma: no cover - a different Ant model
            raise RuntimeError("Ant-v5 model without hip_1..4 / ankle_1..4 joints and 8 motors")
        act_joint = m.actuator_trnid[:, 0]
        # actuator (model order) driving params joint i = 2 * leg + (0 hip, 1 ankle)
        self.actuator_of = np.array([int(np.flatnonzero(act_joint == j)[0]) for j in joint_ids.ravel()])
        self.joint_ids = joint_ids
        root = m.jnt_bodyid[0]  # the torso (free joint)
        floor = [g for g in range(m.ngeom) if m.geom_bodyid[g] == 0]
        self.leg_bodies, feet = [], []
        for leg in range(NUM_LEGS):
            top = m.jnt_bodyid[joint_ids[leg, 0]]
            while m.body_parentid[top] != root:
                top = m.body_parentid[top]
            self.leg_bodies.append([b for b in range(m.nbody) if self._descends(b, top)])
            feet.append([g for g in range(m.ngeom) if m.geom_bodyid[g] == m.jnt_bodyid[joint_ids[leg, 1]]])
        # contact pair (geom1 * ngeom + geom2) -> foot index, NUM_LEGS for any other pair
        lut = np.full(m.ngeom * m.ngeom, NUM_LEGS, dtype=np.int64)
        for leg, geoms in enumerate(feet):
            for g in geoms:
                for f in floor:
                    lut[g * m.ngeom + f] = lut[f * m.ngeom + g] = leg
        self._pair_foot = lut

    def _descends(self, body: int, ancestor: int) -> bool:
        while body > 0:
            if body == ancestor:
                return True
            body = self.model.body_parentid[body]
        return False

    def _make_servos(self) -> None:
        """Turn the motors into PD servos on the joint angle (ctrl = target angle, radians)."""
        m = self.model
        joints = m.actuator_trnid[:, 0]
        m.actuator_gaintype[:] = self._mujoco.mjtGain.mjGAIN_FIXED
        m.actuator_biastype[:] = self._mujoco.mjtBias.mjBIAS_AFFINE
        m.actuator_ctrlrange[:] = m.jnt_range[joints]
        m.actuator_ctrllimited[:] = 1
        m.actuator_forcerange[:] = (-1.0, 1.0)  # the action range of Ant-v5: torque <= gear
        m.actuator_forcelimited[:] = 1
        lo, hi = m.jnt_range[joints].T
        self._centre = ((lo + hi) / 2)[self.actuator_of]   # in params order
        self._half = ((hi - lo) / 2)[self.actuator_of]

    def _set_servo_gains(self) -> None:
        """Actuator force = KP (ctrl - q) - KD dq with the gear in place: length = gear q, so the
        affine bias uses KP / gear (a motor with gear 0 exerts nothing)."""
        m = self.model
        gear = m.actuator_gear[:, 0]
        on = gear != 0
        m.actuator_gainprm[:, 0] = np.where(on, self.KP, 0.0)
        m.actuator_biasprm[:, :3] = 0.0
        m.actuator_biasprm[on, 1] = -self.KP / gear[on]
        m.actuator_biasprm[on, 2] = -self.KD / gear[on]

    def _apply_damage(self) -> None:
        m = self.model
        locked_q, locked_v = [], []
        for leg, kind in sorted(self.damage.items()):
            actuators = self.actuator_of[2 * leg:2 * leg + 2]
            if kind == "weak":
                m.actuator_gear[actuators, 0] *= WEAK_FRACTION
                continue
            m.actuator_gear[actuators, 0] = 0.0
            if kind == "leg":
                for body in self.leg_bodies[leg]:
                    m.body_mass[body] *= REMOVED_MASS_FRACTION
                    m.body_inertia[body] *= REMOVED_MASS_FRACTION
                for g in range(m.ngeom):
                    if m.geom_bodyid[g] in self.leg_bodies[leg]:
                        m.geom_contype[g] = m.geom_conaffinity[g] = 0
                        m.geom_rgba[g, 3] = 0.0
            else:  # locked: the joint range shrinks to the standing angle (the range centre)
                for j, value in zip(self.joint_ids[leg], self._centre[2 * leg:2 * leg + 2]):
                    m.jnt_range[j] = (value - LOCK_HALF_WIDTH, value + LOCK_HALF_WIDTH)
                    locked_q.append(m.jnt_qposadr[j])
                    locked_v.append(value)
        self.locked_qpos = np.array(locked_q, dtype=np.int64)
        self.locked_value = np.array(locked_v)
        self._set_servo_gains()

    # ------------------------------------------------------------------ episodes
    def targets(self, params) -> np.ndarray:
        """Joint-angle targets over one period: float ``(8, 100)`` in params joint order."""
        return self._centre[:, None] + self._half[:, None] * control_signals(params)

    def controls(self, params) -> np.ndarray:
        """``data.ctrl`` at each physics step of an episode: float ``(episode_steps * substeps, nu)``
        target angles (radians), in actuator (model) order."""
        ctrl = np.empty((ARRAY_DIM, self.model.nu))
        ctrl[:, self.actuator_of] = self.targets(params).T
        return ctrl[self._sample]

    def reset(self) -> None:
        """The standing start of every episode (locked joints at their angle)."""
        self.env.reset(seed=0)
        self.data.qpos[self.locked_qpos] = self.locked_value

    def play(self, params) -> tuple[float, np.ndarray]:
        """One episode of the gait ``params`` (float ``(24,)``, clipped into [0, 1]).

        Returns:
            ``(distance, contacts)``: forward distance in meters and float ``(4,)`` per-foot
            ground-contact fractions in ``[0, 1]``; ``(nan, [nan] * 4)`` for non-finite ``params``
            (not simulated) or a simulation that went unstable.

        Raises:
            ValueError: ``params`` is not 24 numbers.
        """
        params = np.asarray(params, dtype=np.float64).ravel()
        if params.shape != (NUM_PARAMS,):
            raise ValueError(f"ant: expected {NUM_PARAMS} parameters, got {params.shape}")
        failed = float("nan"), np.full(NUM_LEGS, np.nan)
        if not np.isfinite(params).all():
            return failed
        mujoco, m, d = self._mujoco, self.model, self.data
        ctrl = self.controls(params)
        self.reset()
        x0 = float(d.qpos[0])
        touched, lut, ngeom = self._touched, self._pair_foot, m.ngeom
        touched[:] = False
        step = mujoco.mj_step
        for k in range(len(ctrl)):
            d.ctrl[:] = ctrl[k]
            step(m, d)
            if d.ncon:
                contact = d.contact
                touched[k, lut[contact.geom1 * ngeom + contact.geom2]] = True
        distance = float(d.qpos[0]) - x0
        if d.warning[mujoco.mjtWarning.mjWARN_BADQACC].number or not np.isfinite(distance):
            return failed  # pragma: no cover - the servo's torque limit keeps MuJoCo stable
        return distance, touched[:, :NUM_LEGS].mean(axis=0)

    def close(self) -> None:
        self.env.close()
