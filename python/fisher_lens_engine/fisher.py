"""Per-example squared gradient norms (vectorised), Tr(F), Tr(F_B), penalties by double backprop.

Same definitions and random streams as src/core/{loss,perExample,fisher,penalty}.ts:
- labels ŷ are drawn on the host in float64 from the logits with ``Rng(seed)``, one uniform per example;
- Tr(F) over N examples is computed in chunks of 128; chunk c uses seed ``derive_seed(seed, c)``;
- the per-example norms are float32 values (as the TS Float32Array), mean and standard error in float64.

Per-example norms in ONE backward pass to the layers' pre-activations z (no per-example loop):
dense: ‖a_i‖²‖δ_i‖² + ‖δ_i‖²; conv: per-example kernel gradients G_i = δ_i ⋆ a_i by the fastest of several
exact methods for the layer's shape (kernel-tap matrix products over shifted views of the channels-last input,
grouped weight-gradient convolutions, im2col + bmm; timed once per shape), reduced to norms at once
(or, when cheaper, the Gram form Σ_pq (δ_iᵀδ_i)_pq (U_iᵀU_i)_pq), plus ‖Σ_p δ_i‖² for the bias. Exact because
no layer couples the examples of a batch (no BatchNorm).
"""
from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

from .rng import Rng, derive_seed

CHUNK = 128


def softmax_rows(z: list) -> list:
    """float64 softmax of one row of float32 logits, exactly as softmaxRows in loss.ts."""
    m = -math.inf
    for v in z:
        m = max(m, v)
    e = [math.exp(v - m) for v in z]
    s = 0.0
    for v in e:
        s += v
    return [v / s for v in e]


def sample_labels(logits: torch.Tensor, seed: int) -> list:
    """ŷ_i ~ softmax(z_i): one uniform from Rng(seed) per example, first class with u < cumulative p."""
    rows = logits.detach().to("cpu", torch.float32).tolist()
    rng = Rng(seed)
    out = []
    for z in rows:
        p = softmax_rows(z)
        u = rng.next()
        c = 0.0
        K = len(p)
        k = 0
        while k < K - 1:
            c += p[k]
            if u < c:
                break
            k += 1
        out.append(k)
    return out


def uniform_labels(n: int, K: int, seed: int) -> list:
    rng = Rng(seed)
    return [rng.int(K) for _ in range(n)]


_CONV_BWD = getattr(getattr(torch.ops, "aten"), "convolution_backward", None)


def _kernel_grads_grouped(chunk):
    """G[b] = ∂ℓ_b/∂W for every example, in chunks [c, O, C·kh·kw], as the weight gradient of ONE grouped
    convolution per `chunk` examples folded into channels (input a as [1, c·C, H, W], δ as [1, c·O, H', W'],
    groups = c): the backend's weight-gradient kernel (oneDNN / cuDNN) computes c kernels in one call."""
    def run(a, d, pad, wshape):
        O, C, kh, kw = wshape
        B = a.shape[0]
        if chunk >= B:
            w = a.new_empty(1).expand(B * O, C, kh, kw)  # only its shape is read (grad_input not requested)
            G = _CONV_BWD(d.reshape(1, B * O, d.shape[2], d.shape[3]), a.reshape(1, B * C, a.shape[2], a.shape[3]),
                          w, None, [1, 1], [pad, pad], [1, 1], False, [0, 0], B, [False, True, False])[1]
            return [G.reshape(B, O, C * kh * kw)]
        return [g for s in range(0, B, chunk) for g in run(a[s:s + chunk], d[s:s + chunk], pad, wshape)]
    return run


def _kernel_grads_forward(a, d, pad, wshape):
    """The same as a grouped forward convolution (δ as the kernels): for backends without convolution_backward.
    G[b, o, c, i, j] = Σ_yx δ[b, o, y, x] · a_pad[b, c, y + i, x + j]."""
    O, C, kh, kw = wshape
    B = a.shape[0]
    G = F.conv2d(a.transpose(0, 1), d.reshape(B * O, 1, d.shape[2], d.shape[3]), padding=pad, groups=B)
    return [G.reshape(C, B, O, kh * kw).permute(1, 2, 0, 3).reshape(B, O, C * kh * kw)]


