"""``mpies plot``: learning curves of one or more runs, overlaid; or (``--archive``) the archive of a
quality-diversity run as a heatmap of fitness over the descriptor space.

Curves: by default those of the run's history family (:data:`DEFAULT_FIELDS`): fitness_mean,
fitness_max and eval_return for a search run, qd_score and archive_filled for a quality-diversity
run, fitness_mean, fitness_max and score_max for POET. There the returns (members' fitness,
evaluations, pair scores) share a panel and every other column gets its own (qd_score, a sum over
cells, and counts differ from a return by orders of magnitude). ``-y`` names any history column
(:data:`mpies.io.schema.ALL_FIELDS`), each drawn in a panel of its own labelled with its unit;
one that a file's history lacks is an error. The horizontal axis is the generation (integer
ticks), the environment steps or the wall time in seconds (``-x``).

Seeds (``--aggregate median|mean``): runs of one configuration are drawn as one curve, the median
with the interquartile range or the mean with a 95% confidence interval, grouped by config or
``--group-by`` (:mod:`mpies.cli.aggregate`).

Archive heatmaps (``--archive``, one run file):

* grid, 2 descriptor dimensions: one image over the bins, axes spanning the descriptor bounds;
* grid, 1 or more than 2 dimensions: the nested-grid layout of Cully et al. 2015 (Nature, the
  hexapod repertoire): dimensions (0, 1) choose an outer block, (2, 3) the cell within it, and so
  on (see :func:`nested_grid_image`);
* CVT, 2 dimensions: the Voronoi cells of the centroids, coloured by fitness; CVT, other
  dimension counts: scatter plots of the centroids projected on pairs of dimensions.

Empty cells are left blank.

POET runs (``algorithm = "poet"``, one run file, no ``-y``): a figure of two panels, (a) each
pair's score over the iterations (from ``/poet/scores``, one line per pair labelled by its id and
terrain) and (b) the environment family tree: one node per pair at its creation iteration, in a
lane of its own (lanes in creation order), an edge from each parent pair to its child (down the
child's creation iteration from the parent's lane), nodes coloured by the pair's best score, a
grey line for each pair's lifetime (ending in a cross where it was removed), and each accepted
transfer as a thin orange segment from the source's lane to the target's just after the
transfer's iteration, with a triangle at the target. With ``-y`` or several files, POET runs get
the learning curves as any run.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import numpy as np

from ..io.archive import read_archive_run
from ..io.history import POET, QD, SEARCH, read_run_history, require_columns
from ..io.reader import check_run_file
from ..io.schema import ALL_FIELDS, UNITS
from ..io.summary import read_poet
from ..extras import require
from ..qd.archives import nearest_centroid
from .aggregate import STATISTICS, aggregate, group_runs
from .errors import fail, user_errors

X_AXES = ("generation", "env_steps", "wall_time")
Y_FIELDS = tuple(n for n in ALL_FIELDS if n not in X_AXES)
DEFAULT_FIELDS = {SEARCH: ("fitness_mean", "fitness_max", "eval_return"),
                  QD: ("qd_score", "archive_filled"),
                  POET: ("fitness_mean", "fitness_max", "score_max")}
"""History family -> the curves drawn when no ``-y`` is given."""
RETURN_PANEL = "return"
SHARED = tuple(n for n in Y_FIELDS if UNITS[n] == "return" and n != "qd_score")
"""Columns drawn in the one "return" panel; qd_score, a sum over cells, gets a panel of its own."""
LABELS = {"qd_score": "QD score", "archive_filled": "filled cells"}
X_LABELS = {"generation": "generation", "env_steps": "environment steps", "wall_time": "wall time (s)"}
STYLES = {"fitness_mean": "-", "fitness_max": ":", "eval_return": "o-"}
VORONOI_PIXELS = 400
"""Raster resolution (per side) of a 2-D CVT archive's Voronoi image."""


