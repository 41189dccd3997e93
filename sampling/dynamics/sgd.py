"""Batched plain SGD on the TMS empirical loss, many runs as one tensor program (docs/dynamics.md).

The paper's protocol (Chen et al. 2023, §6 "SGD plateaus"; docs/dynamics.md) is the default
:class:`SGDConfig`: c = 6 features, r = 2 hidden dimensions, a fixed training set of n = 1000 samples
x = mu e_i per run, plain SGD (no momentum, no weight decay) with batch size 20 and learning rate
0.005 for 4500 epochs (225,000 steps), initialised at a 4-gon plus noise.

**Initialisation.** Columns 0..k-1 of W are the regular k-gon of length ``init_length`` (column m at
angle 2 pi m / k in the first two hidden coordinates), the other c - k columns are zero, b = 0; then
independent N(0, ``init_noise``^2) noise is added to *every* entry of W and b (the plain reading of the
paper's "4-gon plus N(0, 0.01^2) noise": the two extra columns start as small random vectors and
their biases as small random numbers of either sign, so a run starts next to the 4-gon and each dead
bias falls on the 4^{+} side (b > 0) or on the free side (b < 0) with probability 1/2).
With ``init="random"`` every entry of W is instead drawn from the Glorot (Xavier) normal
initialisation of an r x c weight matrix, W_ij ~ N(0, 2 / (r + c)) (Glorot & Bengio 2010;
``torch.nn.init.xavier_normal_``, the initialisation of the TMS code of Elhage et al. 2022), and b = 0
(docs/failure.md); ``init_k``, ``init_length`` and ``init_noise`` are then unused.

**Optimizer.** ``optimizer="sgd"`` (default) is plain SGD, w <- w - lr grad L_B(w); with
``weight_decay`` lambda > 0 the step is torch's ``SGD(weight_decay=lambda)``, w <- w - lr (grad L_B + lambda w).
``"adam"`` and ``"adamw"`` are ``torch.optim.Adam`` (L2 penalty lambda w added to the gradient) and
``torch.optim.AdamW`` (decoupled decay w <- w (1 - lr lambda)) with torch's default betas (0.9, 0.999)
and eps 1e-8, fed the hand-written gradient below. Both act element by element, so one optimizer over
the stacked (R, r, c) and (R, c) tensors is R independent optimizers, one per run.

**Loss and gradient.** On a minibatch B of size m the step minimises

    L_B(W, b) = (1/m) sum_{k in B} || x_k - ReLU(W^T W x_k + b) ||^2,

the same convention as L_n (docs/index.md, conventions: no factor 1/2). With x_k = mu_k e_{i_k}, the
pre-activations are p_k = x_k^T G + b with G = W^T W (symmetric), and with
d_k = (2/m) (ReLU(p_k) - x_k) * 1[p_k > 0]:

    dL_B/dG = sum_k x_k d_k^T,   dL_B/dW = W (dL_B/dG + dL_B/dG^T),   dL_B/db = sum_k d_k.

These are computed by hand (no autograd) for R runs at once with ``torch.bmm`` on tensors of shape
(R, m, c); one Python iteration per SGD step serves all runs.

**Randomness.** Each run has its own integer seed. From it, :class:`numpy.random.SeedSequence` spawns
three independent streams (``torch.Generator``): the training set, the initial noise and the
minibatch order (a fresh permutation of the training set every epoch; the last batch of an epoch is
smaller when m does not divide n). A run's trajectory depends only on its own seed and the config,
not on which other runs are trained in the same batch. With ``data_seed`` set, all runs share one
training set drawn from that seed.

**General TMS** (Elhage et al. 2022; docs/general.md). ``importance`` I_j weights output coordinate
j in the loss (sum_j I_j (x_j - f_j(x))^2, the gradient scales d by I); ``input_scale`` s_i scales
feature i's input (x = s_i mu e_i); ``sparsity`` S replaces the high-sparsity inputs by the input
density of :func:`kgon.population_loss_density` (each feature active with probability 1 - S, uniform on
[0, s_i]); the training inputs are then stored densely (``SGDResult.inputs``) and the population loss
of the checkpoints is that function's estimate (1024 quasi-random points per active-set size, 4
replicates).

**Checkpoints.** Parameters are recorded at step 0 and at ``checkpoints - 1`` log-spaced steps up to
the last step (duplicates after rounding merged), together with the training loss L_n (on the run's
own training set) and the population loss L (closed form, :func:`kgon.potential_torch`).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from kgon import population_loss_density, potential_torch
from kgon.io import ResultStore, config_key, put_args
from kgon.validation import check_feature_weights, check_int
from sampling.dynamics.sgd_data import dense_training_inputs, run_generators, training_data, training_inputs

__all__ = ["INITS", "OPTIMIZERS", "SGDConfig", "SGDResult", "checkpoint_steps", "dense_training_inputs",
           "initial_params", "make_optimizer", "run_generators", "sgd_run_key", "sgd_store_config", "train_or_load",
           "train_sgd", "training_data"]

_DTYPES = {"float64": torch.float64, "float32": torch.float32}
INITS = ("polygon", "random")
"""Initialisations of :class:`SGDConfig`: the k-gon plus noise (default), or Glorot normal W and b = 0."""
OPTIMIZERS = ("sgd", "adam", "adamw")
"""Optimizers of :class:`SGDConfig` (module docstring)."""
# Fields added after results were stored: omitted from ``to_dict`` at their default, so that the
# store keys (and saved configs) of the default protocol stay the same.
_OPTIONAL_FIELDS = {"init": "polygon", "optimizer": "sgd", "weight_decay": 0.0}


def _check_pos_float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a positive finite number; got {value!r}.")
    return float(value)


def _check_nonneg_float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"`{name}` must be a non-negative finite number; got {value!r}.")
    return float(value)


@dataclass(frozen=True)
class SGDConfig:
    """Settings of a batch of SGD runs; the defaults are the paper's protocol (Chen et al. 2023, §6; docs/dynamics.md).

    Attributes
    ----------
    c, r : int
        Features (>= 2) and hidden dimensions (>= 1). Default 6 and 2.
    n : int
        Size of each run's fixed training set. Default 1000.
    batch_size : int
        Minibatch size m (1 <= m <= n). Default 20.
    lr : float
        Learning rate eta of w <- w - eta grad L_B(w). Default 0.005.
    epochs : int
        Passes over the training set. Default 4500 (225,000 steps at n = 1000, m = 20).
    init_k : int
        Initial polygon size k (0 <= k <= c; 1 is a single column, 0 all columns zero). Needs r >= 2
        for k >= 3. Default 4.
    init_length : float
        Length of the initial polygon's columns. Default 1.
    init_noise : float
        Standard deviation of the Gaussian noise added to every parameter. Default 0.01.
    checkpoints : int
        Requested number of checkpoints (>= 2), step 0 and log-spaced steps up to the last step.
        Default 200.
    dtype : str
        ``"float64"`` (default) or ``"float32"``.
    data_seed : int or None
        If set, every run uses the training set drawn from this seed instead of its own.
    sparsity : float or None
        Input sparsity S in [0, 1) of the general input density (module docstring); ``None`` (default)
        is the high-sparsity limit, one active feature per input.
    importance : tuple of float or None
        Output weights I_j > 0, one per feature; ``None`` (default): all ones.
    input_scale : tuple of float or None
        Input scales s_i > 0, one per feature; ``None`` (default): all ones.
    init : str
        ``"polygon"`` (default: the ``init_k``-gon plus noise) or ``"random"`` (Glorot normal W, b = 0;
        module docstring).
    optimizer : str
        ``"sgd"`` (default), ``"adam"`` or ``"adamw"`` (module docstring).
    weight_decay : float
        Weight decay lambda >= 0 of the optimizer (default 0).
    """

    c: int = 6
    r: int = 2
    n: int = 1000
    batch_size: int = 20
    lr: float = 0.005
    epochs: int = 4500
    init_k: int = 4
    init_length: float = 1.0
    init_noise: float = 0.01
    checkpoints: int = 200
    dtype: str = "float64"
    data_seed: int | None = None
    sparsity: float | None = None
    importance: tuple[float, ...] | None = None
    input_scale: tuple[float, ...] | None = None
    init: str = "polygon"
    optimizer: str = "sgd"
    weight_decay: float = 0.0

    def __post_init__(self):
        check_int("c", self.c, minimum=2)
        check_int("r", self.r, minimum=1)
        check_int("n", self.n, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1, maximum=self.n)
        _check_pos_float("lr", self.lr)
        check_int("epochs", self.epochs, minimum=1)
        check_int("init_k", self.init_k, minimum=0, maximum=self.c)
        if self.init_k >= 3 and self.r < 2:
            raise ValueError(f"`init_k` >= 3 needs r >= 2 hidden dimensions; got init_k={self.init_k}, r={self.r}.")
        _check_nonneg_float("init_length", self.init_length)
        _check_nonneg_float("init_noise", self.init_noise)
        check_int("checkpoints", self.checkpoints, minimum=2)
        if self.dtype not in _DTYPES:
            raise ValueError(f"`dtype` must be one of {sorted(_DTYPES)}; got {self.dtype!r}.")
        if self.data_seed is not None:
            check_int("data_seed", self.data_seed, minimum=0)
        if self.sparsity is not None and (
            isinstance(self.sparsity, bool) or not isinstance(self.sparsity, (int, float))
            or not 0.0 <= self.sparsity < 1.0
        ):
            raise ValueError(f"`sparsity` must be None or a number in [0, 1); got {self.sparsity!r}.")
        for name in ("importance", "input_scale"):
            value = check_feature_weights(name, getattr(self, name), self.c)
            if value is not None:
                object.__setattr__(self, name, tuple(float(v) for v in value))  # normalise in __post_init__
        if self.init not in INITS:
            raise ValueError(f"`init` must be one of {list(INITS)}; got {self.init!r}.")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"`optimizer` must be one of {list(OPTIMIZERS)}; got {self.optimizer!r}.")
        object.__setattr__(self, "weight_decay", _check_nonneg_float("weight_decay", self.weight_decay))

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.n // self.batch_size)

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    def to_dict(self) -> dict:
        """The fields as a dict; ``init``, ``optimizer`` and ``weight_decay`` only where they differ from
        their defaults (so the default protocol's store keys do not depend on them)."""
        out = asdict(self)
        for name, default in _OPTIONAL_FIELDS.items():
            if out[name] == default:
                del out[name]
        return out

    def key(self) -> str:
        """A short hash of the config (for result files)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True, eq=False)
class SGDResult:
    """Checkpoints of a batch of SGD runs (R runs, K checkpoints).

    Attributes
    ----------
    config : SGDConfig
    seeds : tuple of int
        One seed per run (module docstring).
    steps : ndarray of int, shape (K,)
        The checkpoint steps (0 = initialisation).
    W : ndarray, shape (R, K, r, c)
    b : ndarray, shape (R, K, c)
    train_loss : ndarray, shape (R, K)
        L_n on each run's training set.
    loss : ndarray, shape (R, K)
        Population loss L (closed form).
    features : ndarray of int, shape (R, n)
        Each run's training set: feature indices ...
    mu : ndarray, shape (R, n)
        ... and magnitudes (high-sparsity inputs; shape (R, 0) under a general input density).
    diverged : ndarray of bool, shape (R,)
        Runs whose parameters became non-finite (their later checkpoints are NaN).
    wall_time : float
        Seconds spent in the training loop.
    inputs : ndarray of shape (R, n, c) or None
        The training inputs, densely, under a general input density (``config.sparsity`` set); None
        for high-sparsity inputs (given by ``features`` and ``mu``).
    """

    config: SGDConfig
    seeds: tuple[int, ...]
    steps: np.ndarray
    W: np.ndarray
    b: np.ndarray
    train_loss: np.ndarray
    loss: np.ndarray
    features: np.ndarray
    mu: np.ndarray
    diverged: np.ndarray
    wall_time: float = field(default=float("nan"), compare=False)
    inputs: np.ndarray | None = None

    @property
    def runs(self) -> int:
        return len(self.seeds)

    def _arrays(self) -> dict:
        """The arrays of the result (the ``.npz`` payload of :meth:`save` and of the result store)."""
        arrays = dict(steps=self.steps, W=self.W, b=self.b, train_loss=self.train_loss, loss=self.loss,
                      features=self.features, mu=self.mu, diverged=self.diverged)
        if self.inputs is not None:
            arrays["inputs"] = self.inputs
        return arrays

    @classmethod
    def _from_arrays(cls, config: "SGDConfig", seeds, wall_time: float, arrays) -> "SGDResult":
        return cls(
            config=config, seeds=tuple(int(s) for s in seeds), wall_time=float(wall_time),
            inputs=arrays["inputs"] if "inputs" in arrays else None,
            steps=arrays["steps"], W=arrays["W"], b=arrays["b"], train_loss=arrays["train_loss"],
            loss=arrays["loss"], features=arrays["features"], mu=arrays["mu"], diverged=arrays["diverged"],
        )

    def save(self, path) -> Path:
        """Store the runs in the result store at the directory ``path`` (:class:`kgon.io.ResultStore`,
        created if absent), as the entry of :func:`sgd_store_config` (the entry :func:`train_or_load`
        reuses); returns the entry's record file. :meth:`load` reads it back."""
        store = ResultStore(path)
        entry = store.put(sgd_store_config(self.config, self.seeds),
                          {"seeds": [int(s) for s in self.seeds], "wall_time": self.wall_time}, arrays=self._arrays())
        return entry.path

    @classmethod
    def load(cls, path) -> "SGDResult":
        """The runs saved by :meth:`save`: ``path`` is the record file it returned, or the store directory
        when that holds exactly one batch of SGD runs."""
        path = Path(path)
        if path.is_dir():
            entries = [e for e in ResultStore(path).list()
                       if isinstance(e.config, dict) and e.config.get("kind") == "sgd"]
            if len(entries) != 1:
                raise ValueError(f"{str(path)!r} holds {len(entries)} stored batches of SGD runs; pass the record "
                                 "file (<key>.json) that SGDResult.save returned.")
            return cls.from_store_entry(entries[0])
        if path.suffix != ".json" or not path.is_file():
            raise ValueError(f"`path` must be a result store directory or its record file (<key>.json) written by "
                             f"SGDResult.save; got {str(path)!r}.")
        return cls.from_store_entry(ResultStore(path.parent).get_key(path.stem))

    @classmethod
    def from_store_entry(cls, entry) -> "SGDResult":
        """The runs of a :class:`kgon.io.StoreEntry` of :func:`sgd_store_config`."""
        wall_time = entry.result["wall_time"]
        return cls._from_arrays(_config_from_dict(entry.config["config"]), entry.result["seeds"],
                                float("nan") if wall_time is None else wall_time, entry.load_arrays())


def _config_from_dict(cfg: dict) -> SGDConfig:
    cfg = dict(cfg)
    for name in ("importance", "input_scale"):
        if cfg.get(name) is not None:
            cfg[name] = tuple(cfg[name])
    return SGDConfig(**cfg)


def sgd_store_config(config: SGDConfig, seeds) -> dict:
    """The configuration under which a batch of runs is stored in a :class:`kgon.io.ResultStore`."""
    return {"kind": "sgd", "config": config.to_dict(), "seeds": [int(s) for s in seeds]}


def sgd_run_key(config: SGDConfig, seeds) -> str:
    """The store key of (config, seeds) (:func:`kgon.io.config_key` of :func:`sgd_store_config`)."""
    return config_key(sgd_store_config(config, seeds))


def train_or_load(config: SGDConfig, seeds, store: ResultStore | None = None, *,
                  progress: bool = False) -> tuple[SGDResult, bool]:
    """``(result, reused)``: the runs of (config, seeds) from ``store`` if it holds them, else train
    them and store them there.

    ``store`` is a :class:`kgon.io.ResultStore` (``tmsphase sgd --out DIR`` and ``tmsphase
    development --out DIR`` share ``DIR/sgd-runs``); the entry's key is :func:`sgd_run_key`, its
    arrays the checkpoints, written atomically, so an interrupted run leaves no partial result.
    ``None`` trains without storing. A corrupt entry raises :class:`kgon.io.StoreError`.
    """
    seeds = [int(s) for s in seeds]
    if store is None:
        return train_sgd(config, seeds, progress=progress), False

    def compute():
        result = train_sgd(config, seeds, progress=progress)
        return put_args({"seeds": seeds, "wall_time": result.wall_time}, arrays=result._arrays())

    entry, reused = store.get_or_compute(sgd_store_config(config, seeds), compute)
    wall_time = entry.result["wall_time"]
    return SGDResult._from_arrays(config, entry.result["seeds"], float("nan") if wall_time is None else wall_time,
                                  entry.load_arrays()), reused


def checkpoint_steps(total_steps: int, checkpoints: int) -> np.ndarray:
    """Step 0 and ``checkpoints - 1`` log-spaced steps in [1, total_steps], rounded, deduplicated."""
    total_steps = check_int("total_steps", total_steps, minimum=1)
    checkpoints = check_int("checkpoints", checkpoints, minimum=2)
    s = np.unique(np.round(np.geomspace(1, total_steps, checkpoints - 1)).astype(np.int64))
    return np.concatenate([[0], s])


def initial_params(config: SGDConfig, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The initialisation of one run (module docstring), float64: the k-gon plus noise, or with
    ``config.init == "random"`` W_ij ~ N(0, 2 / (r + c)) and b = 0."""
    r, c, k = config.r, config.c, config.init_k
    if config.init == "random":
        std = math.sqrt(2.0 / (r + c))
        return std * torch.randn(r, c, generator=generator, dtype=torch.float64), torch.zeros(c, dtype=torch.float64)
    W = torch.zeros(r, c, dtype=torch.float64)
    for m in range(k):
        ang = 2 * math.pi * m / k
        W[0, m] = config.init_length * math.cos(ang)
        if r >= 2:
            W[1, m] = config.init_length * math.sin(ang)
    b = torch.zeros(c, dtype=torch.float64)
    W = W + config.init_noise * torch.randn(r, c, generator=generator, dtype=torch.float64)
    b = b + config.init_noise * torch.randn(c, generator=generator, dtype=torch.float64)
    return W, b


@contextmanager
def _torch_threads(k: int | None):
    """Temporarily set torch's intra-op thread count (restored afterwards)."""
    if k is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(k)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def make_optimizer(config: SGDConfig, params: list[torch.Tensor]) -> torch.optim.Optimizer | None:
    """The torch optimizer of ``config`` over ``params`` (module docstring); None for plain SGD without
    weight decay, which :func:`train_sgd` applies in place."""
    if config.optimizer == "sgd":
        if config.weight_decay == 0.0:
            return None
        return torch.optim.SGD(params, lr=config.lr, weight_decay=config.weight_decay)
    cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=config.lr, weight_decay=config.weight_decay)


def _empirical_loss(W: torch.Tensor, b: torch.Tensor, X: torch.Tensor, importance=None) -> torch.Tensor:
    """L_n for R runs: W (R, r, c), b (R, c), X (R, n, c) -> (R,); output weights ``importance`` (c,)."""
    G = torch.bmm(W.transpose(1, 2), W)
    pre = torch.baddbmm(b[:, None, :], X, G)
    err = (torch.relu(pre) - X) ** 2
    if importance is not None:
        err = err * importance
    return err.sum(-1).mean(-1)


def train_sgd(config: SGDConfig, seeds, *, num_threads: int | None = 1, progress: bool = False) -> SGDResult:
    """Train ``len(seeds)`` TMS models with minibatch SGD (or Adam/AdamW) as one batched tensor program.

    w <- w - lr * grad L_B(w) for every run at once (``config.optimizer``: the update of torch's
    optimizer instead) (module docstring for the loss, the hand-written
    gradient, the initialisation and the seeding); Chen et al. (2023) §6, docs/dynamics.md.

    Parameters
    ----------
    config : SGDConfig
        The protocol (defaults: the paper's).
    seeds : sequence of int
        One non-negative seed per run (distinct seeds give independent runs).
    num_threads : int or None, keyword-only
        torch intra-op threads during training (set temporarily, restored afterwards). The default 1
        is fastest for these tiny tensors; None leaves torch's setting alone.
    progress : bool, keyword-only
        Show a tqdm progress bar over epochs.

    Returns
    -------
    SGDResult
    """
    if not isinstance(config, SGDConfig):
        raise ValueError(f"`config` must be an SGDConfig; got {type(config).__name__}.")
    seeds = tuple(check_int("seeds[i]", s, minimum=0) for s in seeds)
    if not seeds:
        raise ValueError("`seeds` must contain at least one seed; got an empty sequence.")
    if num_threads is not None:
        num_threads = check_int("num_threads", num_threads, minimum=1)
    cfg = config
    R, c, r, n, m = len(seeds), cfg.c, cfg.r, cfg.n, cfg.batch_size
    dt = _DTYPES[cfg.dtype]
    gens = [run_generators(s) for s in seeds]
    data_seeds = [cfg.data_seed] * R if cfg.data_seed is not None else list(seeds)
    imp = None if cfg.importance is None else torch.tensor(cfg.importance, dtype=dt)
    X_data, features, mu, inputs = training_inputs(cfg, data_seeds)
    inits = [initial_params(cfg, g[1]) for g in gens]
    W = torch.stack([w for w, _ in inits]).to(dt)
    b = torch.stack([bb for _, bb in inits]).to(dt)
    X_all = X_data.to(dt)  # (R, n, c)
    opt = make_optimizer(cfg, [W, b])

    steps = checkpoint_steps(cfg.total_steps, cfg.checkpoints)
    K = steps.size
    W_out = np.full((R, K, r, c), np.nan)
    b_out = np.full((R, K, c), np.nan)
    ck = {int(s): i for i, s in enumerate(steps)}
    bounds = [(s, min(s + m, n)) for s in range(0, n, m)]
    S = len(bounds)
    scale = 2.0 / m

    def record(i):
        W_out[:, i] = W.to(torch.float64).numpy()
        b_out[:, i] = b.to(torch.float64).numpy()

    t0 = time.perf_counter()
    with _torch_threads(num_threads), torch.no_grad():
        record(0)
        G = torch.bmm(W.transpose(1, 2), W)
        step = 0
        epochs = range(cfg.epochs)
        if progress:
            from tqdm.auto import tqdm  # deferred: tqdm only when a progress bar is asked for

            epochs = tqdm(epochs, desc="SGD epochs", unit="epoch")
        for _ in epochs:
            perm = torch.stack([torch.randperm(n, generator=g[2]) for g in gens])  # (R, n)
            Xe = torch.gather(X_all, 1, perm[..., None].expand(R, n, c))
            # layout (S, R, m, c): each step reads one contiguous block
            full = Xe[:, : (n // m) * m].reshape(R, n // m, m, c).transpose(0, 1).contiguous()
            for s in range(S):
                if s < full.shape[0]:
                    xb = full[s]
                else:  # the smaller last batch
                    lo, hi = bounds[s]
                    xb = Xe[:, lo:hi].contiguous()
                    scale = 2.0 / (hi - lo)
                G = _update(W, b, G, xb, imp, opt, lr=cfg.lr, scale=scale)
                scale = 2.0 / m
                step += 1
                i = ck.get(step)
                if i is not None:
                    record(i)
    wall = time.perf_counter() - t0

    train_loss, pop = _checkpoint_losses(cfg, W_out, b_out, X_data)
    diverged = ~np.all(np.isfinite(W_out), axis=(1, 2, 3))
    return SGDResult(
        config=cfg, seeds=seeds, steps=steps, W=W_out, b=b_out, train_loss=train_loss, loss=pop,
        features=features.numpy(), mu=mu.numpy(), diverged=diverged, wall_time=wall, inputs=inputs,
    )


def _checkpoint_losses(cfg: SGDConfig, W_out: np.ndarray, b_out: np.ndarray, X_data) -> tuple[np.ndarray, np.ndarray]:
    """Training loss L_n and population loss L at every checkpoint, each (R, K): L exactly in the
    high-sparsity limit, by quadrature under ``cfg.sparsity`` (NaN where the run diverged)."""
    R, K, r, c = W_out.shape
    Wt = torch.from_numpy(W_out).reshape(R * K, r, c)
    bt = torch.from_numpy(b_out).reshape(R * K, c)
    imp64 = None if cfg.importance is None else torch.tensor(cfg.importance, dtype=torch.float64)
    with torch.no_grad():
        train_loss = np.stack(
            [_empirical_loss(torch.from_numpy(W_out[:, i]), torch.from_numpy(b_out[:, i]), X_data, imp64).numpy()
             for i in range(K)], axis=1)
        finite = torch.isfinite(Wt).all(dim=(1, 2)) & torch.isfinite(bt).all(dim=1)
        pop = torch.full((R * K,), float("nan"), dtype=torch.float64)
        if finite.any() and cfg.sparsity is None:
            pop[finite] = potential_torch(Wt[finite], bt[finite], importance=cfg.importance,
                                          input_scale=cfg.input_scale)
        elif finite.any():
            est = population_loss_density(Wt[finite].numpy(), bt[finite].numpy(), sparsity=cfg.sparsity,
                                          importance=cfg.importance, input_scale=cfg.input_scale,
                                          n_points=1024, replicates=4)
            pop[finite] = torch.from_numpy(np.asarray(est.value))
    return train_loss, pop.reshape(R, K).numpy()


def _update(W, b, G, xb, imp, opt, *, lr: float, scale: float):
    """One minibatch update of every run in place: the hand-written gradient of the batch loss
    (module docstring; ``scale`` = 2 / batch size) applied by plain SGD (``opt`` None, step ``lr``) or by
    ``opt``; returns the new Gram matrices W^T W."""
    pre = torch.baddbmm(b[:, None, :], xb, G)
    d = torch.where(pre > 0, pre - xb, 0.0)
    if imp is not None:
        d = d * imp
    dG = torch.bmm(xb.transpose(1, 2), d)
    dW = torch.bmm(W, dG + dG.transpose(1, 2))
    if opt is None:
        W.add_(dW, alpha=-lr * scale)
        b.add_(d.sum(1), alpha=-lr * scale)
    else:
        W.grad, b.grad = dW.mul_(scale), d.sum(1).mul_(scale)
        opt.step()
    return torch.bmm(W.transpose(1, 2), W)