def _kernel_grads_unfold(chunk):
    """The same as δ_b U_bᵀ with U_b the unfolded input (im2col), one batched matrix product per `chunk`
    examples (the im2col buffer stays at chunk·C·k·k·P values)."""
    def run(a, d, pad, wshape):
        O, C, kh, kw = wshape
        B = a.shape[0]
        D = d.reshape(B, O, -1)
        out = []
        for s in range(0, B, chunk):
            U = F.unfold(a[s:s + chunk], (kh, kw), padding=pad)  # [c, C·k·k, P]
            out.append(torch.bmm(D[s:s + chunk], U.transpose(1, 2)))
        return out
    return run


def _kernel_terms_shifted(chunk):
    """Norms and sum without im2col, for the channels-last layout the engine trains in on the CPU: with a padded
    to [B, Hp, Wp, C] and δ zero-padded to width Wp, output position p = y·Wp + x reads input row p + i·Wp + j
    for kernel tap (i, j), so G_b[:, i, j, :] = δ_bᵀ [O, n] · a_b[i·Wp + j : … + n, :] is one batched matrix
    product over plain strided views (kh·kw of them per chunk; the padded columns of δ are zero). Nothing the
    size of an im2col buffer is made; each tap's [c, O, C] block is reduced to norms (and the sum) at once."""
    def run(a, d, pad, wshape, want_sum):
        O, C, kh, kw = wshape
        B = a.shape[0]
        ah = a.permute(0, 2, 3, 1)  # [B, H, W, C]: a view of a channels-last tensor
        if pad:
            ah = F.pad(ah, (0, 0, pad, pad, pad, pad))
        Hp, Wp = ah.shape[1], ah.shape[2]
        dh = d.permute(0, 2, 3, 1)  # [B, H', W', O]
        Ho, Wo = dh.shape[1], dh.shape[2]
        if Wo != Wp:
            dh = F.pad(dh, (0, 0, 0, Wp - Wo))
        n = Ho * Wp - (kw - 1)  # the last kw − 1 positions are padded columns (zero δ) and would read past a
        Dt = dh.reshape(B, Ho * Wp, O)[:, :n].transpose(1, 2)  # [B, O, n]
        af = ah.reshape(B, Hp * Wp, C)
        norms = a.new_zeros(B)
        S = a.new_zeros(O, kh * kw, C) if want_sum else None
        for s in range(0, B, chunk):
            e = min(B, s + chunk)
            ns = norms[s:e]
            for i in range(kh):
                for j in range(kw):
                    off = i * Wp + j
                    g = torch.bmm(Dt[s:e], af[s:e, off:off + n])  # [c, O, C] (out= would zero-fill it first)
                    ns.add_(_sq_rows(g))
                    if want_sum:
                        S[:, i * kw + j].add_(g.sum(0))
        return norms, (S.reshape(O, kh, kw, C).permute(0, 3, 1, 2) if want_sum else None)
    return run


def _kernel_terms_unfold_cl(chunk):
    """im2col with δ read in place: U_b [C·k·k, P] (small when C is: the first layer) times the channels-last
    δ_b [P, O] gives G_bᵀ without copying δ."""
    def run(a, d, pad, wshape, want_sum):
        O, C, kh, kw = wshape
        B = a.shape[0]
        Dh = d.permute(0, 2, 3, 1).reshape(B, -1, O)  # [B, P, O]: a view when d is channels-last
        norms = a.new_empty(B)
        S = a.new_zeros(C * kh * kw, O) if want_sum else None
        for s in range(0, B, chunk):
            e = min(B, s + chunk)
            Gt = torch.bmm(F.unfold(a[s:e], (kh, kw), padding=pad), Dh[s:e])  # [c, C·k·k, O]
            norms[s:e] = _sq_rows(Gt)
            if want_sum:
                S += Gt.sum(0)
        return norms, (S.t().reshape(O, C, kh, kw) if want_sum else None)
    return run


def _from_chunks(method):
    """A method that returns per-example kernel gradients in chunks [c, O, C·k·k], reduced to (norms, sum)."""
    def run(a, d, pad, wshape, want_sum):
        Gs = method(a, d, pad, wshape)
        norms = torch.cat([_sq_rows(G) for G in Gs])
        return norms, (sum(G.sum(0) for G in Gs).reshape(wshape) if want_sum else None)
    run.chunks = method
    return run