def image_path(output: str) -> str:
    """Where the image goes: ``output``, with matplotlib's default extension (png) when it has
    none. Ends the command (one line, exit 2) if its folder is missing or not writable, or the
    extension names a format matplotlib cannot write -- before any file is read."""
    # here, not at the top: the other commands start without matplotlib
    matplotlib = require("matplotlib", "plot", "mpies plot", field="plot")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(output)
    if not path.suffix:
        path = path.with_name(f"{path.name}.{matplotlib.rcParams['savefig.format']}")
    folder = path.parent
    if not folder.is_dir():
        fail(f"-o: {output}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        fail(f"-o: {output}: folder {str(folder)!r} is not writable")
    formats = FigureCanvasAgg.get_supported_filetypes()
    if path.suffix[1:].lower() not in formats:
        fail(f"-o: {output}: matplotlib cannot write {path.suffix!r} images; use one of "
             + ", ".join(sorted(formats)))
    return str(path)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", default="curve.png", type=click.Path(dir_okay=False),
              help="image file; its extension names the format (png, pdf, svg, ...)")
@click.option("-x", "x_axis", default="generation", type=click.Choice(X_AXES), help="horizontal axis")
@click.option("-y", "y_fields", multiple=True, type=click.Choice(Y_FIELDS),
              help="history columns to draw (repeatable) [default: fitness_mean, fitness_max and "
                   "eval_return; qd_score and archive_filled for quality-diversity runs; "
                   "fitness_mean, fitness_max and score_max for POET]")
@click.option("--aggregate", type=click.Choice(STATISTICS), default=None,
              help="one curve per configuration over its runs (seeds): the median with the "
                   "interquartile band, or the mean with a 95%% confidence band")
@click.option("--group-by", "group_by", multiple=True, metavar="FIELD|PATTERN",
              help="with --aggregate: group runs by a config field (e.g. algorithm, "
                   "strategy.population) or by quoted file-name patterns (repeatable, e.g. "
                   "'runs/ars-*') [default: runs whose configs differ only in seed]")
@click.option("--archive", "archive", is_flag=True,
              help="draw the archive of a quality-diversity run (one file) as a fitness heatmap "
                   "instead of curves")
@user_errors
def plot(paths, output, x_axis, y_fields, aggregate, group_by, archive):
    """Draw learning curves of the run files PATHS into one image, or with --archive the
    archive of one quality-diversity run.

    \b
    Examples:
      mpies plot runs/cartpole-seed0.h5 -o curve.png
      mpies plot runs/hopper-seed*.h5 --aggregate median -x env_steps -o hopper.png
      mpies plot runs/*.h5 --aggregate mean --group-by algorithm -y eval_return -x wall_time
    """
    output = image_path(output)
    if archive and len(paths) != 1:
        fail(f"--archive draws one run file; got {len(paths)}")
    if group_by and not aggregate:
        fail("--group-by groups runs for --aggregate; pass --aggregate median or --aggregate mean")
    for path in paths:
        check_run_file(path)
    import matplotlib  # image_path checked that it is installed
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if archive:
        fig = _archive_figure(plt, paths[0])
    else:
        runs = [read_run_history(path) for path in paths]
        if len(runs) == 1 and not y_fields and not aggregate and runs[0].family == POET:
            fig = poet_figure(plt, paths[0], x_axis)
        else:
            fig = _curves_figure(plt, runs, x_axis, y_fields, aggregate, group_by)
    fig.savefig(output, dpi=120)
    plt.close(fig)
    click.echo(f"wrote {output}")


# --------------------------------------------------------------------------- curves
def _panel(field: str, own_panels: bool) -> str:
    return RETURN_PANEL if field in SHARED and not own_panels else field


def _ylabel(panel: str) -> str:
    """The panel's axis label: a name of :data:`LABELS`, else the column with its unit."""
    if panel in LABELS or panel == RETURN_PANEL:
        return LABELS.get(panel, panel)
    return panel if UNITS[panel] == "1" else f"{panel} ({UNITS[panel]})"


