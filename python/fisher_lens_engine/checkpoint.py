"""params.json + params.bin (README "Checkpoint format"), identical to src/core/checkpoint.ts."""
from __future__ import annotations

import ctypes
import json
import os
import sys

import torch

from .models import Model

LAYOUT = "NHWC inputs; dense kernel [in,out]; conv kernel [kh,kw,in,out]; bias [out]"


def checkpoint_spec(model: Model) -> dict:
    s = model.spec
    spec = {"arch": s["arch"], "width": s["width"], "activation": s["activation"]}
    if s["arch"] == "mlp":
        spec["hidden"] = list(s["hidden"])
    spec["layerWidths"] = list(model.layer_widths)
    return spec


def save_params(model: Model, d: str) -> None:
    os.makedirs(d, exist_ok=True)
    vals = model.to_checkpoint()
    tensors, off = [], 0
    for name, shape, v in zip(model.param_names, model.param_shapes, vals):
        tensors.append({"name": name, "shape": list(shape), "offset": off, "length": v.numel()})
        off += v.numel()
    flat = torch.cat([v.reshape(-1) for v in vals]) if vals else torch.zeros(0)
    data = _f32_bytes(flat)
    if sys.byteorder != "little":
        raise RuntimeError("big-endian hosts are not supported")
    meta = {"format": "fisher-lens-params", "version": 1, "spec": checkpoint_spec(model),
            "inputShape": list(model.input_shape), "numClasses": model.num_classes, "dtype": "float32",
            "byteOrder": "little-endian", "layout": LAYOUT, "tensors": tensors}
    b, j = os.path.join(d, "params.bin"), os.path.join(d, "params.json")
    with open(b + ".tmp", "wb") as f:
        f.write(data)
    with open(j + ".tmp", "w") as f:
        f.write(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    os.replace(b + ".tmp", b)
    os.replace(j + ".tmp", j)


def _f32_bytes(t: torch.Tensor) -> bytes:
    """The raw little-endian float32 bytes of a CPU tensor (no numpy needed)."""
    t = t.detach().to("cpu", torch.float32).contiguous()
    return ctypes.string_at(t.data_ptr(), t.numel() * 4) if t.numel() else b""


def load_params(d: str):
    with open(os.path.join(d, "params.json"), encoding="utf-8") as f:
        meta = json.load(f)
    if meta.get("format") != "fisher-lens-params" or meta.get("version") != 1 or meta.get("dtype") != "float32":
        raise ValueError(f"{d}: not a fisher-lens params v1 float32 checkpoint")
    with open(os.path.join(d, "params.bin"), "rb") as f:
        buf = f.read()
    total = sum(t["length"] for t in meta["tensors"])
    if len(buf) != total * 4:
        raise ValueError(f"{d}/params.bin: {len(buf)} bytes, expected {total * 4}")
    allv = torch.frombuffer(bytearray(buf), dtype=torch.float32)
    values = []
    for t in meta["tensors"]:
        n = 1
        for s in t["shape"]:
            n *= s
        if n != t["length"]:
            raise ValueError(f"{t['name']}: shape/length mismatch")
        values.append(allv[t["offset"]:t["offset"] + t["length"]].clone())
    return meta, values


def load_model(d: str) -> Model:
    meta, values = load_params(d)
    spec = dict(meta["spec"])
    if spec.get("arch") != "mlp":
        spec.pop("hidden", None)
    spec.pop("layerWidths", None)
    m = Model(spec, list(meta["inputShape"]), meta["numClasses"], 0, values)
    lw = meta["spec"].get("layerWidths")
    if lw is not None and list(lw) != m.layer_widths:
        raise ValueError(f"{d}: layerWidths {lw} do not match the model built from the spec {m.layer_widths}")
    return m