# Every method returns (‖G_b‖² per example [B], Σ_b G_b as [O, C, kh, kw] or None).
_KERNEL_METHODS = {"grouped-all": _from_chunks(_kernel_grads_grouped(1 << 30)),
                   "grouped-32": _from_chunks(_kernel_grads_grouped(32)),
                   "grouped-8": _from_chunks(_kernel_grads_grouped(8)),
                   "grouped-fwd": _from_chunks(_kernel_grads_forward),
                   "im2col-16": _from_chunks(_kernel_grads_unfold(16)),
                   "im2col-64": _from_chunks(_kernel_grads_unfold(64)),
                   "im2col-cl-32": _kernel_terms_unfold_cl(32),
                   "shifted-all": _kernel_terms_shifted(1 << 30),
                   "shifted-32": _kernel_terms_shifted(32),
                   "shifted-16": _kernel_terms_shifted(16)}
_CHUNKED = {"grouped-32": 32, "grouped-8": 8, "im2col-16": 16, "im2col-64": 64, "im2col-cl-32": 32,
            "shifted-32": 32, "shifted-16": 16}
_NEEDS_CONV_BWD = {"grouped-all", "grouped-32", "grouped-8"}
_KERNEL_CHOICE: dict = {}  # (device, dtype, shapes, strides, pad, want_sum) -> the fastest method's name


def _sync(t):
    if t.device.type == "cuda":
        torch.cuda.synchronize(t.device)
    elif t.device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.synchronize()


def _pick_kernel_method(a, d, pad, wshape, want_sum):
    """All the per-example kernel-gradient methods compute the same norms and sum; which is fastest depends on
    the layer's shape, the memory layout, the backend and the device (on one CPU here: from 0.65× to 3× the
    batched weight gradient). Like cuDNN's benchmark mode, each layer shape is timed once on its real tensors
    (three runs of each method after a warm-up, the minimum) and the fastest is kept."""
    key = (str(a.device), a.dtype, tuple(a.shape), a.stride(), tuple(d.shape), d.stride(), tuple(wshape), pad,
           want_sum)
    name = _KERNEL_CHOICE.get(key)
    if name is not None:
        return _KERNEL_METHODS[name]
    names = [n for n in _KERNEL_METHODS
             if (_CONV_BWD is not None or n not in _NEEDS_CONV_BWD)
             and _CHUNKED.get(n, 0) < a.shape[0]]  # a chunk as large as the batch: "-all"
    best, best_t = None, math.inf
    for n in names:
        fn = _KERNEL_METHODS[n]
        try:
            fn(a, d, pad, wshape, want_sum)
            _sync(d)
            t = math.inf
            for _ in range(3):
                t0 = time.perf_counter()
                fn(a, d, pad, wshape, want_sum)
                _sync(d)
                t = min(t, time.perf_counter() - t0)
        except (RuntimeError, NotImplementedError):  # a backend without this op
            continue
        if t < best_t:
            best, best_t = n, t
    if best is None:
        raise RuntimeError("no per-example kernel-gradient method runs on this backend")
    _KERNEL_CHOICE[key] = best
    return _KERNEL_METHODS[best]


def _per_example_kernel_terms(a, d, pad, wshape, want_sum):
    """(‖∂ℓ_b/∂W‖² for every example [B], Σ_b ∂ℓ_b/∂W or None) by the fastest exact method for this shape."""
    return _pick_kernel_method(a, d, pad, wshape, want_sum)(a, d, pad, wshape, want_sum)


def _sq_rows(t):
    """Σ_j t[b, j…]² per row b, in one pass (vector_norm, then squared: ~10× faster than square().sum() on CPU
    for the [B, O, C·k·k] kernel gradients, which it never copies)."""
    return torch.linalg.vector_norm(t.reshape(t.shape[0], -1), dim=1).square()


