#!/usr/bin/env python
"""Search strategies against pycma: evaluations to reach a target in 10-D, and the per-generation
overhead of every mpies strategy at 10, 100 and 1000 parameters.

What is measured
    1. Evaluations to target. ``mpies.strategies.CMAES`` (``mpies.strategies.CMAESConfig(sigma=...)``,
       everything else at mpies defaults: population 4 + floor(3 ln n), active weights, no
       restarts; perturbations from ``mpies.noise.CounterNoise(seed, n)``) and pycma
       (``cma.CMAEvolutionStrategy(x0, sigma, {'seed': seed + 1, 'verbose': -9, 'maxfevals':
       budget, 'tolfun': 0, 'tolx': 0, 'tolfunhist': 0, 'CMA_diagonal': separable})``) start from
       the same point with the same sigma and minimise ``mpies.envs.functions`` in ``--dim`` 10:

           full CMA-ES   sphere (x0 = 3, sigma = 2), ellipsoid (x0 = 3, sigma = 2),
                         rosenbrock (x0 = 0, sigma = 0.5)
           sep-CMA-ES    sphere, ellipsoid (pycma with CMA_diagonal=True)

       A run counts the evaluations of whole generations until a member reaches f <= 1e-8 (the
       count of tests/test_search_distributions.py: the generation that reaches the target is
       counted in full). A run that ends without reaching the target is a failure and counts as
       infinity: mpies runs until ``--budget`` evaluations; pycma also stops on its own criteria
       left on (e.g. tolstagnation, when stuck in rosenbrock's local minimum near x_1 = -1).
       Reported: the median over ``--seeds`` seeds (0 .. seeds-1) of each, the ratio mpies / pycma
       and the failures.

    2. Per-generation overhead: everything a generation costs except the objective function, i.e.
       ``ask()`` + ``member_params(population, i)`` for every member + ``tell()`` for mpies, and
       ``ask()`` + ``tell()`` for pycma (whose ``ask`` already returns the member vectors). Every
       registered mpies strategy but MAP-Elites (configs at mpies defaults except the population,
       and sigma = 2 for the step-size adapting ones: CMA-ES, sep-CMA-ES, xNES, SNES, LM-MA-ES) and
       pycma full and CMA_diagonal=True, at each of ``--dims``, start from x = 3 and are fed the
       sphere's values (computed, not timed; negated for mpies, which maximises). Like for like:
       every strategy uses the CMA-ES default population 4 + floor(3 ln n) (10, 24 and 38 at 10,
       1,000 and 100,000 parameters), also those whose mpies default is larger (OpenAI-ES 64, CEM
       100, GA 64); those that sample mirrored pairs (OpenAI-ES, PGPE, ARS) round it up to even.
       The dense ones (full CMA-ES, xNES, pycma full: an n x n matrix) are left out above
       n = 5,000, where the matrix alone takes 200 MB. Noise: ``--noise`` generator (CounterNoise, default;
       pycma draws fresh Gaussians too) or table (a private NoiseTable of ``--table-size``).
       After ``--warmup`` untimed generations, ``--repeats`` blocks of G generations are timed
       with ``time.perf_counter`` (G = ``--generations``, by default 200 / 100 / 40 / 10 at n <= 10 /
       <= 100 / <= 1000 / more; 40 spans ~5 of pycma's eigendecomposition intervals at n = 1000); a block
       gives ms per generation = block time / G, and the median over blocks is reported, also
       per phase (ask, member params, tell). One process builds all members here; in an mpies
       run each rank builds only its share, but every rank runs tell.

       Full CMA-ES re-decomposes its covariance (``eigh``, O(n^3)) only every so many generations;
       the script prints the interval of each implementation, the cost of one ``eigh`` and how
       many decompositions fell in the timed generations, since a block's time depends on it.

    BLAS threads are pinned to 1 (OMP/OPENBLAS/MKL_NUM_THREADS set before numpy is imported),
    because mpies runs one process per core; pycma gets the same single thread.

Machine load
    Each script samples, from /proc/stat, how many cores other processes keep busy just before and
    during the measurement and prints a WARNING when that is above 0.2 cores: numbers taken next
    to other work (another MPI job, a test suite) are slower and noisier than the code deserves.

Reproduce
    python scripts/bench_strategies.py                    # 11 seeds, dims 10 1000 100000: a few minutes
    python scripts/bench_strategies.py --quick            # smoke run: 3 seeds, dims 10 1000
    python scripts/bench_strategies.py --skip-evals --dims 100 1000 --noise table
    python scripts/bench_strategies.py --skip-overhead --seeds 21

Output: tables on stdout and JSON in bench-results/bench_strategies.json (``--out`` to change).
Needs pycma (``pip install cma``). Speed and evaluation counts are never asserted here (the
evaluation-count check is tests/test_search_distributions.py).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as common  # noqa: E402  (sets BLAS thread variables before numpy loads)

import numpy as np  # noqa: E402

NAME = "bench_strategies"
TARGET = 1e-8
EVAL_CASES = [  # (function, x0, sigma, separable)
    ("sphere", 3.0, 2.0, False), ("ellipsoid", 3.0, 2.0, False), ("rosenbrock", 0.0, 0.5, False),
    ("sphere", 3.0, 2.0, True), ("ellipsoid", 3.0, 2.0, True)]
PAIRED = ("openai_es", "pgpe", "ars")  # mirrored pairs: an even population
AT_CMA_SIGMA = ("cma_es", "sep_cma_es", "xnes", "snes", "lm_ma_es")  # step-size adapting, from sigma 2
DENSE = {"cma_es": "n x n covariance", "xnes": "n x n transform", "pycma": "n x n covariance"}
DENSE_MAX_DIM = 5000  # above this the dense ones need >= 200 MB per matrix and are left out
PYCMA_VARIANTS = {"pycma": False, "pycma_diag": True}  # name -> CMA_diagonal
PHASES = ("ask", "params", "tell")
X0, CMA_SIGMA = 3.0, 2.0  # start and CMA sigma of the overhead part


def default_population(n: int) -> int:
    """4 + floor(3 ln n), the CMA-ES default (eq. 48 of Hansen's tutorial)."""
    from mpies.strategies.cma_es import default_population as cma_default
    return cma_default(n)


def default_generations(n: int) -> int:
    return 200 if n <= 10 else 100 if n <= 100 else 40 if n <= 1000 else 10


def mpies_strategies() -> list[str]:
    """Every registered search-distribution strategy (quality-diversity ones need descriptors)."""
    from mpies import registry
    return [name for name, entry in registry.algorithms().items()
            if entry.strategy is not None and name != "map_elites"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                epilog="See the module docstring (top of this file) for the method.")
    p.add_argument("--seeds", type=int, default=11, help="seeds (0 .. N-1) per evaluations-to-target case")
    p.add_argument("--budget", type=int, default=30_000, help="evaluations allowed per run")
    p.add_argument("--dim", type=int, default=10, help="dimension of the evaluations-to-target part")
    p.add_argument("--dims", type=int, nargs="+", default=[10, 1000, 100_000],
                   help="dimensions of the overhead part")
    names = mpies_strategies() + list(PYCMA_VARIANTS)
    p.add_argument("--strategies", nargs="+", default=names, choices=names,
                   help="what the overhead part times")
    p.add_argument("--warmup", type=int, default=3, help="untimed generations before timing")
    p.add_argument("--generations", type=int, default=None,
                   help="generations per timed block (default 200 / 100 / 40 for n <= 10 / <= 100 / more)")
    p.add_argument("--repeats", type=int, default=5, help="timed blocks; the median block is reported")
    p.add_argument("--noise", default="generator", choices=["generator", "table"],
                   help="mpies noise source in the overhead part (the evaluations part uses generator)")
    p.add_argument("--table-size", type=int, default=2**22, help="float32 entries of the noise table")
    p.add_argument("--skip-evals", action="store_true", help="skip part 1 (evaluations to target)")
    p.add_argument("--skip-overhead", action="store_true", help="skip part 2 (per-generation overhead)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 3 seeds; dims 10 100; 1 warm-up, 2 blocks of 10 / 5 generations")
    common.add_common_options(p, NAME)
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.dims, args.warmup, args.repeats = 3, [10, 1000], 1, 2
    if min(args.seeds, args.budget, args.repeats) < 1 or args.warmup < 0:
        p.error("--seeds, --budget and --repeats must be >= 1, --warmup >= 0")
    if args.dim < 2 or min(args.dims) < 2:
        p.error("dimensions must be >= 2 (rosenbrock and ln n need it)")
    if args.generations is not None and args.generations < 1:
        p.error("--generations must be >= 1")
    if args.noise == "table" and args.table_size < max(args.dims):
        p.error("--table-size must be >= the largest of --dims")
    return args


def block_generations(args, n: int) -> int:
    if args.generations:
        return args.generations
    return (10 if n <= 10 else 5) if args.quick else default_generations(n)


# ---------------------------------------------------------------- part 1: evaluations to target
def mpies_evals_to_target(f, x0, sigma, seed, budget, separable) -> float:
    from mpies.envs.functions import evals_to_target
    from mpies.noise import CounterNoise
    from mpies.strategies import CMAES, CMAESConfig

    es = CMAES(CMAESConfig(sigma=sigma), np.array(x0, dtype=np.float64), CounterNoise(seed, len(x0)),
               separable)
    return evals_to_target(es, f, budget, TARGET)


def pycma_evals_to_target(f, x0, sigma, seed, budget, separable) -> float:
    import cma

    options = {"seed": seed + 1, "verbose": -9, "maxfevals": budget, "tolfun": 0, "tolx": 0,
               "tolfunhist": 0, "CMA_diagonal": separable}
    es = cma.CMAEvolutionStrategy(list(x0), sigma, options)
    evals = 0
    while not es.stop():
        xs = es.ask()
        values = [f(np.asarray(x)) for x in xs]
        evals += len(xs)
        if min(values) <= TARGET:
            return evals
        es.tell(xs, values)
    return math.inf


def fmt_evals(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:,.0f}"


def run_evals(args) -> tuple[list[dict], str]:
    from mpies.envs.functions import FUNCTIONS

    print(f"\npart 1: evaluations to f <= {TARGET:g} in {args.dim}-D, {args.seeds} seeds, budget "
          f"{args.budget:,} evaluations per run")
    results, rows = [], []
    for function, x0, sigma, separable in EVAL_CASES:
        f, start = FUNCTIONS[function], np.full(args.dim, x0)
        variant = "sep-CMA-ES" if separable else "CMA-ES"
        t0 = time.perf_counter()
        ours = [mpies_evals_to_target(f, start, sigma, s, args.budget, separable) for s in range(args.seeds)]
        t1 = time.perf_counter()
        theirs = [pycma_evals_to_target(f, start, sigma, s, args.budget, separable)
                  for s in range(args.seeds)]
        t2 = time.perf_counter()
        m_ours, m_theirs = common.median(ours), common.median(theirs)
        ratio = m_ours / m_theirs if math.isfinite(m_ours) and math.isfinite(m_theirs) else math.nan
        fail_ours, fail_theirs = sum(map(math.isinf, ours)), sum(map(math.isinf, theirs))
        print(f"  {function:10s} {variant:10s} mpies {fmt_evals(m_ours):>7s} ({t1 - t0:5.1f} s)  "
              f"pycma {fmt_evals(m_theirs):>7s} ({t2 - t1:5.1f} s)  ratio {ratio:.2f}")
        results.append({"function": function, "variant": variant, "separable": separable, "x0": x0,
                        "sigma": sigma, "dim": args.dim,
                        "mpies_evals": [None if math.isinf(v) else v for v in ours],
                        "pycma_evals": [None if math.isinf(v) else v for v in theirs],
                        "mpies_median": None if math.isinf(m_ours) else m_ours,
                        "pycma_median": None if math.isinf(m_theirs) else m_theirs,
                        "ratio": None if math.isnan(ratio) else ratio,
                        "mpies_failures": fail_ours, "pycma_failures": fail_theirs,
                        "mpies_seconds": t1 - t0, "pycma_seconds": t2 - t1})
        rows.append([function, variant, fmt_evals(m_ours), fmt_evals(m_theirs),
                     "n/a" if math.isnan(ratio) else f"{ratio:.2f}",
                     f"{fail_ours}/{args.seeds}", f"{fail_theirs}/{args.seeds}"])
    table = common.format_table(
        ["function", "variant", "mpies median", "pycma median", "ratio", "mpies failures", "pycma failures"],
        rows, title=f"\nevaluations to f <= {TARGET:g}, {args.dim}-D, median over {args.seeds} seeds "
                    f"(failure: target not reached within {args.budget:,} evaluations, counted as inf); "
                    f"ratio = mpies / pycma")
    print(table)
    return results, table


# ---------------------------------------------------------------- part 2: per-generation overhead
def make_mpies(name: str, n: int, lam: int, args):
    from mpies import registry
    from mpies.noise import CounterNoise, NoiseTable

    seed = 0
    noise = NoiseTable(seed, n, args.table_size) if args.noise == "table" else CounterNoise(seed, n)
    entry = registry.get(name)
    kwargs = {"population": lam + lam % 2 if name in PAIRED else lam}
    if name in AT_CMA_SIGMA:
        kwargs["sigma"] = CMA_SIGMA
    if name == "ga":
        kwargs["truncation"] = min(entry.config().truncation, lam)
    if name == "ars":
        kwargs["top_directions"] = min(entry.config().top_directions, kwargs["population"] // 2)
    return entry.strategy(entry.config(**kwargs), np.full(n, X0), noise)


def decompositions(es) -> int:
    """A counter that moves when the full covariance was eigendecomposed (0 where there is none)."""
    from mpies.strategies import CMAES

    if isinstance(es, CMAES):
        return 0 if es.separable else int(es.state.eigen_generation)
    sm = getattr(es, "sm", None)  # pycma
    return int(getattr(sm, "last_update", 0) or 0)


def mpies_generation(es, f) -> list[float]:
    t0 = time.perf_counter()
    population = es.ask()
    t1 = time.perf_counter()
    params = [es.member_params(population, i) for i in range(population.size)]
    t2 = time.perf_counter()
    fitness = -np.array([f(x) for x in params])  # not timed
    t3 = time.perf_counter()
    es.tell(population, fitness)
    t4 = time.perf_counter()
    return [t1 - t0, t2 - t1, t4 - t3]


def pycma_generation(es, f) -> list[float]:
    t0 = time.perf_counter()
    xs = es.ask()  # already the member vectors
    t1 = time.perf_counter()
    values = [f(x) for x in xs]  # not timed
    t2 = time.perf_counter()
    es.tell(xs, values)
    t3 = time.perf_counter()
    return [t1 - t0, 0.0, t3 - t2]


def time_strategy(name: str, n: int, args) -> dict:
    from mpies.envs.functions import sphere

    lam = default_population(n)
    if name in PYCMA_VARIANTS:
        import cma
        es = cma.CMAEvolutionStrategy(np.full(n, X0), CMA_SIGMA,
                                      {"seed": 1, "verbose": -9, "popsize": lam, "tolfun": 0, "tolx": 0,
                                       "tolfunhist": 0, "CMA_diagonal": PYCMA_VARIANTS[name]})
        step, population = pycma_generation, es.popsize
        gap = getattr(getattr(es, "sm", None), "lazy_update_gap", None)
        eigen_gap = None if PYCMA_VARIANTS[name] else gap
    else:
        es = make_mpies(name, n, lam, args)
        step, population = mpies_generation, es.population_size
        eigen_gap = es.params.eigen_gap if name == "cma_es" else None
    for _ in range(args.warmup):
        step(es, sphere)
    gens = block_generations(args, n)
    blocks, per_gen, n_decomp = [], [], 0
    for _ in range(args.repeats):
        phase = np.zeros(len(PHASES))
        for _ in range(gens):
            before = decompositions(es)
            t = step(es, sphere)
            n_decomp += decompositions(es) != before
            phase += t
            per_gen.append(sum(t))
        blocks.append(phase / gens)
    blocks = np.array(blocks)  # (repeats, phases) seconds per generation
    totals = blocks.sum(axis=1)
    return {"strategy": name, "dim": n, "population": population, "generations_per_block": gens,
            "blocks": args.repeats, "ms_per_generation": 1e3 * common.median(totals),
            "phase_ms": {ph: 1e3 * common.median(blocks[:, i]) for i, ph in enumerate(PHASES)},
            "block_ms": (1e3 * totals).tolist(), "max_generation_ms": 1e3 * max(per_gen),
            "decompositions_timed": n_decomp, "timed_generations": gens * args.repeats,
            "eigen_interval_generations": eigen_gap}


def eigh_ms(n: int) -> float:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n))
    c = a @ a.T / n + np.eye(n)
    times = []
    for _ in range(3 if n <= 300 else 2):
        t0 = time.perf_counter()
        np.linalg.eigh(c)
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times)