def _curves_figure(plt, runs, x_axis, y_fields, statistic=None, group_by=()):
    """Curves of ``runs`` (RunHistory): one per run and field, or with ``statistic`` one per group
    of runs and field with its band. ``y_fields`` given: a panel per field."""
    fields_of = [y_fields or DEFAULT_FIELDS[run.family] for run in runs]
    for run, fields in zip(runs, fields_of):
        require_columns(run, fields)  # before drawing anything
    own_panels = bool(y_fields)
    panels = list(dict.fromkeys(_panel(field, own_panels) for fields in fields_of for field in fields))
    fig, axes = plt.subplots(len(panels), 1, sharex=True, squeeze=False,
                             figsize=(8, 5 if len(panels) == 1 else 1.2 + 2.9 * len(panels)))
    axes = {panel: ax for panel, ax in zip(panels, axes[:, 0])}
    if statistic:
        _draw_groups(axes, runs, fields_of, x_axis, statistic, group_by, own_panels)
    else:
        for i, (run, fields) in enumerate(zip(runs, fields_of)):
            for field in fields:
                y = run.history[field].astype(float)
                keep = ~np.isnan(y)
                axes[_panel(field, own_panels)].plot(
                    run.history[x_axis][keep], y[keep], STYLES.get(field, "-"), color=f"C{i % 10}",
                    markersize=3, label=f"{Path(run.path).stem} ({run.env}) {field}")
    for panel, ax in axes.items():
        ax.set_ylabel(_ylabel(panel))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    bottom = axes[panels[-1]]
    bottom.set_xlabel(X_LABELS[x_axis])
    if x_axis == "generation":
        from matplotlib.ticker import MaxNLocator
        bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return fig


def _draw_groups(axes, runs, fields_of, x_axis, statistic, group_by, own_panels):
    try:
        groups = group_runs(runs, tuple(group_by))
    except ValueError as exc:
        fail(str(exc))
    if not groups:
        fail(f"--group-by: no run file matches {', '.join(group_by)}")
    fields_of_run = {run.path: fields for run, fields in zip(runs, fields_of)}
    band = "IQR" if statistic == "median" else "95% CI"
    for i, (label, members) in enumerate(groups.items()):
        for field in fields_of_run[members[0].path]:
            curves = [(run.history[x_axis].astype(float), run.history[field].astype(float)) for run in members]
            x, centre, low, high, _ = aggregate(curves, statistic, by_index=x_axis == "generation")
            ax = axes[_panel(field, own_panels)]
            style = "-" if STYLES.get(field, "-") == "o-" and x.size > 40 else STYLES.get(field, "-")
            ax.plot(x, centre, style, color=f"C{i % 10}", markersize=3,
                    label=f"{label} {field}: {statistic} of {len(members)} run{'s' * (len(members) != 1)} ({band})")
            ax.fill_between(x, low, high, color=f"C{i % 10}", alpha=0.2, linewidth=0)


# --------------------------------------------------------------------------- POET
POET_LEGEND_MAX = 15
"""Pairs up to which the score panel has a legend; beyond, each line's end is labelled by its id."""


def _iteration_to_x(history: np.ndarray, x_axis: str):
    """Map iterations (counted from 1; 0 is the start) to the horizontal axis: identity for
    ``generation``, else through the history (an iteration without a history row maps to NaN and
    is not drawn; iteration 0 to 0 steps or seconds)."""
    if x_axis == "generation":
        return lambda it: np.asarray(it, dtype=float)
    table = np.full(int(history["generation"].max()) + 1 if history.size else 1, np.nan)
    table[0] = 0.0
    table[history["generation"]] = history[x_axis]

    table = np.append(table, np.nan)  # the slot of every iteration outside the history

    def to_x(it):
        it = np.asarray(it, dtype=np.int64)
        return table[np.where((it >= 0) & (it < table.size - 1), it, table.size - 1)]
    return to_x