class _KernelGrad(torch.autograd.Function):
    """∂/∂W of a stride-1 conv2d: gW = Σ_b δ_b ⋆ a_b (the backend's weight-gradient kernel), differentiable once.

    Its backward, needed by double backprop, is two ordinary (non-transposed) convolutions: ∂/∂a = the conv's
    input gradient with kernel ḡW, ∂/∂δ = conv2d(a, ḡW). PyTorch's own double backward of a convolution takes
    slow_conv_transpose2d on CPU for the first (torch 1.13: no oneDNN transposed conv)."""

    @staticmethod
    def forward(ctx, a, d, w, pad):
        ctx.save_for_backward(a, d)
        ctx.pad = pad
        return _CONV_BWD(d, a, w, None, [1, 1], [pad, pad], [1, 1], False, [0, 0], 1, [False, True, False])[1]

    @staticmethod
    def backward(ctx, gg):
        a, d = ctx.saved_tensors
        pad = ctx.pad
        ga = gd = None
        if ctx.needs_input_grad[0]:
            ga = _CONV_BWD(d, a, gg, None, [1, 1], [pad, pad], [1, 1], False, [0, 0], 1, [True, False, False])[0]
        if ctx.needs_input_grad[1]:
            gd = F.conv2d(a, gg, padding=pad)
        return ga, gd, None, None


class _Conv2dTwice(torch.autograd.Function):
    """conv2d(a, w, b, padding=pad), stride 1, with a backward built from ops whose own backward is fast:
    ∂/∂a = conv2d(δ, flip(w)ᵀ, padding=k−1−pad) (a plain convolution), ∂/∂w = _KernelGrad, ∂/∂b = Σ δ."""

    @staticmethod
    def forward(ctx, a, w, b, pad):
        ctx.save_for_backward(a, w)
        ctx.pad = pad
        return F.conv2d(a, w, b, padding=pad)

    @staticmethod
    def backward(ctx, d):
        a, w = ctx.saved_tensors
        pad = ctx.pad
        ga = gw = gb = None
        if ctx.needs_input_grad[0]:
            ga = F.conv2d(d, w.flip(2, 3).transpose(0, 1), padding=(w.shape[2] - 1 - pad, w.shape[3] - 1 - pad))
        if ctx.needs_input_grad[1]:
            gw = _KernelGrad.apply(a, d, w.detach(), pad)
        if ctx.needs_input_grad[2]:
            gb = d.sum((0, 2, 3))
        return ga, gw, gb, None


def conv2d_twice(a, w, b, pad):
    """F.conv2d for graphs that are differentiated twice (penalties); falls back to F.conv2d without the op."""
    if _CONV_BWD is None:
        return F.conv2d(a, w, b, padding=pad)
    return _Conv2dTwice.apply(a, w, b, pad)


def _conv_terms(a, d, L, weight, want_sum):
    """Per-example ‖∂ℓ_i/∂W‖² + ‖∂ℓ_i/∂b‖² of a conv layer from its input a [B,C,H,W] and δ [B,O,H',W']."""
    O, C, kh, kw = weight.shape
    B = a.shape[0]
    P = d.shape[2] * d.shape[3]
    CK = C * kh * kw
    bias_g = d.sum((2, 3))  # [B, O] (no reshape: on a channels-last δ that would copy it)
    norms = bias_g.square().sum(1)
    gW = None
    if P * (O + CK) < O * CK:  # Gram form is cheaper (small maps, wide layers)
        D = d.reshape(B, O, P)
        U = F.unfold(a, (kh, kw), padding=L.pad)  # [B, C·kh·kw, P]
        GD = torch.bmm(D.transpose(1, 2), D)
        GU = torch.bmm(U.transpose(1, 2), U)
        norms = norms + (GD * GU).sum((1, 2))
        if want_sum:
            gW = torch.mm(D.transpose(0, 1).reshape(O, -1), U.transpose(0, 1).reshape(CK, -1).t())
    else:
        n, gW = _per_example_kernel_terms(a, d, L.pad, weight.shape, want_sum)
        norms = norms + n
    return norms, (gW.reshape(O, C, kh, kw) if want_sum else None), (bias_g.sum(0) if want_sum else None)


