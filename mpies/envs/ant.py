"""The legged-robot damage-recovery task of Cully et al. (Nature 2015) on gymnasium's MuJoCo Ant-v5.

``env = "ant"``, ``env_kwargs = {duration = 5.0, damage = "none"}``.

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
    class constants :attr:`AntGaitTask.KP` and :attr:`AntGaitTask.KD`, so the torque envelope is
    exactly Ant-v5's. The servo is computed by MuJoCo at every physics step (0.01 s, the RK4 step
    of Ant-v5), and the target advances one sample of the 100-sample table per physics step.
    (Feeding the signal directly as the torque makes the light ant bounce rather than walk.)
    The episode loop drives MuJoCo directly (``mj_step``), not ``env.step``: no observations or
    rewards are computed, and after the model edits ``env.step``'s actions would be target angles.

Episode
    ``duration`` seconds of simulated time (``round(duration / 0.05)`` Ant-v5 steps of 5 physics
    steps each), no early termination, no reset noise: every evaluation starts from the same state
    and runs the same length, so an evaluation is **deterministic and the seeds are ignored** (as
    is ``action_noise``; several seeds cost one episode). ``length`` and ``steps`` are the number
    of Ant-v5 steps (0.05 s) simulated.

Fitness and descriptor
    Fitness is the forward distance: the torso's x displacement over the episode, in meters.
    The behaviour descriptor is, for each of the 4 feet, the fraction of the episode's physics
    steps (0.01 s) in which the foot (the lower-leg "ankle" capsule) is in MuJoCo's contact list
    with the floor (i.e. within the model's 1 cm contact margin), in ``[0, 1]^4``, feet in leg order.

Legs
    Leg ``K`` is gymnasium's leg ``K + 1`` (joints ``hip_{K+1}``, ``ankle_{K+1}``). With +x forward
    and +y to the left, their hips are at: 0 front left (+x, +y), 1 back left (-x, +y),
    2 back right (-x, -y), 3 front right (+x, -y).

Damage (``env_kwargs.damage``), applied to the MuJoCo model once, after the environment is made;
see :data:`DAMAGES`. Several damages to different legs combine with commas: ``"leg=0,weak=2"``.
"""

from __future__ import annotations

import re

import numpy as np

from ..config import ConfigError

DAMAGES = {
    "none": "the intact robot",
    "leg=K": "leg K (0-3) removed: its geoms stop colliding (and are hidden), its bodies keep 1e-4 of "
             "their mass, its two motors get gear 0",
    "locked=K": "leg K's joints locked at the standing posture (the centre of their range): motors get "
                "gear 0 and the joint ranges shrink to that angle",
    "weak=K": "leg K's two motors at 30% strength (gear x 0.3: 30% of the torque, same servo gains)",
}
"""The damage forms ``env_kwargs.damage`` accepts (comma-separated, one per leg)."""

