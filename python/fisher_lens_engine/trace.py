"""`python3 -m fisher_lens_engine trace`: `fisher-lens trace` on PyTorch (the TS CLI checks the arguments and
calls this with the parsed dataset; the output is one JSON object on stdout)."""
from __future__ import annotations

import argparse
import json
import math
import sys

import torch

from .checkpoint import load_model
from .data import load_dataset
from .engine import device_name, pick_device
from .fisher import fisher_trace
from .models import nhwc_to_nchw
from .rng import Rng


def trace(ckpt: str, dataset: dict, split: str, count: int, labels: str, seed: int, device: str = "cpu",
          mnist_dir=None, fashion_dir=None, base_dir=None) -> dict:
    dev = pick_device(device)
    model = load_model(ckpt).to(dev)
    ds = load_dataset(dataset, seed=seed, base_dir=base_dir, mnist_dir=mnist_dir, fashion_dir=fashion_dir)
    part = ds.train if split == "train" else ds.test
    n = part.n if hasattr(part, "n") else part.y.shape[0]
    if count > n:
        raise ValueError(f"--count: got {count}; the {split} split has {n} examples")
    idx = Rng(seed, "trace-examples").sample(count, n)
    it = torch.tensor(idx, dtype=torch.long)
    x = nhwc_to_nchw(part.x[it]).to(dev)
    given = [int(v) for v in part.y[it].tolist()]
    f = fisher_trace(model, model.params, x, seed=seed, labels=given if labels == "given" else None, with_fb=False)
    fin = lambda v: v if v is not None and math.isfinite(v) else None  # noqa: E731 (JSON has no NaN)
    return {"indices": list(idx), "perExample": [fin(v) for v in f["perExample"]], "perExampleLabels": [int(v) for v in f["labels"]],
            "givenLabels": given, "mean": fin(f["trace"]), "stderr": fin(f["stderr"]), "device": str(dev),
            "deviceName": device_name(dev), "torch": torch.__version__}


def main(argv) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m fisher_lens_engine trace")
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--dataset", required=True, help='dataset object as JSON, e.g. {"name":"mnist"}')
    ap.add_argument("--split", choices=["train", "test"], default="train")
    ap.add_argument("--count", type=int, default=128)
    ap.add_argument("--labels", choices=["given", "sampled"], default="sampled")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--mnist-dir", default=None)
    ap.add_argument("--fashion-mnist-dir", default=None)
    args = ap.parse_args(argv)
    try:
        r = trace(args.checkpoint, json.loads(args.dataset), args.split, args.count, args.labels, args.seed,
                  args.device, args.mnist_dir, args.fashion_mnist_dir)
    except Exception as e:  # noqa: BLE001
        print(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps(r, allow_nan=False) + "\n")
    return 0