def per_example_sq_norms(model, params, x, labels=None, seed=0, want_sum=False, want_sum_sq=False):
    """n_i = ‖∇θ ℓ(x_i, y_i)‖² for x [B,C,H,W] (NCHW); labels given or sampled with `seed`.

    Returns (norms [B] tensor in x's dtype, labels list, summed gradient list or None); with `want_sum_sq`
    (and not `want_sum`) a 4th value, ‖Σ_i ∇θ ℓ_i‖² as a float64 scalar: on a dense layer from the Gram form
    Σ_ij (a_i·a_j)(δ_i·δ_j) when that is cheaper than the summed weight gradient (B·(in+out) < in·out: the probe
    is smaller than the layer), which also gives ‖a_i‖² and ‖δ_i‖² as its diagonals."""
    taps = []
    # z must be differentiable: views of the parameters that require grad (their own grads are never computed)
    ps = [p if p.requires_grad else p.detach().requires_grad_() for p in params]
    with torch.enable_grad():
        logits = model.forward(ps, x, taps)
        if labels is None:
            labels = sample_labels(logits, seed)
        y = torch.tensor(labels, dtype=torch.long, device=x.device)
        loss = F.cross_entropy(logits, y, reduction="sum")
        deltas = torch.autograd.grad(loss, [z for (_, _, z) in taps])
    norms = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    sums = [None] * len(params) if want_sum else None
    sq = torch.zeros((), dtype=torch.float64, device=x.device) if want_sum_sq and not want_sum else None
    B = x.shape[0]
    with torch.no_grad():
        for (L, a, _), d in zip(taps, deltas):
            a = a.detach()
            if L.kind == "dense":
                if sq is not None and B * (a.shape[1] + d.shape[1]) < a.shape[1] * d.shape[1]:
                    GA = a.mm(a.t())
                    GD = d.mm(d.t())
                    dd = GD.diagonal()
                    norms += GA.diagonal() * dd + dd
                    sq += (GA.double() * GD.double()).sum() + d.sum(0).double().square().sum()
                    continue
                dd = d.square().sum(1)
                norms += a.square().sum(1) * dd + dd
                if want_sum:
                    sums[L.weight] = a.t().mm(d)
                    sums[L.bias] = d.sum(0)
                elif sq is not None:
                    sq += a.t().mm(d).double().square().sum() + d.sum(0).double().square().sum()
            else:
                n, gW, gb = _conv_terms(a, d, L, params[L.weight], want_sum or sq is not None)
                norms += n
                if want_sum:
                    sums[L.weight] = gW
                    sums[L.bias] = gb
                elif sq is not None:
                    sq += gW.double().square().sum() + gb.double().square().sum()
    if want_sum_sq and not want_sum:
        return norms, labels, None, float(sq)
    return norms, labels, sums


def mean_and_stderr(v: list):
    N = len(v)
    if N == 0:
        return math.nan, math.nan
    m = 0.0
    for x in v:
        m += x
    m /= N
    ss = 0.0
    for x in v:
        ss += (x - m) ** 2
    return m, (math.sqrt(ss / (N - 1) / N) if N > 1 else math.nan)


def fisher_trace(model, params, x, seed=0, labels=None, batch_size=CHUNK, with_fb=True):
    """Tr(F) over x [N,C,H,W]: labels sampled per chunk with derive_seed(seed, chunk start), or given.

    Returns dict(trace, stderr, perExample (float32-rounded floats), labels, trFB)."""
    N = x.shape[0]
    per, labs = [], []
    total = None
    trfb = None
    one_chunk = with_fb and N <= batch_size  # ‖Σ_i g_i‖² directly (the Gram form where it is cheaper)
    for s in range(0, N, batch_size):
        xb = x[s:s + batch_size]
        lab = list(labels[s:s + batch_size]) if labels is not None else None
        if one_chunk:
            n, lab, _, sq = per_example_sq_norms(model, params, xb, lab, derive_seed(seed, s), want_sum_sq=True)
            trfb = sq / (N * N)
        else:
            n, lab, sums = per_example_sq_norms(model, params, xb, lab, derive_seed(seed, s), want_sum=with_fb)
            if with_fb:
                total = sums if total is None else [t + u for t, u in zip(total, sums)]
        per += n.to("cpu", torch.float32).tolist()
        labs += lab
    mean, se = mean_and_stderr(per)
    if total is not None:
        trfb = float(sum(((t / N).double().square().sum()) for t in total))
    return {"trace": mean, "stderr": se, "perExample": per, "labels": labs, "trFB": trfb}