ARRAY_DIM = 100          # samples per period (Cully's reference controller)
PERIOD = 1.0             # seconds
KERNEL_HALF_WIDTH = ARRAY_DIM // 10
KERNEL_SIGMA = float(KERNEL_HALF_WIDTH // 3)  # the reference computes it in integer arithmetic: 3
NUM_LEGS = 4
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
    """``env_kwargs.damage`` -> {leg: kind}; raises ConfigError naming ``env_kwargs.damage``."""
    allowed = ", ".join(repr(form) for form in DAMAGES)
    if damage is None:
        return {}
    if not isinstance(damage, str):
        raise ConfigError(f"env_kwargs.damage: got {damage!r}; expected a string, one of {allowed} "
                          f"(K = 0..{NUM_LEGS - 1}; combine legs with commas, e.g. 'leg=0,weak=2')")
    text = damage.strip().lower()
    if text in ("", "none"):
        return {}
    out: dict[int, str] = {}
    for item in text.split(","):
        match = _DAMAGE_RE.match(item.strip())
        leg = int(match.group(2)) if match else -1
        if not match or leg >= NUM_LEGS:
            raise ConfigError(f"env_kwargs.damage: got {damage!r}; allowed: {allowed} (K = 0..{NUM_LEGS - 1}; "
                              f"combine legs with commas, e.g. 'leg=0,weak=2')")
        if leg in out:
            raise ConfigError(f"env_kwargs.damage: got {damage!r}; leg {leg} is damaged twice (one damage per leg)")
        out[leg] = match.group(1)
    return out


class AntGaitTask:
    """Cully et al.'s legged-robot task on MuJoCo Ant-v5 (see the module docstring).

    ``evaluate(params, seeds)`` -> :class:`Evaluation` with ``fitness`` = forward distance (m),
    ``descriptor`` = per-foot ground-contact fraction in ``[0, 1]^4``.
    """

    obs_dim = 0
    descriptor_dim = NUM_LEGS
    DESCRIPTOR_BOUNDS = (0.0, 1.0)
    DAMAGES = DAMAGES
    OPTIONS = {"duration": 5.0, "damage": "none"}
    KP = 5.0   # servo: action per radian of error (x gear 150 = 750 N m / rad)
    KD = 0.3   # servo: action per rad/s (x gear 150 = 45 N m s / rad; damping ratio ~0.8)

    def __init__(self, config):
        kwargs = {**self.OPTIONS, **config.env_kwargs}
        unknown = set(kwargs) - set(self.OPTIONS)
        if unknown:
            raise ConfigError(f"env_kwargs: {sorted(unknown)} not understood by ant; allowed: "
                              + ", ".join(self.OPTIONS))
        self.damage = parse_damage(kwargs["damage"])
        duration = kwargs["duration"]
        import gymnasium as gym
        import mujoco

        from ..tasks import Evaluation  # here, not at the top: mpies.tasks may import this module
        self._mujoco, self._Evaluation = mujoco, Evaluation
        self.env = gym.make("Ant-v5", terminate_when_unhealthy=False, reset_noise_scale=0.0,
                            disable_env_checker=True)
        self.model, self.data = self.env.unwrapped.model, self.env.unwrapped.data
        self.dt = float(self.env.unwrapped.dt)
        if (isinstance(duration, bool) or not isinstance(duration, (int, float)) or not np.isfinite(duration)
                or duration < self.dt):
            self.env.close()
            raise ConfigError(f"env_kwargs.duration: got {duration!r}; expected a number of seconds >= "
                              f"{self.dt:g} (one Ant-v5 step)")
        self.duration = float(duration)
        self.num_params = 3 * 2 * NUM_LEGS
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
        self._actuator_of = np.array([int(np.flatnonzero(act_joint == j)[0]) for j in joint_ids.ravel()])
        self._joint_ids = joint_ids
        root = m.jnt_bodyid[0]  # the torso (free joint)
        floor = [g for g in range(m.ngeom) if m.geom_bodyid[g] == 0]
        self._leg_bodies, self._feet = [], []
        for leg in range(NUM_LEGS):
            top = m.jnt_bodyid[joint_ids[leg, 0]]
            while m.body_parentid[top] != root:
                top = m.body_parentid[top]
            bodies = [b for b in range(m.nbody) if self._descends(b, top)]
            self._leg_bodies.append(bodies)
            self._feet.append([g for g in range(m.ngeom) if m.geom_bodyid[g] == m.jnt_bodyid[joint_ids[leg, 1]]])
        # contact pair (geom1 * ngeom + geom2) -> foot index, NUM_LEGS for any other pair
        lut = np.full(m.ngeom * m.ngeom, NUM_LEGS, dtype=np.int64)
        for leg, geoms in enumerate(self._feet):
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
        self._centre = ((lo + hi) / 2)[self._actuator_of]   # in params order
        self._half = ((hi - lo) / 2)[self._actuator_of]

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
        self._locked_qpos = np.zeros(0, dtype=np.int64)
        self._locked_value = np.zeros(0)
        locked_q, locked_v = [], []
        for leg, kind in sorted(self.damage.items()):
            actuators = self._actuator_of[2 * leg:2 * leg + 2]
            if kind == "weak":
                m.actuator_gear[actuators, 0] *= WEAK_FRACTION
                continue
            m.actuator_gear[actuators, 0] = 0.0
            if kind == "leg":
                for body in self._leg_bodies[leg]:
                    m.body_mass[body] *= REMOVED_MASS_FRACTION
                    m.body_inertia[body] *= REMOVED_MASS_FRACTION
                for g in range(m.ngeom):
                    if m.geom_bodyid[g] in self._leg_bodies[leg]:
                        m.geom_contype[g] = m.geom_conaffinity[g] = 0
                        m.geom_rgba[g, 3] = 0.0
            else:  # locked: the joint range shrinks to the standing angle (the range centre)
                for j, value in zip(self._joint_ids[leg], self._centre[2 * leg:2 * leg + 2]):
                    m.jnt_range[j] = (value - LOCK_HALF_WIDTH, value + LOCK_HALF_WIDTH)
                    locked_q.append(m.jnt_qposadr[j])
                    locked_v.append(value)
        self._locked_qpos = np.array(locked_q, dtype=np.int64)
        self._locked_value = np.array(locked_v)
        self._set_servo_gains()

    # ------------------------------------------------------------------ task interface
    def initial_params(self, rng: np.random.Generator) -> np.ndarray:
        """Uniform in [0, 1]^24 (a random gait; at the search's own scale)."""
        return rng.random(self.num_params)

    def targets(self, params) -> np.ndarray:
        """Joint-angle targets over one period: float ``(8, 100)`` in params joint order."""
        return self._centre[:, None] + self._half[:, None] * control_signals(params)

    def evaluate(self, params, seeds=(0,), normalizer=None, action_noise=0.0, collect_obs=False,
                 noise_stream=0):
        """One deterministic episode (``seeds``, ``action_noise`` ignored; see the module docstring)."""
        params = np.asarray(params, dtype=np.float64).ravel()
        if params.shape != (self.num_params,):
            raise ValueError(f"ant: expected {self.num_params} parameters, got {params.shape}")
        if not np.isfinite(params).all():
            return self._failed()
        mujoco, m, d = self._mujoco, self.model, self.data
        ctrl = np.empty((ARRAY_DIM, m.nu))
        ctrl[:, self._actuator_of] = self.targets(params).T
        ctrl = ctrl[self._sample]
        self.env.reset(seed=0)
        d.qpos[self._locked_qpos] = self._locked_value
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
            return self._failed()  # pragma: no cover - the servo's torque limit keeps MuJoCo stable
        descriptor = touched[:, :NUM_LEGS].mean(axis=0)
        return self._Evaluation(distance, float(self.episode_steps), self.episode_steps, descriptor=descriptor)

    def _failed(self):
        return self._Evaluation(float("nan"), 0.0, 0, descriptor=np.full(NUM_LEGS, np.nan))

    def close(self) -> None:
        self.env.close()
