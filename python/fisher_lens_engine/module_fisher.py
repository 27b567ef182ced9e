"""Per-example squared gradient norms of an arbitrary ``torch.nn.Module`` classifier, vectorised.

The user-model counterpart of ``fisher.per_example_sq_norms`` (which works on the engine's own functional
models): one forward with hooks on the layers that own trainable parameters, one backward to those layers'
outputs δ, and per layer the per-example ‖∂ℓ_i/∂θ_layer‖² from its input a and δ — never a per-example loop:

- ``Linear`` on [B, in]: ‖a_i‖²‖δ_i‖² (+ ‖δ_i‖² for the bias); on [B, T…, in] the per-example weight gradient
  is Σ_t δ_it a_itᵀ, its squared norm from the Gram form Σ (A_i A_iᵀ)⊙(D_i D_iᵀ) or the explicit product,
  whichever is cheaper.
- ``Conv1d``/``Conv2d`` (any stride, padding, dilation; groups = 1): per-example kernel gradients from the
  unfolded input, U_i [C·k, P] and D_i [O, P]: ‖D_i U_iᵀ‖² (or its Gram form), bias Σ_p δ_i.
- ``BatchNorm1d``/``BatchNorm2d`` with running statistics, measured in eval mode: γ: Σ δ_i ⊙ x̂_i per channel,
  β: Σ δ_i; ``LayerNorm``: the same over the normalised positions.

Exact when no layer couples the examples of a batch, which is why BatchNorm is measured in eval mode (the
paper's protocol) and refused in training mode. Any other module owning a trainable parameter is refused with
its name and type (``UnsupportedModelError``).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .fisher import _per_example_kernel_terms, sample_labels

SUPPORTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)


class UnsupportedModelError(ValueError):
    """A model (or a layer of it) whose per-example gradients Fisher Lens cannot compute exactly."""


def _trainable(m: nn.Module):
    return [p for p in m.parameters(recurse=False) if p.requires_grad]


def check_model(model: nn.Module, measuring_in_train_mode: bool = False) -> list:
    """The (name, module) pairs that own trainable parameters; raises UnsupportedModelError naming a layer
    that cannot be handled."""
    if not isinstance(model, nn.Module):
        raise UnsupportedModelError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    layers = []
    for name, m in model.named_modules():
        label = f"'{name or '<model>'}' ({type(m).__name__})"
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            if not m.track_running_stats or m.running_mean is None:
                raise UnsupportedModelError(
                    f"layer {label}: BatchNorm without running statistics mixes the examples of a batch even in "
                    "eval mode, so per-example gradients are not defined; use track_running_stats=True")
            if measuring_in_train_mode:
                raise UnsupportedModelError(
                    f"layer {label}: BatchNorm in training mode mixes the examples of a batch, so per-example "
                    "gradients are not defined; measure in eval mode (the default, measure_in='eval')")
        if not _trainable(m):
            continue
        if not isinstance(m, SUPPORTED):
            raise UnsupportedModelError(
                f"layer {label}: per-example gradients of this layer type are not supported (supported: "
                f"{', '.join(t.__name__ for t in SUPPORTED)}); freeze its parameters (requires_grad=False) to "
                "measure Tr(F) of the others")
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            if m.groups != 1:
                raise UnsupportedModelError(f"layer {label}: grouped convolutions (groups={m.groups}) are not supported")
            if m.padding_mode != "zeros":
                raise UnsupportedModelError(
                    f"layer {label}: padding_mode '{m.padding_mode}' is not supported (only 'zeros')")
        if isinstance(m, nn.LayerNorm) and not m.elementwise_affine:
            continue
        layers.append((name, m))
    return layers


def _pairs(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def _sq_norm_of_products(A, D):
    """‖D_i A_iᵀ‖² for every i: A [B, T, n], D [B, T, m] — explicit product or Gram form, whichever is cheaper."""
    B, T, n = A.shape
    m = D.shape[2]
    if T * (n + m) < n * m:
        return (torch.bmm(A, A.transpose(1, 2)) * torch.bmm(D, D.transpose(1, 2))).sum((1, 2))
    return torch.bmm(D.transpose(1, 2), A).square().sum((1, 2))


def _conv_input_columns(m, a):
    """a [B, C, *spatial] → unfolded columns [B, C·k, P] matching the conv's output positions."""
    nd = 2 if isinstance(m, nn.Conv2d) else 1
    if nd == 1:
        a = a.unsqueeze(2)
    k = (1, m.kernel_size[0]) if nd == 1 else _pairs(m.kernel_size, 2)
    s = (1, m.stride[0]) if nd == 1 else _pairs(m.stride, 2)
    dil = (1, m.dilation[0]) if nd == 1 else _pairs(m.dilation, 2)
    pad = m.padding
    if isinstance(pad, str):
        if pad == "valid":
            pad = (0,) * nd
        else:  # 'same' (stride 1): possibly asymmetric, padded explicitly like PyTorch (extra on the right)
            spatial_k = m.kernel_size if nd == 2 else (m.kernel_size[0],)
            dils = m.dilation if nd == 2 else (m.dilation[0],)
            widths = []
            for kk, dd in reversed(list(zip(spatial_k, dils))):
                total = dd * (kk - 1)
                widths += [total // 2, total - total // 2]
            a = F.pad(a, widths if nd == 2 else widths + [0, 0])
            pad = (0,) * nd
    p = (0, pad[0]) if nd == 1 else _pairs(pad, 2)
    return F.unfold(a, k, dilation=dil, padding=p, stride=s)


def _plain_conv2d_padding(m):
    """The padding of a Conv2d that the engine's kernel methods take (stride 1, no dilation, one group, the same
    zero padding on every side), else None."""
    if (not isinstance(m, nn.Conv2d) or m.groups != 1 or m.padding_mode != "zeros"
            or tuple(m.stride) != (1, 1) or tuple(m.dilation) != (1, 1)):
        return None
    if isinstance(m.padding, str):  # 'valid', or 'same' (explicit, possibly asymmetric: the unfold path)
        return 0 if m.padding == "valid" else None
    ph, pw = _pairs(m.padding, 2)
    return ph if ph == pw else None


def _layer_sq_norms(m, a, d):
    """Per-example ‖∂ℓ_i/∂θ_m‖² over m's trainable parameters, from its input a and output gradient δ."""
    B = a.shape[0]
    w_on = m.weight is not None and m.weight.requires_grad
    b_on = getattr(m, "bias", None) is not None and m.bias.requires_grad
    n = torch.zeros(B, dtype=d.dtype, device=d.device)
    if isinstance(m, nn.Linear):
        A = a.reshape(B, -1, a.shape[-1])
        D = d.reshape(B, -1, d.shape[-1])
        if w_on:
            if A.shape[1] == 1:
                n = n + A[:, 0].square().sum(1) * D[:, 0].square().sum(1)
            else:
                n = n + _sq_norm_of_products(A, D)
        if b_on:
            n = n + D.sum(1).square().sum(1)
        return n
    if isinstance(m, (nn.Conv1d, nn.Conv2d)):
        D = d.reshape(B, d.shape[1], -1)  # [B, O, P]
        pad = _plain_conv2d_padding(m) if w_on else None
        if pad is not None:
            O, C, kh, kw = m.weight.shape
            if D.shape[2] * (O + C * kh * kw) < O * C * kh * kw:  # the Gram form is cheaper
                pad = None
        if pad is not None:
            # a stride-1 Conv2d with symmetric zero padding, not cheaper in the Gram form: the engine's own
            # fastest exact per-example kernel method for this shape (fisher._pick_kernel_method)
            n = n + _per_example_kernel_terms(a, d, pad, m.weight.shape, False)[0]
        elif w_on:
            U = _conv_input_columns(m, a)  # [B, C·k, P]
            n = n + _sq_norm_of_products(U.transpose(1, 2), D.transpose(1, 2))
        if b_on:
            n = n + D.sum(2).square().sum(1)
        return n
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        shape = [1, -1] + [1] * (a.dim() - 2)
        xhat = (a - m.running_mean.reshape(shape)) / torch.sqrt(m.running_var.reshape(shape) + m.eps)
        dims = tuple(range(2, a.dim()))
        if w_on:
            g = (d * xhat).sum(dims) if dims else d * xhat
            n = n + g.square().sum(1)
        if b_on:
            g = d.sum(dims) if dims else d
            n = n + g.square().sum(1)
        return n
    if isinstance(m, nn.LayerNorm):
        k = len(m.normalized_shape)
        red = tuple(range(a.dim() - k, a.dim()))
        mu = a.mean(red, keepdim=True)
        var = a.var(red, unbiased=False, keepdim=True)
        xhat = (a - mu) / torch.sqrt(var + m.eps)
        lead = tuple(range(1, a.dim() - k))
        if w_on:
            g = (d * xhat).sum(lead) if lead else d * xhat
            n = n + g.reshape(B, -1).square().sum(1)
        if b_on:
            g = d.sum(lead) if lead else d
            n = n + g.reshape(B, -1).square().sum(1)
        return n
    raise UnsupportedModelError(f"{type(m).__name__}: not supported")  # check_model refuses these first


def module_per_example_sq_norms(model: nn.Module, layers: list, x: torch.Tensor, labels=None, seed: int = 0,
                                params=None):
    """(norms [B] in x's dtype, labels list): n_i = ‖∇θ ℓ(x_i, y_i)‖² over the trainable parameters of
    `layers` (from check_model), labels given or sampled from the model's softmax with `seed` (one uniform per
    example from the engine's Rng, as the built-in engines).

    With `params` (a list of parameters) a third value: Σ_i ∇θ ℓ(x_i, y_i) for each of them (None where unused),
    from the same backward pass that gives the per-example norms — Tr(F_B) needs no second pass."""
    taps = []
    seen = set()

    def hook(mod, inputs, out):
        if id(mod) in seen:
            raise UnsupportedModelError(
                f"layer '{names[id(mod)]}' ({type(mod).__name__}) is called more than once in one forward pass "
                "(shared weights): its per-example gradient is a sum over the calls, not supported")
        seen.add(id(mod))
        taps.append((mod, inputs[0].detach(), out))
        return out.clone()  # so an in-place op after the layer cannot change the tapped output

    names = {id(m): name for name, m in layers}
    handles = [m.register_forward_hook(hook) for _, m in layers]
    try:
        with torch.enable_grad():
            logits = model(x)
            if not isinstance(logits, torch.Tensor) or logits.dim() != 2:
                raise UnsupportedModelError(
                    "model output: expected logits of shape [batch, classes], got "
                    f"{tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__}")
            if labels is None:
                labels = sample_labels(logits, seed)
            y = torch.tensor(labels, dtype=torch.long, device=logits.device)
            loss = F.cross_entropy(logits, y, reduction="sum")
            outs = [o for (_, _, o) in taps]
            wrt = outs + list(params or [])
            got = torch.autograd.grad(loss, wrt, allow_unused=True) if wrt else []
            deltas, sums = got[:len(outs)], list(got[len(outs):])
    finally:
        for h in handles:
            h.remove()
    norms = torch.zeros(x.shape[0], dtype=logits.dtype, device=logits.device)
    with torch.no_grad():
        for (m, a, _), d in zip(taps, deltas):
            if d is not None:
                norms += _layer_sq_norms(m, a, d)
    if params is not None:
        return norms, list(labels), sums
    return norms, list(labels)
