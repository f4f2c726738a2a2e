"""Curves of several runs (seeds) of one configuration as one: a centre line and a band.

``mpies plot --aggregate median`` draws the median with the interquartile range;
``--aggregate mean`` the mean with a 95% confidence interval of the mean (1.96 standard errors,
normal approximation). Runs are grouped by their configuration without ``seed``, ``name`` and
``output``, or by ``--group-by`` (a config field, or file-name patterns): :func:`group_runs`.
"""

from __future__ import annotations

import fnmatch
import json
import tomllib
from pathlib import Path

import numpy as np

STATISTICS = ("median", "mean")
GRID_POINTS = 200
"""Points of the common horizontal grid when runs are aligned by env_steps or wall_time."""
IGNORED_FIELDS = ("seed", "name", "output")
"""Config fields that do not make runs different configurations."""


def field_value(config: dict, field: str):
    """The value of the dotted ``field`` (``strategy.sigma``) in a parsed config, or None."""
    node = config
    for key in field.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def is_pattern(text: str) -> bool:
    return any(c in text for c in "*?[")


def group_runs(runs, group_by: tuple[str, ...] = ()) -> dict[str, list]:
    """``label -> runs`` in the order of first appearance.

    Args:
        runs: objects with ``path`` and ``config`` (the stored TOML text).
        group_by: empty: one group per configuration, its fields but :data:`IGNORED_FIELDS`
            equal (labelled by the config's ``name``); one config field (``algorithm``,
            ``strategy.population``): one group per value (labelled ``field=value``); or file-name
            patterns (``'runs/ars-*'``, matched against the path as given and its file name): one
            group per pattern, a run in the first that matches. A run no pattern matches is
            left out.

    Raises:
        ValueError: more than one field, fields mixed with patterns, or a field no run has
            (the message names it).
    """
    patterns = [g for g in group_by if is_pattern(g)]
    fields = [g for g in group_by if not is_pattern(g)]
    if fields and (patterns or len(fields) > 1):
        raise ValueError(f"--group-by: got {', '.join(group_by)}; give one config field, or file-name patterns")
    groups: dict[str, list] = {}
    if patterns:
        for run in runs:
            match = next((p for p in patterns if fnmatch.fnmatch(run.path, p)
                          or fnmatch.fnmatch(Path(run.path).name, p)), None)
            if match is not None:
                groups.setdefault(match, []).append(run)
        return groups
    configs = [tomllib.loads(run.config) for run in runs]
    if fields:
        values = [field_value(c, fields[0]) for c in configs]
        if all(v is None for v in values):
            raise ValueError(f"--group-by: no run's config has the field {fields[0]!r}")
        for run, value in zip(runs, values):
            groups.setdefault(f"{fields[0]}={value}", []).append(run)
        return groups
    keys: dict[str, str] = {}
    for run, config in zip(runs, configs):
        key = json.dumps({k: v for k, v in config.items() if k not in IGNORED_FIELDS}, sort_keys=True, default=str)
        label = keys.setdefault(key, _unique(str(config.get("name", "run")), keys.values()))
        groups.setdefault(label, []).append(run)
    return groups


def _unique(label: str, taken) -> str:
    taken = set(taken)
    if label not in taken:
        return label
    k = 2
    while f"{label} ({k})" in taken:
        k += 1
    return f"{label} ({k})"


def aggregate(curves: list[tuple[np.ndarray, np.ndarray]], statistic: str = "median", by_index: bool = False):
    """One centre line and band from the ``(x, y)`` curves of several runs (NaN y = no value).

    Args:
        curves: per run, ``x`` and ``y`` float ``(n_i,)``, ``x`` increasing.
        statistic: ``"median"`` (band: 25th to 75th percentile) or ``"mean"`` (band: mean +- 1.96
            standard errors; zero width for one run).
        by_index: ``x`` holds exact shared values (generations): runs are compared at the values
            they all have. Otherwise (env_steps, wall_time) every curve is linearly interpolated
            onto :data:`GRID_POINTS` points over the range that every run covers.

    Returns:
        ``(x, centre, low, high, runs)``, float ``(m,)`` each but ``runs`` (int ``(m,)``, the runs
        with a value at each point); points where no run has a value are dropped.
    """
    if statistic not in STATISTICS:
        raise ValueError(f"statistic: got {statistic!r}; expected one of {STATISTICS}")
    valid = [(np.asarray(x, float)[~np.isnan(y)], np.asarray(y, float)[~np.isnan(y)]) for x, y in curves]
    valid = [(x, y) for x, y in valid if x.size]
    if not valid:
        empty = np.zeros(0)
        return empty, empty, empty, empty, np.zeros(0, dtype=int)
    if by_index:
        grid = np.unique(np.concatenate([x for x, _ in valid]))
        table = np.full((len(valid), grid.size), np.nan)
        for row, (x, y) in zip(table, valid):
            row[np.searchsorted(grid, x)] = y
    else:
        low_x, high_x = max(x[0] for x, _ in valid), min(x[-1] for x, _ in valid)
        if low_x > high_x:  # runs that share no range of x: nothing can be compared
            empty = np.zeros(0)
            return empty, empty, empty, empty, np.zeros(0, dtype=int)
        grid = np.linspace(low_x, high_x, GRID_POINTS) if high_x > low_x else np.array([low_x])
        table = np.array([np.interp(grid, x, y) for x, y in valid])
    counts = np.sum(~np.isnan(table), axis=0)
    keep = counts > 0
    grid, table, counts = grid[keep], table[:, keep], counts[keep]
    if statistic == "median":
        centre = np.nanmedian(table, axis=0)
        low, high = np.nanpercentile(table, [25, 75], axis=0)
    else:
        centre = np.nanmean(table, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):  # a point with one run: no spread
            spread = np.nanstd(table, axis=0, ddof=1) if table.shape[0] > 1 else np.zeros(grid.size)
        half = np.where(counts > 1, 1.96 * spread / np.sqrt(counts), 0.0)
        low, high = centre - half, centre + half
    return grid, centre, low, high, counts
