"""A torch ``nn.Module`` as a JAX loss, so that torch models are estimated by the same (calibrated)
SGLD machinery (:func:`sampling.estimate_llc`; docs/llc.md, "Torch models").

:func:`torch_llc_problem` flattens the module's parameters into one float64 vector w and returns
``(loss_fn, w_star, data)`` for :func:`sampling.estimate_llc`: ``loss_fn(w, batch)`` evaluates

    L(w) = loss( functional_call(module, w, inputs[batch]), targets[batch] )

in torch (``torch.func.functional_call``, parameters substituted without touching the module) through
``jax.pure_callback``, with the gradient from ``torch.autograd`` as a custom VJP. Full batch by
default (``data`` is the index vector 0..n-1, so ``batch_size=m`` draws minibatches of indices). The
SGLD update, the health checks, the MALA acceptance and the calibration are the JAX ones; only the
loss and its gradient run in torch (one callback per evaluation, chains one after another: use it for
small and medium models; the JAX-native losses are much faster).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["torch_llc_problem"]


def torch_llc_problem(module, loss: Callable, inputs, targets):
    """``(loss_fn, w_star, data)`` for :func:`sampling.estimate_llc` from a torch model (module docstring).

    Parameters
    ----------
    module : torch.nn.Module
        The model at the centre w* (its current parameters).
    loss : callable ``loss(outputs, targets) -> scalar tensor``
        The per-sample-mean loss L (e.g. ``torch.nn.MSELoss()``; for the LLC's conventions a Gaussian
        negative log-likelihood up to constants, 1/2 mean ||y - f(x)||^2).
    inputs, targets : torch.Tensor
        The data set (leading axis = samples).

    Returns
    -------
    loss_fn : callable ``loss_fn(w, idx)``
    w_star : jax array, shape (d,)
        The module's parameters, flattened (float64).
    data : jax array of int
        Sample indices 0..n-1 (pass ``n=len(inputs)`` or ``nbeta`` to the estimator).
    """
    import torch  # deferred: torch is needed only for torch models (the estimator is JAX)
    from torch.func import functional_call  # deferred: as above

    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"`module` must be a torch.nn.Module; got {type(module).__name__}.")
    if not callable(loss):
        raise ValueError(f"`loss` must be callable; got {type(loss).__name__}.")
    X = torch.as_tensor(inputs, dtype=torch.float64)
    Y = torch.as_tensor(targets, dtype=torch.float64)
    if X.shape[0] != Y.shape[0] or X.shape[0] < 1:
        raise ValueError(f"`inputs` and `targets` must have the same positive number of samples; got "
                         f"{X.shape[0]} and {Y.shape[0]}.")
    names = [k for k, p in module.named_parameters() if p.requires_grad]
    if not names:
        raise ValueError("`module` has no trainable parameters.")
    params = dict(module.named_parameters())
    shapes = [tuple(params[k].shape) for k in names]
    sizes = [int(np.prod(s)) for s in shapes]
    w0 = np.concatenate([params[k].detach().to(torch.float64).reshape(-1).numpy() for k in names])
    buffers = {k: b for k, b in module.named_buffers()}

    def _unflatten(t):
        out, i = {}, 0
        for k, s, m in zip(names, shapes, sizes):
            out[k] = t[i : i + m].reshape(s)
            i += m
        return out

    def _torch_loss(t, idx):
        ps = _unflatten(t)
        ps.update(buffers)
        return loss(functional_call(module, ps, (X[idx],)), Y[idx])

    def _value(w, idx):
        with torch.no_grad():
            v = _torch_loss(torch.from_numpy(np.array(w, dtype=np.float64)), torch.from_numpy(np.array(idx)))
        return np.asarray(v.item(), dtype=np.float64)

    def _value_and_grad(w, idx):
        t = torch.from_numpy(np.array(w, dtype=np.float64)).requires_grad_(True)
        v = _torch_loss(t, torch.from_numpy(np.array(idx)))
        (g,) = torch.autograd.grad(v, t)
        return np.asarray(v.item(), dtype=np.float64), g.detach().numpy().astype(np.float64)

    scalar = jax.ShapeDtypeStruct((), jnp.float64)

    @jax.custom_vjp
    def loss_fn(w, idx):
        return jax.pure_callback(_value, scalar, w, idx, vmap_method="sequential")

    def fwd(w, idx):  # one torch forward + backward per evaluation under jax.value_and_grad
        v, g = jax.pure_callback(_value_and_grad, (scalar, jax.ShapeDtypeStruct(w.shape, jnp.float64)), w, idx,
                                 vmap_method="sequential")
        return v, g

    def bwd(g, ct):
        return ct * g, None

    loss_fn.defvjp(fwd, bwd)
    return loss_fn, jnp.asarray(w0), jnp.arange(X.shape[0])