def poet_figure(plt, path, x_axis="generation"):
    """The POET figure of one run file: pair scores (top) and the family tree (bottom)."""
    a = read_poet(path)
    pairs, events, scores = a["pairs"], a["events"], a["scores"]
    to_x = _iteration_to_x(a["history"], x_axis)
    lane = {p["pair_id"]: i for i, p in enumerate(pairs)}
    # a column of its own for the colour bar keeps both panels the same width (shared x)
    fig, axes = plt.subplots(
        2, 2, figsize=(9.5, 4.5 + min(0.25 * len(pairs), 6)),
        gridspec_kw={"height_ratios": [1, max(1.0, min(len(pairs) / 8, 2.0))], "width_ratios": [40, 1]})
    (ax_scores, spare), (ax_tree, cax) = axes
    spare.axis("off")
    ax_tree.sharex(ax_scores)
    ax_scores.tick_params(labelbottom=False)

    # (a) scores
    for i, p in enumerate(pairs):
        mine = scores[scores["pair_id"] == p["pair_id"]]
        if not mine.size:
            continue
        x, y = to_x(mine["iteration"]), mine["score"].astype(float)
        keep = ~np.isnan(x) & ~np.isnan(y)
        ax_scores.plot(x[keep], y[keep], "-", color=f"C{i % 10}", lw=1.2,
                       label=f"{p['pair_id']}: {p['describe']}")
        if len(pairs) > POET_LEGEND_MAX and keep.any():
            ax_scores.annotate(str(p["pair_id"]), (x[keep][-1], y[keep][-1]), fontsize=6,
                               xytext=(2, 0), textcoords="offset points", va="center")
    low, high = ax_scores.get_ylim()
    if low <= a["solved_score"] <= high:
        ax_scores.axhline(a["solved_score"], color="0.4", ls="--", lw=0.8, label="solved")
    ax_scores.set_ylabel("pair score")
    ax_scores.grid(alpha=0.3)
    if len(pairs) <= POET_LEGEND_MAX and ax_scores.get_legend_handles_labels()[0]:
        ax_scores.legend(fontsize=7, loc="best")
    counts = a["counts"]
    ax_scores.set_title(f"{Path(path).stem} ({a['env']}): {counts['pairs_created']} pairs created, "
                        f"{counts['transfers_accepted']} transfers accepted, {counts['pairs_removed']} removed",
                        fontsize=9)

    # (b) family tree
    from matplotlib.collections import LineCollection

    last_iteration = int(scores["iteration"].max()) if scores.size else int(events["iteration"].max())
    node_x = to_x([p["created_at"] for p in pairs])
    node_y = np.arange(len(pairs), dtype=float)
    ends = to_x([p["removed_at"] if p["removed_at"] >= 0 else last_iteration for p in pairs])
    ax_tree.add_collection(LineCollection(
        [[(x0, y), (x1, y)] for x0, x1, y in zip(node_x, ends, node_y)], colors="0.8", linewidths=1.0,
        zorder=1))
    removed = [i for i, p in enumerate(pairs) if p["removed_at"] >= 0]
    if removed:
        ax_tree.scatter(ends[removed], node_y[removed], marker="x", color="0.4", s=20, zorder=2,
                        label="removed")
    # parent -> child: down the child's creation iteration from the parent's lane (elbow layout)
    edges = [[(node_x[i], lane[p["parent_id"]]), (node_x[i], i)]
             for i, p in enumerate(pairs) if p["parent_id"] in lane]
    ax_tree.add_collection(LineCollection(edges, colors="0.25", linewidths=1.0, zorder=2, gid="poet-edges"))
    transfers = events[np.char.startswith(events["kind"], b"transfer")]
    transfers = transfers[np.isin(transfers["source_id"], list(lane)) & np.isin(transfers["pair_id"], list(lane))]
    if transfers.size:
        # transfers of one iteration side by side, between 0.15 and 0.45 of the way to the next
        # iteration (clear of the parent -> child edges drawn at the iteration itself)
        iterations = transfers["iteration"]
        rank = np.zeros(iterations.size)
        for it in np.unique(iterations):
            at = np.flatnonzero(iterations == it)
            rank[at] = 0.15 + 0.3 * np.arange(at.size) / max(at.size - 1, 1)
        here, after = to_x(iterations), to_x(iterations + 1)
        tx = np.where(np.isnan(after), here, here + rank * (after - here))
        src = np.array([lane[int(i)] for i in transfers["source_id"]], dtype=float)
        dst = np.array([lane[int(i)] for i in transfers["pair_id"]], dtype=float)
        ax_tree.add_collection(LineCollection([[(x, s), (x, d)] for x, s, d in zip(tx, src, dst)],
                                              colors="tab:orange", linewidths=0.6, alpha=0.7, zorder=3))
        label = "transfer (source \u2192 target)"
        for mask, marker in ((dst > src, "v"), (dst <= src, "^")):  # lanes run downwards
            if mask.any():
                ax_tree.scatter(tx[mask], dst[mask], marker=marker, s=16, color="tab:orange", zorder=3,
                                linewidths=0, label=label)
                label = None
    best = np.array([p["best_score"] for p in pairs], dtype=float)
    finite = best[np.isfinite(best)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if vmin == vmax:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    nodes = ax_tree.scatter(node_x, node_y, c=best, s=60, zorder=4, edgecolors="0.2", linewidths=0.6,
                            cmap=plt.get_cmap("viridis").with_extremes(bad="0.85"), vmin=vmin, vmax=vmax,
                            plotnonfinite=True, gid="poet-pairs")
    fig.colorbar(nodes, cax=cax, label="best score")
    for x, y, p in zip(node_x, node_y, pairs):
        ax_tree.annotate(str(p["pair_id"]), (x, y), xytext=(5, 3), textcoords="offset points", fontsize=7)
    ax_tree.set_ylim(len(pairs) - 0.5, -0.5)  # first pair on top
    if len(pairs) <= 30:
        ax_tree.set_yticks(node_y, [str(p["pair_id"]) for p in pairs], fontsize=7)
    ax_tree.set_ylabel("pair (lane in creation order)")
    ax_tree.set_xlabel("iteration" if x_axis == "generation" else X_LABELS[x_axis])
    ax_tree.autoscale(axis="x")
    ax_tree.grid(alpha=0.3, axis="x")
    if ax_tree.get_legend_handles_labels()[0]:
        ax_tree.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- archives
def nested_grid_image(values: np.ndarray, bins) -> np.ndarray:
    """Lay the per-cell values of a grid archive out as one 2-D image (nested grids).

    Descriptor dimensions are taken in pairs (0, 1), (2, 3), ...; an odd count gets a trailing
    dimension of one bin. Pair 0 picks the outer block, pair 1 the block inside it, and so on;
    within a pair the even dimension runs along x (columns) and the odd one along y (rows). For
    4-D with ``b`` bins per dimension this is an outer ``b x b`` grid over dimensions (0, 1) of
    inner ``b x b`` images over dimensions (2, 3); for 2-D it is the plain grid.

    Args:
        values: ``(prod(bins),)`` one value per cell, cells numbered in row-major order of the
            bin indices (as :class:`mpies.qd.archives.GridArchive` numbers them).
        bins: bins per descriptor dimension.

    Returns:
        ``(prod(bins[1::2]), prod(bins[0::2]))``: the cell with bin indices ``i`` sits at row
        ``ravel_multi_index(i[1::2], bins[1::2])`` and column
        ``ravel_multi_index(i[0::2], bins[0::2])``. Row 0 is the bottom: draw with
        ``origin="lower"``.
    """
    bins = [int(b) for b in np.asarray(bins).reshape(-1)]
    values = np.asarray(values)
    if values.size != int(np.prod(bins)):
        raise ValueError(f"{values.size} values for a grid of {bins} bins ({int(np.prod(bins))} cells)")
    grid = values.reshape(bins)
    if len(bins) % 2:
        grid, bins = grid[..., None], bins + [1]
    order = list(range(1, len(bins), 2)) + list(range(0, len(bins), 2))
    return grid.transpose(order).reshape(int(np.prod(bins[1::2])), int(np.prod(bins[0::2])))


def _archive_figure(plt, path):
    run = read_archive_run(path)
    a = run.archive
    occupied = a.state["occupied"]
    values = np.where(occupied, a.state["fitness"], np.nan)
    filled, cells = int(occupied.sum()), occupied.size
    if filled:
        vmin, vmax = float(np.nanmin(values)), float(np.nanmax(values))
        if vmin == vmax:
            vmin, vmax = vmin - 0.5, vmax + 0.5
    else:
        vmin, vmax = 0.0, 1.0
    cmap = plt.get_cmap("viridis").with_extremes(bad="white")  # empty cells
    style = {"cmap": cmap, "vmin": vmin, "vmax": vmax}
    history = run.history
    title = f"{Path(path).stem} ({run.env}): {filled}/{cells} cells filled ({100 * filled / cells:.1f}%)"
    if history.size and "qd_score" in history.dtype.names:
        title += (f", QD score {history['qd_score'][-1]:.6g} after "
                  f"{int(history['generation'][-1])} generations")
    if filled:
        title += f"\nbest {vmax:.4g}, mean {float(np.nanmean(values)):.4g}"
    if a.kind == "grid" and a.dims == 2:
        fig, ax = plt.subplots(figsize=(7, 6))
        image = _grid_2d(ax, values, a)
    elif a.kind == "grid":
        fig, ax = plt.subplots(figsize=(8, 7))
        image = _grid_nested(ax, values, a)
    elif a.dims == 2:
        fig, ax = plt.subplots(figsize=(7, 6))
        image = _cvt_2d(ax, values, a)
    else:
        return _cvt_projections(plt, values, a, style, title)
    image.set_cmap(style["cmap"])
    image.set_clim(style["vmin"], style["vmax"])
    fig.colorbar(image, ax=ax, label="fitness (elite of each cell; blank = empty)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def _aspect(lower, upper) -> str:
    """Square pixels unless the descriptor ranges are very unequal."""
    ratio = (upper[0] - lower[0]) / (upper[1] - lower[1])
    return "equal" if 0.25 <= ratio <= 4 else "auto"


def _grid_2d(ax, values, a):
    lower, upper = a.lower, a.upper
    image = ax.imshow(nested_grid_image(values, a.bins), origin="lower", interpolation="nearest",
                      extent=(lower[0], upper[0], lower[1], upper[1]),
                      aspect=_aspect(lower, upper))
    ax.set_xlabel("descriptor 0")
    ax.set_ylabel("descriptor 1")
    return image


def _grid_nested(ax, values, a):
    bins, lower, upper = list(a.bins), a.lower, a.upper
    image = nested_grid_image(values, bins)
    padded = bins + [1] * (len(bins) % 2)
    squat = not 1 / 3 <= image.shape[0] / image.shape[1] <= 3  # e.g. 3-D: stretch, keep it readable
    shown = ax.imshow(image, origin="lower", interpolation="nearest", aspect="auto" if squat else "equal",
                      extent=(0, image.shape[1], 0, image.shape[0]))
    # the outer blocks: separators and ticks at their centres labelled by the outer bins' centres
    inner_x, inner_y = int(np.prod(padded[2::2])), int(np.prod(padded[3::2]))
    for k in range(1, padded[0]):
        ax.axvline(k * inner_x, color="0.35", lw=0.6)
    for k in range(1, padded[1]):
        ax.axhline(k * inner_y, color="0.35", lw=0.6)
    for axis, dim, inner, set_ticks in ((0, 0, inner_x, ax.set_xticks), (1, 1, inner_y, ax.set_yticks)):
        b = padded[dim]
        if dim >= len(bins):
            set_ticks([])
            continue
        step = max(1, int(np.ceil(b / 10)))
        k = np.arange(0, b, step)
        centre = lower[dim] + (k + 0.5) * (upper[dim] - lower[dim]) / b
        set_ticks((k + 0.5) * inner, [f"{c:.3g}" for c in centre], fontsize=7)
    for dim, set_label in ((0, ax.set_xlabel), (1, ax.set_ylabel)):
        inner = ", ".join(str(d) for d in range(dim + 2, len(bins), 2))
        label = f"descriptor {dim}" if dim < len(bins) else ""
        if label and len(bins) > 2:
            label += " (outer blocks)" + (f"; inside each block: descriptor {inner}" if inner else "")
        set_label(label)
    return shown


def _cvt_2d(ax, values, a):
    lower, upper, centroids = a.lower, a.upper, a.centroids
    n = VORONOI_PIXELS
    xs = lower[0] + (np.arange(n) + 0.5) * (upper[0] - lower[0]) / n
    ys = lower[1] + (np.arange(n) + 0.5) * (upper[1] - lower[1]) / n
    gx, gy = np.meshgrid(xs, ys)
    cell = nearest_centroid(np.column_stack([gx.ravel(), gy.ravel()]), centroids).reshape(n, n)
    extent = (lower[0], upper[0], lower[1], upper[1])
    aspect = _aspect(lower, upper)
    image = ax.imshow(values[cell], origin="lower", interpolation="nearest", extent=extent, aspect=aspect)
    edges = np.zeros((n, n), dtype=bool)  # thin grey cell boundaries
    edges[:, 1:] |= cell[:, 1:] != cell[:, :-1]
    edges[1:, :] |= cell[1:, :] != cell[:-1, :]
    overlay = np.zeros((n, n, 4))
    overlay[edges] = (0.5, 0.5, 0.5, 0.35)
    ax.imshow(overlay, origin="lower", interpolation="nearest", extent=extent, aspect=aspect)
    ax.set_xlim(extent[:2])
    ax.set_ylim(extent[2:])
    ax.set_xlabel("descriptor 0")
    ax.set_ylabel("descriptor 1")
    return image


def _cvt_projections(plt, values, a, style, title):
    """CVT archives of 1 or >= 3 dimensions: centroids on pairs of (the first 4) dimensions."""
    centroids, lower, upper = a.centroids, a.lower, a.upper
    dims = centroids.shape[1]
    if dims == 1:
        centroids = np.column_stack([centroids, np.zeros(len(centroids))])
        lower, upper = np.append(lower, -1.0), np.append(upper, 1.0)
        pairs = [(0, 1)]
    else:
        pairs = [(i, j) for i in range(min(dims, 4)) for j in range(i + 1, min(dims, 4))]
    cols = min(3, len(pairs))
    rows = -(-len(pairs) // cols)
    fig, axes = plt.subplots(rows, cols, squeeze=False, figsize=(4.2 * cols + 1.2, 4.0 * rows + 0.8),
                             layout="constrained")
    filled = ~np.isnan(values)
    order = np.argsort(np.where(filled, values, -np.inf), kind="stable")  # best drawn on top
    points = None
    for ax, (i, j) in zip(axes.ravel(), pairs):
        ax.scatter(centroids[~filled, i], centroids[~filled, j], s=4, color="0.75", linewidths=0)
        keep = order[filled[order]]
        points = ax.scatter(centroids[keep, i], centroids[keep, j], c=values[keep], s=10,
                            linewidths=0, **style)
        ax.set_xlim(lower[i], upper[i])
        ax.set_ylim(lower[j], upper[j])
        ax.set_xlabel(f"descriptor {i}")
        ax.set_ylabel(f"descriptor {j}" if dims > 1 else "")
    for ax in axes.ravel()[len(pairs):]:
        ax.axis("off")
    fig.suptitle(title + "\nCVT centroids projected on pairs of descriptors (grey = empty)", fontsize=9)
    fig.colorbar(points, ax=axes.ravel().tolist(), label="fitness (elite of each cell)")
    return fig