def batch_fisher_trace(model, params, x, labels) -> float:
    """Tr(F_B) = ‖∇θ of the mean loss‖² (plain autograd; a reference for tests)."""
    ps = [p.detach().requires_grad_() for p in params]
    with torch.enable_grad():
        y = torch.tensor(labels, dtype=torch.long, device=x.device)
        g = torch.autograd.grad(F.cross_entropy(model.forward(ps, x), y), ps)
    return float(sum(t.double().square().sum() for t in g))


def _true_label_gradient(model, ps, x, logits, loss, g, labels, y_train, diff):
    """(mean cross-entropy with the true labels, its gradient) at an FP/GPr step, from the penalty labels'
    gradient g = ∇θ (1/B) Σ_i ℓ(x_i, ŷ_i) already at hand. Back-propagation is linear in the loss, so

        ∇θ (1/B) Σ_i ℓ(x_i, y_i) = g + ∇θ (1/B) Σ_{i: ŷ_i ≠ y_i} [ℓ(x_i, y_i) − ℓ(x_i, ŷ_i)]

    exactly: only the examples whose sampled label differs from the true one need a forward and backward
    pass. Once the model fits its data most sampled labels are the true ones (ŷ_i ~ p(y|x_i)), and this costs
    a small fraction of the full true-label backward it replaces (chosen when under ⅔ of the labels differ)."""
    B = x.shape[0]
    tl = F.cross_entropy(logits.detach(), y_train)
    base = [t.detach() for t in g]
    if diff.numel() == 0:
        return tl, base
    ys = torch.tensor(labels, dtype=torch.long, device=x.device).index_select(0, diff)
    with torch.enable_grad():
        qs = [p.detach().requires_grad_() for p in ps]
        zs = model.forward(qs, x.index_select(0, diff))
        dl = (F.cross_entropy(zs, y_train.index_select(0, diff), reduction="sum")
              - F.cross_entropy(zs, ys, reduction="sum")) / B
        extra = torch.autograd.grad(dl, qs)
    return tl, [b + e for b, e in zip(base, extra)]


def penalty_gradients(kind, model, params, x, y_true, seed, num_classes=None, labels=None, y_train=None):
    """P and ∂P/∂θ (double backprop) for kind fisher | gp | gpr | gpx, as penalty.ts.

    Returns (value, grads list, labels list); with y_train (a label tensor) also the training step's
    (mean cross-entropy, its gradient list) from the same forward pass (one forward instead of two)."""
    K = num_classes or model.num_classes
    B = x.shape[0]
    if kind in ("gp", "gpx"):
        labels = list(y_true)
    elif labels is not None:
        labels = list(labels)
    elif kind == "gpr":
        labels = uniform_labels(B, K, derive_seed(seed, 0x67707200))
    ps = [p.detach().requires_grad_() for p in params]
    train = None
    with torch.enable_grad():
        xx = x.detach().requires_grad_() if kind == "gpx" else x
        logits = model.forward(ps, xx, conv2d=conv2d_twice)
        if labels is None:
            labels = sample_labels(logits, seed)
        y = torch.tensor(labels, dtype=torch.long, device=x.device)
        loss = F.cross_entropy(logits, y)
        if kind == "gpx":
            (gx,) = torch.autograd.grad(loss, xx, create_graph=True)
            P = gx.square().sum()
        else:
            g = torch.autograd.grad(loss, ps, create_graph=True)
            P = sum(t.square().sum() for t in g)
        if y_train is not None and kind == "gp":  # same labels: the training gradient is g itself
            train = (loss.detach(), [t.detach() for t in g])
        diff = None
        if y_train is not None and train is None and kind != "gpx":
            diff = (y != y_train).nonzero().flatten()
            if diff.numel() * 3 > B * 2:  # few labels agree: the plain true-label backward is cheaper
                diff = None
        grads = torch.autograd.grad(P, ps, allow_unused=True,
                                    retain_graph=y_train is not None and train is None and diff is None)
        if diff is not None:
            train = _true_label_gradient(model, ps, x, logits, loss, g, labels, y_train, diff)
        elif y_train is not None and train is None:
            tl = F.cross_entropy(logits, y_train)
            train = (tl.detach(), list(torch.autograd.grad(tl, ps)))
    grads = [torch.zeros_like(p) if gr is None else gr.detach() for p, gr in zip(ps, grads)]
    if y_train is not None:
        return float(P.detach()), grads, labels, train
    return float(P.detach()), grads, labels
