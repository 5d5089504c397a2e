"""The curves the forecasts (`analysis.forecast`) fit, and the fitting: scipy's `curve_fit` with
bounds, from several starts, the lowest weighted sum of squares kept. A fit whose every start fails
(scipy raises, or stops without converging) is returned as failed with scipy's reasons; nothing
is put in its place. A fit that converges but whose covariance scipy cannot estimate keeps its
parameters and has no interval.

Scales are relative: z = x / x0, the factor over the smallest fitted value, so that the
parameters are of order one whatever the units of x (parameters, items per ability).

- `line`: y = b + s ln z (the paper's sensitivity line, one per recipe);
- `power`: y_r = E_r - A z^-a, A and a shared by the recipes r: at each value of the other factor
  the slice of L = E + A / N^a + B / D^b, whose other term only moves the level E_r. Higher is
  better: A > 0 rises towards E_r, A < 0 falls towards it. x is (z, r), a 2 x n array;
- `sigmoid`: acc = floor + span / (1 + exp(-k (c - c0))) from a continuous score c to accuracy,
  floor fixed at the chance level where there is one.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

EXPONENT = (0.01, 5.0)  # the bounds of a power law's exponent a


@dataclass(frozen=True)
class Model:
    names: tuple[str, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    value: Callable[..., np.ndarray]
    gradient: Callable[..., np.ndarray] | None = None  # (parameters, points): for the delta method


def line() -> Model:
    def value(z, b, s):
        return b + s * np.log(z)

    def gradient(z, b, s):
        return np.vstack([np.ones_like(z), np.log(z)])

    return Model(("b", "s"), (-np.inf, -np.inf), (np.inf, np.inf), value, gradient)


def power(recipes: int) -> Model:
    def value(x, *theta):
        z, r = x[0], x[1].astype(int)
        return np.asarray(theta[:recipes])[r] - theta[-2] * z ** -theta[-1]

    def gradient(x, *theta):
        z, r = x[0], x[1].astype(int)
        levels = (r[None, :] == np.arange(recipes)[:, None]).astype(float)
        decay = z ** -theta[-1]
        return np.vstack([levels, -decay, theta[-2] * decay * np.log(z)])

    names = (*(f"E_{k}" for k in range(recipes)), "A", "a")
    return Model(
        names,
        (-np.inf,) * (recipes + 1) + (EXPONENT[0],),
        (np.inf,) * (recipes + 1) + (EXPONENT[1],),
        value,
        gradient,
    )


def sigmoid(floor: float | None) -> Model:
    """With a chance level: span in [0, 1 - floor]; without, the floor is fitted in [0, 1] too."""
    from scipy.special import expit

    def slopes(c, span, k, c0):  # d/d(span, k, c0)
        e = expit(k * (c - c0))
        return [e, span * e * (1 - e) * (c - c0), -span * e * (1 - e) * k]

    if floor is not None:
        return Model(
            ("span", "k", "c0"),
            (0.0, 1e-9, -np.inf),
            (1.0 - floor, np.inf, np.inf),
            lambda c, span, k, c0: floor + span * expit(k * (c - c0)),
            lambda c, span, k, c0: np.vstack(slopes(c, span, k, c0)),
        )
    return Model(
        ("floor", "span", "k", "c0"),
        (0.0, 0.0, 1e-9, -np.inf),
        (1.0, 1.0, np.inf, np.inf),
        lambda c, low, span, k, c0: low + span * expit(k * (c - c0)),
        lambda c, low, span, k, c0: np.vstack([np.ones_like(c), *slopes(c, span, k, c0)]),
    )


@dataclass
class Fit:
    model: Model
    theta: np.ndarray | None = None
    cov: np.ndarray | None = None  # None: scipy could not estimate it (see reason)
    reason: str | None = None
    cost: float | None = None  # the weighted sum of squared residuals
    points: int = 0
    starts: int = 0
    converged_starts: int = 0
    at_bound: list[str] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return self.theta is not None

    def predict(self, x) -> np.ndarray:
        return self.model.value(np.asarray(x, dtype=float), *self.theta)

    def weights(self, x, sigma: np.ndarray, at) -> np.ndarray | None:
        """The delta method's weights w of the fitted curve at `at` on the fitted y (one per point:
        its variance is w' S w for the points' covariance S); None without a covariance."""
        if self.cov is None or self.model.gradient is None:
            return None
        at, x = np.asarray(at, dtype=float), np.asarray(x, dtype=float)
        grad, jac = self.model.gradient(at, *self.theta)[:, 0], self.model.gradient(x, *self.theta)
        inverse = np.linalg.inv(sigma) if np.ndim(sigma) == 2 else np.diag(1 / np.asarray(sigma) ** 2)
        return grad @ self.cov @ jac @ inverse

    def summary(self, quantile: float) -> dict:
        if not self.converged:
            return {"converged": False, "reason": self.reason, "starts": self.starts, "points": self.points}
        se = np.sqrt(np.diag(self.cov)) if self.cov is not None else None
        found = {
            "converged": True,
            "params": dict(zip(self.model.names, map(float, self.theta), strict=True)),
            "stderr": dict(zip(self.model.names, map(float, se), strict=True)) if se is not None else None,
            "cost": self.cost,
            "points": self.points,
            "starts": self.starts,
            "converged_starts": self.converged_starts,
            "at_bound": self.at_bound,
        }
        if se is not None:
            found["intervals"] = {
                n: [float(t - quantile * s), float(t + quantile * s)]
                for n, t, s in zip(self.model.names, self.theta, se, strict=True)
            }
        if self.reason:
            found["reason"] = self.reason
        return found


def fit_curve(
    model: Model,
    x,
    y: Sequence[float],
    sigma: Sequence[float] | None,
    starts: Sequence[Sequence[float]],
    max_nfev: int | None = None,
) -> Fit:
    """Least squares of y on the model from each start (bounds: the model's); the lowest cost wins.
    sigma: each point's standard error, taken as known (absolute); None: scipy scales the
    covariance by the residuals. Failed: every start raised or stopped short, with the reasons."""
    from scipy.optimize import OptimizeWarning, curve_fit

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    found = Fit(model, points=len(y), starts=len(starts))
    if len(y) < len(model.names):
        found.reason = f"{len(y)} points for {len(model.names)} parameters"
        return found
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        found.reason = "non-finite values"
        return found
    lower, upper = np.asarray(model.lower), np.asarray(model.upper)
    # the model's own derivatives where it has them: a Jacobian by differences costs a call per parameter
    jac = (lambda x, *theta: model.gradient(x, *theta).T) if model.gradient else None
    reasons, best = [], None
    for start in starts:
        p0 = np.clip(np.asarray(start, dtype=float), lower + 1e-9, upper - 1e-9)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", OptimizeWarning)
            try:
                theta, cov, info, _, _ = curve_fit(
                    model.value, x, y, p0=p0, sigma=sigma, absolute_sigma=sigma is not None,
                    bounds=(lower, upper), method="trf", max_nfev=max_nfev, full_output=True, jac=jac,
                )  # fmt: skip
            except (RuntimeError, ValueError, FloatingPointError, np.linalg.LinAlgError) as error:
                reasons.append(str(error))
                continue
        if not np.all(np.isfinite(theta)):
            reasons.append("non-finite parameters")
            continue
        found.converged_starts += 1
        cost = float(np.sum(info["fvec"] ** 2))
        if best is None or cost < best[0]:
            best = (cost, theta, cov, [str(w.message) for w in caught])
    if best is None:
        found.reason = "; ".join(sorted(set(reasons))) or "no start"
        return found
    found.cost, found.theta, cov, caught = best
    if np.all(np.isfinite(cov)):
        found.cov = cov
    else:
        found.reason = "; ".join(caught) or "the covariance could not be estimated"
    tol = np.maximum(1e-6, 1e-6 * np.abs(found.theta))
    found.at_bound = [
        n
        for n, t, lo, hi, e in zip(model.names, found.theta, lower, upper, tol, strict=True)
        if t - lo < e or hi - t < e
    ]
    return found


def power_starts(
    z: np.ndarray, r: np.ndarray, y: np.ndarray, recipes: int, keep: int = 3
) -> list[list[float]]:
    """Starting values for `power`: at each exponent of a grid, the levels and A are linear (least
    squares); the `keep` exponents with the smallest residuals."""
    grid = []
    for a in (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0):
        design = np.column_stack([(r[:, None] == np.arange(recipes)).astype(float), -(z**-a)])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        grid.append((float(np.sum((design @ coef - y) ** 2)), [*coef, a]))
    return [start for _, start in sorted(grid, key=lambda g: g[0])[:keep]]


def sigmoid_starts(c: np.ndarray, acc: np.ndarray, floor: float | None) -> list[list[float]]:
    low = floor if floor is not None else max(0.0, float(acc.min()) - 0.01)
    span = min(1.0 - low, max(1e-3, 1.2 * (float(acc.max()) - low)))
    width = float(np.ptp(c)) or 1.0
    starts = []
    for k in (2.0 / width, 8.0 / width):
        for c0 in np.quantile(c, [0.25, 0.5, 0.9]):
            starts.append(([] if floor is not None else [low]) + [span, k, float(c0)])
    return starts


@dataclass(frozen=True)
class Part:
    """One mean square of the noise (per score) with its degrees of freedom, and what it adds, per
    unit of it, to the covariance of the fitted cells' means and to the variance of each target's
    mean: the covariance is the sum over parts of ms x cells (Satterthwaite's sum)."""

    ms: np.ndarray
    df: float
    cells: np.ndarray
    target: np.ndarray


@dataclass
class Ladder:
    """One set along one axis, the target hidden: the fitted cells (z = x / x0 below the target, the
    recipe's index r, each score's mean over units, how many units) and each recipe's units' values
    at the target; the noise: a unit's level (shared by the cells of its block) and a run's own
    draw, each score's covariance of the cells' means and variance of each target's mean for the
    delta method, with t's degrees of freedom, and the pools a bootstrap draws from."""

    recipes: list[tuple]
    x0: float
    z: np.ndarray
    r: np.ndarray
    means: np.ndarray
    counts: np.ndarray
    z_target: float
    target: list[np.ndarray]
    noise: str = "none"
    df: float = 0  # the noise's degrees of freedom in all (0: unmeasured)
    sds: dict = field(default_factory=dict)  # the unit level's and the run's standard deviations
    dfs: dict = field(default_factory=dict)  # and their degrees of freedom
    parts: list[Part] = field(default_factory=list)
    blocks: list[np.ndarray] = field(default_factory=list)  # cells that share their units
    shared: bool = False  # recipe k's target has block k's units (their level is in both)
    levels: np.ndarray | None = None  # (rows, scores), scaled: mean square the level's variance
    runs: np.ndarray | None = None  # (rows, scores), scaled: mean square the run's variance

    def at(self) -> np.ndarray:
        """Each recipe's target as `power` takes it: (z, r) columns."""
        return np.vstack([np.full(len(self.recipes), self.z_target), np.arange(len(self.recipes))])

    def cov(self, j: int) -> np.ndarray:
        return sum(p.ms[j] * p.cells for p in self.parts)

    def target_var(self, j: int) -> np.ndarray:
        return sum(p.ms[j] * p.target for p in self.parts)

    def _mean(self, pool: np.ndarray | None, n: int, rng: np.random.Generator) -> np.ndarray:
        if pool is None or not len(pool):
            return np.zeros(self.means.shape[1])
        return pool[rng.integers(len(pool), size=n)].mean(0)

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A resample's noise on each fitted cell's mean, and each target's units' level (block k's
        where they are its units, else new units') and runs' noise."""
        moved, levels = np.zeros_like(self.means), []
        for cells in self.blocks:
            n = int(self.counts[cells[0]])
            levels.append(self._mean(self.levels, n, rng))
            for cell in cells:
                moved[cell] = levels[-1] + self._mean(self.runs, n, rng)
        own = [
            levels[k] if self.shared else self._mean(self.levels, len(t), rng)
            for k, t in enumerate(self.target)
        ]
        runs = [self._mean(self.runs, len(t), rng) for t in self.target]
        return moved, np.array(own), np.array(runs)


def _num(value):
    return value.item() if isinstance(value, np.generic) else value


def ladder(runs: pd.DataFrame, axis: str, recipe: list[str], scores: list[str], target) -> Ladder | str:
    """The ladder of `scores` along column `axis` to `target`: runs of one unit (`foundation`) at one
    cell averaged; recipes (values of the `recipe` columns) with runs at the target and below it."""
    units = runs.dropna(subset=scores).groupby(["foundation", *recipe, axis], sort=True)[scores].mean()
    units = units.reset_index()
    names = [tuple(map(_num, v)) for v in units[recipe].itertuples(index=False)]
    x, values = units[axis].to_numpy(float), units[scores].to_numpy(float)
    below = {n for n, v in zip(names, x, strict=True) if v < target}
    recipes = sorted(below & {n for n, v in zip(names, x, strict=True) if v == target})
    if not recipes:
        return f"no recipe has both runs at {axis} {target} and runs below it"
    index = {name: k for k, name in enumerate(recipes)}
    rk, unit = np.array([index.get(n, -1) for n in names]), units["foundation"].astype(str).to_numpy()
    fit, hit = (x < target) & (rk >= 0), (x == target) & (rk >= 0)
    pairs = list(zip(rk[fit].tolist(), x[fit].tolist(), strict=True))
    position = {key: i for i, key in enumerate(sorted(set(pairs)))}
    cell = np.array([position[key] for key in pairs])
    counts = np.bincount(cell, minlength=len(position))
    x0 = float(x[fit].min())
    found = Ladder(
        recipes=recipes,
        x0=x0,
        z=np.array([key[1] for key in position]) / x0,
        r=np.array([key[0] for key in position]),
        means=np.stack([np.bincount(cell, v, len(position)) for v in values[fit].T], 1) / counts[:, None],
        counts=counts,
        z_target=float(target) / x0,
        target=[values[hit & (rk == k)] for k in range(len(recipes))],
    )
    cells = {"unit": unit[fit], "rk": rk[fit], "x": x[fit], "values": values[fit], "cell": cell}
    at_target = [set(unit[hit & (rk == k)]) for k in range(len(recipes))]
    if not _two_level(found, cells, at_target, position):
        _within_cells(found, cells)
    return found


def _two_level(lad: Ladder, cells: dict, at_target: list[set], position: dict) -> bool:
    """Where the units cross a block of cells, a two-way ANOVA (unit x column, pooled over blocks)
    parts a unit's level from a run's draw. Along the axis (each unit of a recipe at every fitted
    value and at the target: a foundation fine-tuned at every volume) the level is in the fitted
    cells and the target alike: it cancels in fits with a level per recipe (their noise is the
    run's) and a resample draws it once for both. Across recipes (each unit at one value, as a
    foundation has one size, and at every recipe there) the target's units are others and the
    cells at one value covary by the level."""
    along = len(set(zip(cells["unit"], cells["x"], strict=True))) > len(set(cells["unit"]))
    by, across = (cells["rk"], cells["x"]) if along else (cells["x"], cells["rk"])
    tables, blocks, columns = [], [], set()
    for key in np.unique(by):
        mine = by == key
        units, row = np.unique(cells["unit"][mine], return_inverse=True)
        values, column = np.unique(across[mine], return_inverse=True)
        if len(units) < 2 or len(values) < 2 or mine.sum() != len(units) * len(values):
            return False
        if along and set(units) != at_target[int(key)]:
            return False
        y = np.empty((len(units), len(values), lad.means.shape[1]))
        y[row, column] = cells["values"][mine]
        tables.append(y)
        columns.add(len(values))
        keys = [(int(key), float(v)) if along else (int(v), float(key)) for v in values]
        blocks.append(np.array([position[k] for k in keys]))
    if len(columns) != 1 or (not along and columns != {len(lad.recipes)}):
        return False
    c = columns.pop()
    levels = np.concatenate([y.mean(1) - y.mean((0, 1)) for y in tables])
    runs = np.concatenate(
        [(y - y.mean(1, keepdims=True) - y.mean(0) + y.mean((0, 1))).reshape(-1, y.shape[2]) for y in tables]
    )
    df = np.array([sum(len(y) - 1 for y in tables), sum((len(y) - 1) * (c - 1) for y in tables)])
    unit_ms, run_var = c * np.sum(levels**2, 0) / df[0], np.sum(runs**2, 0) / df[1]
    unit_var = np.maximum(0.0, (unit_ms - run_var) / c)
    square = np.mean(levels**2, 0)
    lad.levels = levels * np.sqrt(np.divide(unit_var, square, out=np.zeros_like(square), where=square > 0))
    lad.runs = runs * math.sqrt(len(runs) / df[1])
    lad.blocks, lad.shared = blocks, bool(along)
    lad.sds = {"unit": np.sqrt(unit_var).tolist(), "run": np.sqrt(run_var).tolist()}
    lad.dfs = {"unit": float(df[0]), "run": float(df[1])}
    if not np.all(run_var > 0):  # replicates that agree exactly: no noise to weigh the cells by
        lad.noise = "none: the replicates agree exactly"
        return True
    lad.df, single = float(df.sum()), np.diag(1 / lad.counts)
    own = np.array([1 / len(t) for t in lad.target])
    if along:
        lad.noise, lad.parts = (
            "unit level and run, along the axis (the level cancels)",
            [Part(run_var, float(df[1]), single, own)],
        )
        return True
    shared = np.zeros_like(single)
    for block in blocks:
        shared[np.ix_(block, block)] = 1 / lad.counts[block[0]]
    lad.noise = "unit level and run, across recipes"  # a clipped level: the unit mean square is the run's
    lad.parts = [
        Part(np.maximum(unit_ms, run_var), float(df[0]), shared / c, own / c),
        Part(run_var, float(df[1]), single - shared / c, own * (1 - 1 / c)),
    ]
    return True


def _within_cells(lad: Ladder, cells: dict) -> None:
    """Otherwise: the spread of the units within each cell, independent between cells."""
    spread = cells["values"] - lad.means[cells["cell"]]
    df = len(spread) - len(lad.z)
    lad.noise, lad.blocks = "within cells", [np.array([i]) for i in range(len(lad.z))]
    if not df or not np.all(np.sum(spread**2, 0) > 0):
        lad.noise = "none: one unit per cell" if not df else "none: the replicates agree exactly"
    else:
        variance, lad.df = np.sum(spread**2, 0) / df, df
        lad.runs, lad.sds = spread * math.sqrt(len(spread) / df), {"run": np.sqrt(variance).tolist()}
        lad.dfs = {"run": float(df)}
        own = np.array([1 / len(t) for t in lad.target])
        lad.parts = [Part(variance, float(df), np.diag(1 / lad.counts), own)]