def run_overhead(args) -> tuple[list[dict], dict, str]:
    names = [s for s in mpies_strategies() + list(PYCMA_VARIANTS) if s in args.strategies]
    print(f"\npart 2: ms per generation excluding the objective, dims {args.dims}, population "
          f"4 + floor(3 ln n) for all (OpenAI-ES rounded up to even; the mpies defaults of openai_es / "
          f"cem / ga are 64 / 100 / 64), noise {args.noise}, {args.warmup} warm-up generations, median "
          f"of {args.repeats} blocks")
    results, eigen = [], {}
    for n in args.dims:
        if n <= DENSE_MAX_DIM:
            eigen[n] = eigh_ms(n)
        for name in names:
            if name in DENSE and n > DENSE_MAX_DIM:
                print(f"  n {n:5d} {name:11s} left out: its {DENSE[name]} would not fit ({n * n * 8 / 2**30:.0f} GiB)")
                continue
            t0 = time.perf_counter()
            r = time_strategy(name, n, args)
            r["seconds"] = time.perf_counter() - t0
            results.append(r)
            print(f"  n {n:5d} {name:11s} lambda {r['population']:3d}: {r['ms_per_generation']:9.3f} ms/gen "
                  f"(blocks " + ", ".join(f"{b:.3f}" for b in r["block_ms"]) + f"; {r['seconds']:.1f} s)")

    by = {(r["dim"], r["strategy"]): r for r in results}
    rows = []
    for r in results:
        full, diag = by.get((r["dim"], "pycma")), by.get((r["dim"], "pycma_diag"))
        ph = r["phase_ms"]
        is_pycma = r["strategy"] in PYCMA_VARIANTS
        eig = (f"{r['decompositions_timed']}/{r['timed_generations']}" if r["strategy"] in ("cma_es", "pycma")
               else "-")
        rows.append([r["strategy"], r["dim"], r["population"], f"{ph['ask']:.3f}",
                     "(in ask)" if is_pycma else f"{ph['params']:.3f}", f"{ph['tell']:.3f}",
                     f"{r['ms_per_generation']:.3f}",
                     f"{r['ms_per_generation'] / full['ms_per_generation']:.2f}" if full else "n/a",
                     f"{r['ms_per_generation'] / diag['ms_per_generation']:.2f}" if diag else "n/a", eig])
    gens = ", ".join(f"{block_generations(args, n)} at n={n}" for n in args.dims)
    table = common.format_table(
        ["strategy", "n", "lambda", "ask ms", "params ms", "tell ms", "total ms/gen", "/ pycma",
         "/ pycma_diag", "eigh in timed gens"], rows,
        title=f"\nms per generation, objective excluded (median of {args.repeats} blocks of {gens} "
              f"generations; phases are medians of their own); mpies: ask + member_params of all "
              f"members + tell; pycma: ask + tell; 1 BLAS thread")
    summary_rows = []
    for n in args.dims:
        summary_rows.append([n, default_population(n)] + [
            f"{by[(n, s)]['ms_per_generation']:.3f}" if (n, s) in by else "-" for s in names])
    summary = common.format_table(["n", "lambda"] + names, summary_rows,
                                  title="\nms per generation (summary)")
    eigen_lines = ["\nfull covariance eigendecomposition (np.linalg.eigh, 1 thread):"]
    for n in (n for n in args.dims if n in eigen):
        gap_m = next((r["eigen_interval_generations"] for r in results
                      if r["dim"] == n and r["strategy"] == "cma_es"), None)
        gap_p = next((r["eigen_interval_generations"] for r in results
                      if r["dim"] == n and r["strategy"] == "pycma"), None)
        line = f"  n {n:5d}: one eigh {eigen[n]:9.2f} ms"
        if gap_m is not None:
            line += (f"; mpies cma_es decomposes when generations since the last one > {gap_m:.1f} "
                     f"(~{eigen[n] / max(math.floor(gap_m) + 1, 1):.2f} ms/gen amortised)")
        if gap_p is not None:
            line += (f"; pycma when > {gap_p:.1f} (~{eigen[n] / max(math.ceil(gap_p), 1):.2f} "
                     f"ms/gen amortised)")
        eigen_lines.append(line)
    text = table + "\n" + summary + "\n" + "\n".join(eigen_lines)
    print(text)
    return results, {str(n): v for n, v in eigen.items()}, text


