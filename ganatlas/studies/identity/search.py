"""Search methods over a latent subspace, written against an objective ``x: [k] -> distance``.

Each method takes an :class:`~ganatlas.studies.identity.record.Evaluator` (which counts, records,
replays and stops at the threshold or the budget) and returns a :class:`SearchResult`.

- :func:`dual_annealing_search`: the source's recipe, SciPy ``dual_annealing`` with Nelder-Mead
  as its local search, over ``k`` coordinates in ``[lo, hi]`` (the study maps them to k chosen
  dimensions of Z, the rest 0).
- :func:`cma_search`: CMA-ES (the ``cma`` package) over ``k`` coordinates (the study maps them to
  a PCA subspace of W in units of each component's standard deviation), with restarts that double
  the population (IPOP).
- :func:`gradient_search`: Adam on the coordinates with the objective's gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ganatlas.studies.identity.record import Evaluator, StopSearch

METHODS = ("dual_annealing", "cma", "gradient")


@dataclass
class SearchResult:
    """best_x: [k] search coordinates of the lowest distance; reason: 'threshold', 'budget' or
    'converged' (the optimiser ended on its own); evaluations: the record's length."""

    best_x: np.ndarray
    best_distance: float
    evaluations: int
    reason: str


def _result(ev: Evaluator, reason: str) -> SearchResult:
    rows = ev.record.rows
    if not rows:
        raise RuntimeError("the search made no evaluation")
    best = min(rows, key=lambda r: r["distance"])
    return SearchResult(np.asarray(best["x"]), float(best["distance"]), len(rows), reason)


def dual_annealing_search(
    ev: Evaluator, k: int, bounds: tuple[float, float] = (-3.0, 3.0), seed: int = 0
) -> SearchResult:
    """SciPy ``dual_annealing`` (Nelder-Mead local search) over ``[bounds]^k``, seeded."""
    from scipy.optimize import dual_annealing

    lo, hi = float(bounds[0]), float(bounds[1])
    reason = "converged"
    try:
        dual_annealing(
            ev,
            bounds=[(lo, hi)] * k,
            seed=np.random.default_rng(seed),
            minimizer_kwargs={"method": "Nelder-Mead"},
            maxfun=10**9,  # the evaluator stops at the budget
        )
    except StopSearch as stop:
        reason = stop.reason
    return _result(ev, reason)


def cma_search(
    ev: Evaluator,
    k: int,
    sigma0: float = 0.5,
    restarts: int = 3,
    popsize: int | None = None,
    seed: int = 0,
    bound: float = 4.0,
) -> SearchResult:
    """CMA-ES over ``k`` coordinates from 0, box ``[-bound, bound]^k``; after the first run up to
    ``restarts`` more from seeded random starts, each with twice the population."""
    import cma

    rng = np.random.default_rng(seed)
    pop = popsize or 4 + int(3 * np.log(k))
    reason = "converged"
    try:
        for run in range(restarts + 1):
            x0 = np.zeros(k) if run == 0 else rng.normal(0.0, 1.0, k).clip(-bound, bound)
            opts = {
                "seed": int(seed) * 1000 + run + 1,  # cma treats seed 0 as "from the clock"
                "popsize": pop * 2**run,
                "bounds": [-bound, bound],
                "verbose": -9,
                "maxfevals": 10**9,
            }
            es = cma.CMAEvolutionStrategy(x0, sigma0, opts)
            while not es.stop():
                xs = es.ask()
                es.tell(xs, [ev(np.asarray(x)) for x in xs])
    except StopSearch as stop:
        reason = stop.reason
    return _result(ev, reason)


def gradient_search(
    ev: Evaluator,
    k: int,
    lr: float = 0.05,
    x0: np.ndarray | None = None,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> SearchResult:
    """Adam on the coordinates (written out, so replay needs only the recorded gradients)."""
    x = np.zeros(k) if x0 is None else np.asarray(x0, dtype=np.float64).copy()
    m, v = np.zeros(k), np.zeros(k)
    b1, b2 = betas
    reason = "budget"
    t = 0
    try:
        while True:
            _, g = ev.value_and_grad(x)
            t += 1
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            x = x - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    except StopSearch as stop:
        reason = stop.reason
    return _result(ev, reason)


def best_so_far(distances: np.ndarray) -> np.ndarray:
    """``[n]`` running minimum of ``distances: [n]``."""
    return np.minimum.accumulate(np.asarray(distances, dtype=np.float64))
