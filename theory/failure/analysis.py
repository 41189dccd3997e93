"""Where training from random initialisation ends, observed and predicted from the landscape (docs/failure.md).

**Observed.** R runs are trained with :func:`sampling.train_sgd` from the random initialisation
(``init="random"``: W_ij ~ N(0, 2 / (r + c)), Glorot normal, and b = 0) with plain SGD, Adam or
AdamW; each run's final point (W_T, b_T) is matched to the catalogue modulo symmetry by
:func:`theory.sgd_analysis.match_checkpoints` (phase distance after the best O(r) rotation and
feature permutation, threshold 0.5). The observed fraction of a label is the share of runs that end
there, with the binomial standard error sqrt(p (1 - p) / R). A run within the threshold of no
catalogue point is *unmatched* (reported with its population loss); a run at a point with a negative
Hessian eigenvalue ended at (or is still passing) a *saddle* (reported with its Hessian index).

**Predicted.** The basin of each critical point under gradient flow on the exact population loss,

    dw/dt = -grad L(w),   L the closed form of :func:`kgon.potential`,

from P starting points drawn from the same initial distribution: P independent starts are integrated
with explicit Euler steps of size ``flow_lr`` (plain gradient descent,
:func:`kgon.critical.search.gradient_descent`) up to the flow time ``flow_time`` and matched to the
catalogue like the trained runs. The predicted fraction of a label estimates the probability mass of
its basin under the initial distribution (standard error sqrt(p (1 - p) / P)). The same flow is also
run from each trained run's own starting point (``flow_labels``): the share of runs whose trained end
point has the flow's label (``same_start_agreement``) says how far the optimizer follows gradient flow
start by start, not only in distribution.

Plain SGD with learning rate eta follows the flow with time t = eta x steps up to O(eta) and the
minibatch noise; Adam rescales each coordinate of the gradient by its running RMS, which is a
different flow (a sign-like descent for small steps), so its basins need not agree with gradient
flow's (docs/failure.md measures by how much).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

import kgon
from kgon.io import to_jsonable
from kgon.validation import check_int
from theory.sgd_analysis import match_checkpoints

__all__ = ["DEFAULT_LR", "BasinPrediction", "FailureConfig", "FailureResult", "analyze_failure", "fractions",
           "gradient_flow", "match_endpoints", "predict_basins", "random_starts"]

DEFAULT_LR = {"sgd": 0.05, "adam": 0.005, "adamw": 0.005}
"""Learning rate of :class:`FailureConfig` per optimizer when ``lr`` is None."""

_FLOW_CHUNK = 500  # gradient-descent steps per compiled call of the flow


def _check_pos(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a positive finite number; got {value!r}.")
    return float(value)


@dataclass(frozen=True)
class FailureConfig:
    """Settings of :func:`analyze_failure` (validated on construction).

    Attributes
    ----------
    c, r : int
        Features (>= 2) and hidden dimensions (>= 1; default 2).
    runs : int
        Trained runs R (seeds ``seed .. seed + R - 1``). Default 40.
    optimizer : str
        ``"sgd"``, ``"adam"`` (default) or ``"adamw"`` (:class:`sampling.SGDConfig`).
    lr : float or None
        Learning rate; None: :data:`DEFAULT_LR` of the optimizer (sgd 0.05, adam/adamw 0.005).
    weight_decay : float
        The optimizer's weight decay (>= 0; default 0).
    epochs : int
        Passes over each run's training set (default 1000).
    n, batch_size : int
        Training-set size (default 1000) and minibatch size (default 100).
    seed : int
        First run seed; the prediction's starts use ``seed + 10**6 + i``.
    starts : int
        Gradient-flow starts P of the prediction (default 500).
    flow_time : float
        Flow time T of the prediction (default 1000; docs/failure.md measures convergence).
    flow_lr : float
        Euler step of the flow (default 0.1).
    threshold : float or None
        Matching threshold (default: the classifier's, 0.5).
    """

    c: int
    r: int = 2
    runs: int = 40
    optimizer: str = "adam"
    lr: float | None = None
    weight_decay: float = 0.0
    epochs: int = 1000
    n: int = 1000
    batch_size: int = 100
    seed: int = 0
    starts: int = 500
    flow_time: float = 1000.0
    flow_lr: float = 0.1
    threshold: float | None = None

    def __post_init__(self):
        from sampling.dynamics.sgd import OPTIMIZERS  # deferred: torch is heavy

        check_int("c", self.c, minimum=2)
        check_int("r", self.r, minimum=1)
        check_int("runs", self.runs, minimum=1)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"`optimizer` must be one of {list(OPTIMIZERS)}; got {self.optimizer!r}.")
        object.__setattr__(self, "lr", DEFAULT_LR[self.optimizer] if self.lr is None else _check_pos("lr", self.lr))
        if isinstance(self.weight_decay, bool) or not isinstance(self.weight_decay, (int, float)) \
                or not math.isfinite(self.weight_decay) or self.weight_decay < 0:
            raise ValueError(f"`weight_decay` must be a non-negative finite number; got {self.weight_decay!r}.")
        check_int("epochs", self.epochs, minimum=1)
        check_int("n", self.n, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1, maximum=self.n)
        check_int("seed", self.seed, minimum=0)
        check_int("starts", self.starts, minimum=1)
        _check_pos("flow_time", self.flow_time)
        _check_pos("flow_lr", self.flow_lr)
        if self.flow_lr > self.flow_time:
            raise ValueError(f"`flow_lr` must be <= flow_time = {self.flow_time}; got {self.flow_lr!r}.")
        if self.threshold is not None:
            _check_pos("threshold", self.threshold)

    def sgd_config(self, checkpoints: int = 20):
        """The :class:`sampling.SGDConfig` of the trained runs (random initialisation)."""
        from sampling.dynamics.sgd import SGDConfig  # deferred: torch is heavy

        return SGDConfig(c=self.c, r=self.r, n=self.n, batch_size=self.batch_size, lr=self.lr, epochs=self.epochs,
                         checkpoints=checkpoints, init="random", optimizer=self.optimizer,
                         weight_decay=self.weight_decay)

    def to_dict(self) -> dict:
        return asdict(self)


def random_starts(c: int, seeds, *, r: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The random initialisation of the runs with these seeds: W (P, r, c), b (P, c).

    Exactly the initial points of :func:`sampling.train_sgd` with ``init="random"`` (the run's init
    generator, :func:`sampling.dynamics.sgd.run_generators`): W_ij ~ N(0, 2 / (r + c)), b = 0.
    """
    from sampling.dynamics.sgd import SGDConfig, initial_params, run_generators  # deferred: torch is heavy

    cfg = SGDConfig(c=c, r=r, init="random")
    pairs = [initial_params(cfg, run_generators(int(s))[1]) for s in seeds]
    if not pairs:
        raise ValueError("`seeds` must contain at least one seed; got an empty sequence.")
    return np.stack([w.numpy() for w, _ in pairs]), np.stack([b.numpy() for _, b in pairs])


def gradient_flow(W, b, *, time: float, lr: float = 0.1, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Integrate dw/dt = -grad L(w) on the population loss from each (W, b) up to ``time``.

    Explicit Euler with step ``lr`` (gradient descent w <- w - lr grad L(w), ceil(time / lr) steps,
    :func:`kgon.critical.search.gradient_descent`, batched with jax). ``W`` (P, r, c), ``b`` (P, c).
    """
    from kgon.critical.search import flatten, gradient_descent, unflatten  # deferred: jax is heavy

    time, lr = _check_pos("time", time), _check_pos("lr", lr)
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    P, r, c = W.shape
    X = flatten(W, b)
    steps = int(math.ceil(time / lr))
    chunks = [_FLOW_CHUNK] * (steps // _FLOW_CHUNK) + ([steps % _FLOW_CHUNK] if steps % _FLOW_CHUNK else [])
    if progress:
        from tqdm.auto import tqdm  # deferred: only with a progress bar

        chunks = tqdm(chunks, desc="gradient flow", unit="chunk")
    for k in chunks:
        X = gradient_descent(X, r, c, steps=k, lr=lr)
    return unflatten(X, r, c)


def fractions(labels) -> dict[str, float]:
    """Share of each label among ``labels``, in decreasing order (ties by label)."""
    labels = [str(x) for x in np.asarray(labels).ravel()]
    if not labels:
        return {}
    counts = Counter(labels)
    return {lab: counts[lab] / len(labels) for lab in sorted(counts, key=lambda s: (-counts[s], s))}


def _errors(frac: dict, m: int) -> dict[str, float]:
    return {lab: math.sqrt(p * (1 - p) / m) for lab, p in frac.items()}


@dataclass(frozen=True, eq=False)
class BasinPrediction:
    """Gradient-flow end points of P random starts (module docstring).

    Attributes
    ----------
    c, r : int
    labels : ndarray of str, shape (P,)
        Catalogue label of each end point (``"other"``: none within the threshold).
    distances, loss : ndarray, shape (P,)
        Phase distance to that label and population loss at the end point.
    flow_time, flow_lr : float
    seeds : tuple of int
        The starts' seeds (:func:`random_starts`).
    """

    c: int
    r: int
    labels: np.ndarray
    distances: np.ndarray
    loss: np.ndarray
    flow_time: float
    flow_lr: float
    seeds: tuple[int, ...] = ()

    @property
    def fractions(self) -> dict[str, float]:
        return fractions(self.labels)

    @property
    def errors(self) -> dict[str, float]:
        return _errors(self.fractions, len(self.labels))


def match_endpoints(W, b, catalogue, threshold: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Catalogue label, phase distance (:func:`theory.sgd_analysis.match_checkpoints`) and population
    loss of each end point: W (P, r, c), b (P, c) -> three arrays of shape (P,) (loss NaN where not finite)."""
    labels, dist = match_checkpoints(W, b, catalogue, threshold=threshold)
    loss = np.array([kgon.potential_numpy(w, bb) if np.all(np.isfinite(w)) else np.nan for w, bb in zip(W, b)])
    return labels, dist, loss


def predict_basins(c: int, *, r: int = 2, starts: int = 500, seed: int = 0, flow_time: float = 1000.0,
                   flow_lr: float = 0.1, catalogue=None, threshold: float | None = None,
                   progress: bool = False) -> BasinPrediction:
    """Basin fractions under gradient flow from the random initialisation (module docstring).

    ``starts`` starting points with seeds ``seed + 10**6 + i`` (:func:`random_starts`), integrated by
    :func:`gradient_flow` up to ``flow_time`` and matched to ``catalogue`` (default
    :func:`kgon.default_catalogue` (c, r)).
    """
    c, r = check_int("c", c, minimum=2), check_int("r", r, minimum=1)
    starts = check_int("starts", starts, minimum=1)
    seeds = tuple(int(seed) + 10**6 + i for i in range(starts))
    cat = kgon.default_catalogue(c, r=r) if catalogue is None else catalogue
    W0, b0 = random_starts(c, seeds, r=r)
    W, b = gradient_flow(W0, b0, time=flow_time, lr=flow_lr, progress=progress)
    labels, dist, loss = match_endpoints(W, b, cat, threshold)
    return BasinPrediction(c=c, r=r, labels=labels, distances=dist, loss=loss, flow_time=float(flow_time),
                           flow_lr=float(flow_lr), seeds=seeds)


@dataclass(frozen=True, eq=False)
class FailureResult:
    """Trained end points against the gradient-flow basins (module docstring).

    Attributes
    ----------
    config : FailureConfig
    labels : ndarray of str, shape (R,)
        Catalogue label of each run's final point (``"other"``: unmatched; ``"nan"``: diverged).
    distances, loss : ndarray, shape (R,)
        Phase distance to that label; population loss of the final point.
    flow_labels : ndarray of str, shape (R,)
        Label of the gradient-flow end point from each run's own start.
    prediction : BasinPrediction
        The gradient-flow basins from independent starts.
    global_minimum : str
        Label of the catalogue point of lowest loss.
    point_info : dict
        ``{label: (loss, hessian_index, is_minimum)}`` of the catalogue points.
    settled_epoch : ndarray, shape (R,)
        First checkpoint epoch from which the run's label stays its final label (20 log-spaced
        checkpoints): how long the run needed to settle.
    wall_time : float
        Seconds spent training.
    """

    config: FailureConfig
    labels: np.ndarray
    distances: np.ndarray
    loss: np.ndarray
    flow_labels: np.ndarray
    prediction: BasinPrediction
    global_minimum: str
    point_info: dict = field(default_factory=dict)
    settled_epoch: np.ndarray = field(default_factory=lambda: np.zeros(0))
    wall_time: float = float("nan")

    @property
    def observed(self) -> dict[str, float]:
        return fractions(self.labels)

    @property
    def predicted(self) -> dict[str, float]:
        return self.prediction.fractions

    @property
    def same_start_agreement(self) -> float:
        """Share of runs whose final label equals the gradient flow's from the same start."""
        return float(np.mean(self.labels == self.flow_labels))

    def saddles(self) -> list[dict]:
        """Final points at catalogue saddles: label, Hessian index, loss, share of runs."""
        out = []
        for lab, p in self.observed.items():
            info = self.point_info.get(lab)
            if info is not None and not info[2]:
                out.append({"label": lab, "index": int(info[1]), "loss": info[0], "fraction": p})
        return out

    def unmatched(self) -> list[dict]:
        """Runs within the threshold of no catalogue point (or diverged): run, seed, loss, distance."""
        return [{"run": int(i), "seed": self.config.seed + int(i), "loss": float(self.loss[i]),
                 "distance": float(self.distances[i])}
                for i in np.flatnonzero((self.labels == "other") | (self.labels == "nan"))]

    def to_dict(self) -> dict:
        """JSON-able summary (the keys of ``tmsphase failure --json``)."""
        obs, pred = self.observed, self.predicted
        gm = self.global_minimum
        return to_jsonable({
            "c": self.config.c, "r": self.config.r, "optimizer": self.config.optimizer, "runs": self.config.runs,
            "lr": self.config.lr, "weight_decay": self.config.weight_decay, "epochs": self.config.epochs,
            "observed": obs, "observed_err": _errors(obs, len(self.labels)),
            "predicted": pred, "predicted_err": self.prediction.errors,
            "flow_same_start": fractions(self.flow_labels),
            "same_start_agreement": self.same_start_agreement,
            "global_minimum": {"label": gm, "loss": self.point_info[gm][0], "observed": obs.get(gm, 0.0),
                               "predicted": pred.get(gm, 0.0)},
            "minima_losses": {lab: self.point_info[lab][0] for lab in obs if lab in self.point_info},
            "saddles": self.saddles(), "unmatched": self.unmatched(),
            "settled_epoch": {"median": float(np.median(self.settled_epoch)), "max": float(np.max(self.settled_epoch))}
            if self.settled_epoch.size else None,
            "final_labels": [str(x) for x in self.labels], "final_loss": [float(x) for x in self.loss],
            "config": self.config.to_dict(), "wall_time": self.wall_time,
        })


def analyze_failure(config: FailureConfig, *, catalogue=None, prediction: BasinPrediction | None = None,
                    progress: bool = False) -> FailureResult:
    """Train ``config.runs`` runs from random initialisation, match their final points to the
    catalogue and compare with the gradient-flow basins (module docstring).

    ``catalogue``: default :func:`kgon.default_catalogue` (c, r). ``prediction``: a
    :func:`predict_basins` result to reuse (it does not depend on the optimizer); computed if None.
    """
    from sampling.dynamics.sgd import train_sgd  # deferred: torch is heavy

    if not isinstance(config, FailureConfig):
        raise ValueError(f"`config` must be a FailureConfig; got {type(config).__name__}.")
    cat = kgon.default_catalogue(config.c, r=config.r) if catalogue is None else catalogue
    if prediction is None:
        prediction = predict_basins(config.c, r=config.r, starts=config.starts, seed=config.seed,
                                    flow_time=config.flow_time, flow_lr=config.flow_lr, catalogue=cat,
                                    threshold=config.threshold, progress=progress)
    elif (prediction.c, prediction.r) != (config.c, config.r):
        raise ValueError(f"`prediction` is for (c, r) = ({prediction.c}, {prediction.r}); the config has "
                         f"({config.c}, {config.r}).")
    seeds = list(range(config.seed, config.seed + config.runs))
    res = train_sgd(config.sgd_config(), seeds, progress=progress)
    labels, dist, loss = match_endpoints(res.W[:, -1], res.b[:, -1], cat, config.threshold)
    along, _ = match_checkpoints(res.W, res.b, cat, threshold=config.threshold)  # (R, K)
    same = along == labels[:, None]
    first = same.shape[1] - np.argmin(same[:, ::-1], axis=1)  # first index of the final all-same stretch
    first = np.where(same.all(axis=1), 0, first)
    settled = res.steps[first] / res.config.steps_per_epoch
    Wf, bf = gradient_flow(res.W[:, 0], res.b[:, 0], time=config.flow_time, lr=config.flow_lr, progress=progress)
    flow_labels, _, _ = match_endpoints(Wf, bf, cat, config.threshold)
    info = {p.label: (float(p.loss), int(p.hessian_signature[0]), bool(p.is_minimum)) for p in cat}
    gm = min(cat, key=lambda p: p.loss).label
    return FailureResult(config=config, labels=labels, distances=dist, loss=loss, flow_labels=flow_labels,
                         prediction=prediction, global_minimum=gm, point_info=info, settled_epoch=settled,
                         wall_time=res.wall_time)
