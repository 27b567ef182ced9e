"""The four architectures of src/core/models.ts, as functions of an explicit parameter list.

Parameter order, names, shapes (checkpoint layout: dense [in, out], conv [kh, kw, in, out]) and the
seeded initialisation are those of the TS engine. Inside the engine conv kernels are held as PyTorch
OIHW tensors and activations as NCHW; `to_checkpoint` / `from_checkpoint` convert. The flatten before a
dense layer permutes NCHW → NHWC first, so dense kernels keep the TS row order.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .rng import Rng, derive_seed
from .data import js_round

RESIDUAL_INIT_SCALE = 0.2
ARCHS = ("mlp", "simplecnn", "vgg11", "resnet")


def normalize_spec(spec: dict) -> dict:
    width = spec.get("width", 1)
    if width is None:
        width = 1
    if not (width > 0) or not math.isfinite(width):
        raise ValueError(f"model width must be > 0, got {width}")
    arch = spec.get("arch")
    if arch not in ARCHS:
        raise ValueError(f"unknown arch '{arch}'")
    act = spec.get("activation") or "relu"
    if act not in ("relu", "tanh"):
        raise ValueError(f"unknown activation '{act}'")
    hidden = spec.get("hidden")
    if hidden is None:
        hidden = [512, 512]
    if not all(isinstance(h, int) and h > 0 for h in hidden):
        raise ValueError("mlp hidden sizes must be positive integers")
    return {"arch": arch, "width": width, "hidden": list(hidden), "activation": act}


class Layer:
    __slots__ = ("name", "kind", "weight", "bias", "pad")

    def __init__(self, name, kind, weight, bias, pad=0):
        self.name, self.kind, self.weight, self.bias, self.pad = name, kind, weight, bias, pad


class _Builder:
    def __init__(self, seed, activation, init: bool):
        self.seed, self.activation, self.init = seed, activation, init
        self.values, self.shapes, self.names, self.layers = [], [], [], []

    def _param(self, name, shape, std):
        n = 1
        for s in shape:
            n *= s
        idx = len(self.values)
        if not self.init:
            self.values.append(None)
        elif std == 0:
            self.values.append(torch.zeros(n, dtype=torch.float32))
        else:
            vals = Rng(derive_seed(self.seed, idx)).normal_list(n, std)
            self.values.append(torch.tensor(vals, dtype=torch.float64).to(torch.float32))
        self.shapes.append(list(shape))
        self.names.append(name)
        return idx

    def _std(self, fan_in, scale):
        return scale * math.sqrt((1 if self.activation == "tanh" else 2) / fan_in)

    def dense(self, name, n_in, n_out, scale=1.0):
        w = self._param(f"{name}/kernel", [n_in, n_out], self._std(n_in, scale))
        b = self._param(f"{name}/bias", [n_out], 0)
        self.layers.append(Layer(name, "dense", w, b))
        return len(self.layers) - 1

    def conv(self, name, k, c_in, c_out, scale=1.0, pad=0):
        w = self._param(f"{name}/kernel", [k, k, c_in, c_out], self._std(k * k * c_in, scale))
        b = self._param(f"{name}/bias", [c_out], 0)
        self.layers.append(Layer(name, "conv", w, b, pad))
        return len(self.layers) - 1


class Model:
    """A model: `params` (engine layout), `forward(params, x_nchw, taps)` → logits.

    `taps`, when a list, receives one (layer, a, z) per parametrised layer in forward order: a = the layer
    input (unpadded, NCHW for convs), z = its pre-activation.
    """

    def __init__(self, spec, input_shape, num_classes, seed=0, values=None):
        spec = normalize_spec(spec)
        H, W, C = input_shape
        if not all(isinstance(d, int) and d > 0 for d in (H, W, C)):
            raise ValueError(f"bad input shape {input_shape}")
        if not (isinstance(num_classes, int) and num_classes >= 2):
            raise ValueError(f"numClasses must be ≥ 2, got {num_classes}")
        self.spec, self.input_shape, self.num_classes = spec, [H, W, C], num_classes

        def ch(c):
            return max(1, js_round(c * spec["width"]))

        b = _Builder(seed, spec["activation"], values is None)
        arch = spec["arch"]
        plan = []  # interpreted by forward
        if arch == "mlp":
            sizes = [H * W * C] + [ch(h) for h in spec["hidden"]]
            plan.append(("flatten",))
            for i in range(1, len(sizes)):
                plan.append(("dense", b.dense(f"dense{i}", sizes[i - 1], sizes[i]), True))
            plan.append(("dense", b.dense("out", sizes[-1], num_classes), False))
        elif arch == "simplecnn":
            c1, c2, f = ch(32), ch(64), ch(128)
            hs = (((H - 2) >> 1) - 2) >> 1
            ws = (((W - 2) >> 1) - 2) >> 1
            if hs < 1 or ws < 1:
                raise ValueError(f"simplecnn needs inputs of at least 12×12, got {H}×{W}")
            plan += [("conv", b.conv("conv1", 3, C, c1, pad=1), True),
                     ("conv", b.conv("conv2", 3, c1, c1, pad=0), True), ("maxpool",),
                     ("conv", b.conv("conv3", 3, c1, c2, pad=1), True),
                     ("conv", b.conv("conv4", 3, c2, c2, pad=0), True), ("maxpool",), ("flatten",),
                     ("dense", b.dense("fc1", hs * ws * c2, f), True),
                     ("dense", b.dense("fc2", f, num_classes), False)]
        elif arch == "vgg11":
            cfg = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
            h, w, c, k = H, W, C, 0
            for item in cfg:
                if item == "M":
                    if h >= 2 and w >= 2:
                        plan.append(("maxpool",))
                        h >>= 1
                        w >>= 1
                else:
                    co = ch(item)
                    k += 1
                    plan.append(("conv", b.conv(f"conv{k}", 3, c, co, pad=1), True))
                    c = co
            plan.append(("flatten",))
            plan.append(("dense", b.dense("fc", h * w * c, num_classes), False))
        elif arch == "resnet":
            widths = [ch(16), ch(32), ch(64)]
            plan.append(("conv", b.conv("stem", 3, C, widths[0], pad=1), True))
            c, h, w = widths[0], H, W
            for s, co in enumerate(widths):
                down = s > 0 and h >= 2 and w >= 2
                if down:
                    h, w = h >> 1, w >> 1
                name = f"stage{s + 1}.block1"
                l1 = b.conv(f"{name}.conv1", 3, c, co, pad=1)
                l2 = b.conv(f"{name}.conv2", 3, co, co, RESIDUAL_INIT_SCALE, pad=1)
                lp = b.conv(f"{name}.proj", 1, c, co, pad=0) if co != c else -1
                c = co
                plan.append(("block", down, l1, l2, lp))
            plan.append(("gap",))
            plan.append(("dense", b.dense("fc", c, num_classes), False))
        self.plan = plan
        self.layers = b.layers
        self.param_names = b.names
        self.param_shapes = b.shapes  # checkpoint layout
        self.layer_widths = [b.shapes[L.weight][-1] for L in self.layers]
        self.param_count = sum(math.prod(s) for s in b.shapes)
        init = values if values is not None else b.values
        if len(init) != len(b.shapes):
            raise ValueError(f"expected {len(b.shapes)} parameter tensors, got {len(init)}")
        self._conv_weights = {L.weight for L in self.layers if L.kind == "conv"}
        self.params = []
        for i, v in enumerate(init):
            v = torch.as_tensor(v, dtype=torch.float32).reshape(-1)
            if v.numel() != math.prod(b.shapes[i]):
                raise ValueError(f"parameter {b.names[i]}: expected {math.prod(b.shapes[i])} values, got {v.numel()}")
            self.params.append(self._from_ckpt(i, v))
        self.act = torch.tanh if spec["activation"] == "tanh" else torch.relu

    # ---- layout conversion -------------------------------------------------------------------
    def _from_ckpt(self, i, flat):
        t = flat.reshape(self.param_shapes[i])
        if i in self._conv_weights:
            t = t.permute(3, 2, 0, 1)  # HWIO → OIHW
        return t.contiguous()

    def to_checkpoint(self, params=None):
        """Parameters as float32 CPU tensors in the checkpoint layout."""
        out = []
        for i, p in enumerate(params if params is not None else self.params):
            t = p.detach().to("cpu", torch.float32)
            if i in self._conv_weights:
                t = t.permute(2, 3, 1, 0)  # OIHW → HWIO
            out.append(t.contiguous())
        return out

    def to(self, device=None, dtype=None):
        self.params = [p.to(device=device, dtype=dtype) for p in self.params]
        return self

    # ---- forward -----------------------------------------------------------------------------
    def forward(self, p, x, taps=None, conv2d=None):
        """Logits of x [B, C, H, W] (NCHW) with parameters p (engine layout).

        conv2d: replaces F.conv2d(a, w, b, padding) (fisher.conv2d_twice for double backprop)."""
        self._conv2d = conv2d or _plain_conv2d
        act = self.act
        h = x
        for op in self.plan:
            kind = op[0]
            if kind == "conv":
                h = self._conv(p, op[1], h, taps)
                if op[2]:
                    h = act(h)
            elif kind == "dense":
                h = self._dense(p, op[1], h, taps)
                if op[2]:
                    h = act(h)
            elif kind == "maxpool":
                h = F.max_pool2d(h, 2)
            elif kind == "flatten":
                h = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1) if h.dim() == 4 else h
            elif kind == "block":
                _, down, l1, l2, lp = op
                if down:
                    h = F.avg_pool2d(h, 2)
                r = self._conv(p, l2, act(self._conv(p, l1, h, taps)), taps)
                s = self._conv(p, lp, h, taps) if lp >= 0 else h
                h = act(r + s)
            elif kind == "gap":
                h = h.mean(dim=(2, 3))
        return h

    def _dense(self, p, li, a, taps):
        L = self.layers[li]
        z = torch.addmm(p[L.bias], a, p[L.weight])
        if taps is not None:
            taps.append((L, a, z))
        return z

    def _conv(self, p, li, a, taps):
        L = self.layers[li]
        z = self._conv2d(a, p[L.weight], p[L.bias], L.pad)
        if taps is not None:
            taps.append((L, a, z))
        return z

    __call__ = forward


def _plain_conv2d(a, w, b, pad):
    return F.conv2d(a, w, b, padding=pad)


def nhwc_to_nchw(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 1, 2).contiguous()