def main(argv=None) -> dict:
    args = parse_args(argv)
    t_start = time.perf_counter()
    print(f"{NAME}: mpies strategies vs pycma; OMP/OPENBLAS/MKL_NUM_THREADS = "
          f"{os.environ.get('OMP_NUM_THREADS')}/{os.environ.get('OPENBLAS_NUM_THREADS')}/"
          f"{os.environ.get('MKL_NUM_THREADS')} (one BLAS thread, as in an mpies run: one "
          f"process per core)")
    waited = common.wait_quiet(args.wait_quiet) if args.wait_quiet else 0.0
    before = common.idle_check()
    monitor = common.CpuMonitor().start()
    payload = {"benchmark": NAME,
               "description": "evaluations to f <= 1e-8 (mpies CMA-ES / sep-CMA-ES vs pycma, 10-D) and "
                              "per-generation overhead of every mpies strategy vs pycma",
               "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    tables = []
    if not args.skip_evals:
        t0 = time.perf_counter()
        payload["evals_to_target"], table = run_evals(args)
        payload["evals_seconds"] = time.perf_counter() - t0
        tables.append(table)
    if not args.skip_overhead:
        t0 = time.perf_counter()
        payload["overhead"], payload["eigh_ms"], table = run_overhead(args)
        payload["overhead_seconds"] = time.perf_counter() - t0
        tables.append(table)
    load = dict(monitor.stop(), before=before)
    print(common.contamination_line(load))
    payload["run_seconds"] = time.perf_counter() - t_start
    payload["wait_quiet_seconds"] = waited
    print(f"run time {payload['run_seconds']:.0f} s"
          + (f" (of which {waited:.0f} s waiting for a quiet machine)" if waited else ""))
    try:
        import cma
        cma_version = cma.__version__
    except Exception:  # pragma: no cover
        cma_version = None
    payload.update(machine_load=load, environment=dict(common.environment(), cma=cma_version),
                   table="\n".join(tables))
    common.write_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
