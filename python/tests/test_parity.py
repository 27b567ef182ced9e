"""(d) Tr(F) and sampled labels equal `fisher-lens trace` on checkpoints of either engine; (e) the first 50
training steps (loss, Tr(F), Tr(F_B), evaluation, penalty) equal the TS engine's events for the same config."""
import copy
import json

import pytest
import torch

from conftest import MNIST_DIR, run_node, run_py_engine, run_ts_train
from fisher_lens_engine.checkpoint import load_model, load_params
from fisher_lens_engine.data import load_dataset
from fisher_lens_engine.fisher import fisher_trace
from fisher_lens_engine.models import nhwc_to_nchw
from fisher_lens_engine.rng import Rng

BASE = {"dataset": {"name": "mnist", "trainSize": 640, "testSize": 200},
        "model": {"arch": "mlp", "width": 0.25, "activation": "relu"},
        "optimizer": {"lr": 0.05, "momentum": 0.9, "weightDecay": 0, "batchSize": 32},
        "schedule": {"steps": 50, "lrSchedule": "constant", "milestones": [0.5, 0.75], "gamma": 0.1},
        "labelNoise": {"fraction": 0.2, "seed": 1, "forceChange": False, "trackSize": 100},
        "fisher": {"every": 10, "probeSize": 64, "lossThreshold": 1, "warmupSteps": 20},
        "penalty": {"kind": "none", "alpha": 0.01, "every": 10, "startEpoch": 0},
        "seed": 3, "evalEvery": 25, "checkpoint": True, "backend": "wasm"}


def cfg_cnn():
    c = copy.deepcopy(BASE)
    c["model"] = {"arch": "simplecnn", "width": 0.25, "activation": "relu"}
    c["optimizer"].update(lr=0.02, weightDecay=0.0005, batchSize=16)
    c["schedule"]["lrSchedule"] = "cosine"
    c["labelNoise"]["fraction"] = 0
    c["penalty"] = {"kind": "fisher", "alpha": 0.05, "every": 10, "startEpoch": 0}
    c["seed"] = 5
    return c


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-30)


@pytest.fixture(scope="module", params=["mlp", "simplecnn"])
def pair(request, need_node, work):
    cfg = BASE if request.param == "mlp" else cfg_cnn()
    name = f"parity-{request.param}"
    ts, run_dir = run_ts_train(cfg, work, name)
    ck = work / f"{name}-py-ckpt"
    py, rc, err = run_py_engine(cfg, work, name, ["--checkpoint-dir", str(ck)])
    assert rc == 0, err
    return cfg, ts, py, run_dir / "checkpoint", ck


def of(events, kind):
    return [e for e in events if e["type"] == kind]


def test_header_facts(pair):
    cfg, ts, py, _, _ = pair
    h, e = of(ts, "header")[0], py[0]
    assert e["type"] == "engine" and e["engine"] == "torch" and e["device"] == "cpu"
    assert e["probe"] == h["probe"]  # probe indices
    assert e["dataset"] == h["dataset"]  # sizes, shape, classes, noisy count (same noisy labels)
    assert e["model"] == h["model"] and e["stepsPerEpoch"] == h["stepsPerEpoch"] and e["totalSteps"] == h["totalSteps"]


def test_fifty_steps(pair):
    cfg, ts, py, _, _ = pair
    a, b = of(py, "step"), of(ts, "step")
    assert [e["step"] for e in a] == list(range(1, 51)) == [e["step"] for e in b]
    worst = max(rel(x["loss"], y["loss"]) for x, y in zip(a, b))
    assert worst <= 1e-4, worst
    assert all(rel(x["lr"], y["lr"]) <= 1e-15 for x, y in zip(a, b))  # Math.cos vs libm cos: an ulp
    assert max(rel(x["gradNorm"], y["gradNorm"]) for x, y in zip(a, b)) <= 1e-4
    if cfg["penalty"]["kind"] != "none":
        assert max(rel(x["penalty"], y["penalty"]) for x, y in zip(a, b)) <= 1e-4
    fa, fb = of(py, "fisher"), of(ts, "fisher")
    assert [e["step"] for e in fa] == [e["step"] for e in fb] == [0, 10, 20, 30, 40, 50]
    for x, y in zip(fa, fb):
        assert x["labelSeed"] == y["labelSeed"] and x["probeSize"] == y["probeSize"]
        for k in ("trF", "trFB", "trFStderr"):
            assert rel(x[k], y[k]) <= 1e-4, (k, x, y)
    ea, eb = of(py, "eval"), of(ts, "eval")
    assert [e["step"] for e in ea] == [e["step"] for e in eb]
    for x, y in zip(ea, eb):
        for k in ("testLoss", "trainLoss", "cleanLoss", "noisyLoss"):
            if y[k] is None:
                assert x[k] is None
            else:
                assert rel(x[k], y[k]) <= 1e-4, (k, x[k], y[k])
    assert of(py, "end")[0]["state"] == "completed"


def test_final_checkpoints_agree(pair):
    _, _, _, ts_ck, py_ck = pair
    ma, va = load_params(str(py_ck))
    mb, vb = load_params(str(ts_ck))
    assert ma == mb
    for a, b in zip(va, vb):
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-5)


def trace_py(ckpt, count, seed):
    model = load_model(str(ckpt))
    ds = load_dataset({"name": "mnist"}, seed=seed, mnist_dir=MNIST_DIR)
    idx = Rng(seed, "trace-examples").sample(count, ds.train.n)
    x = nhwc_to_nchw(ds.train.x[torch.tensor(idx)])
    f = fisher_trace(model, model.params, x, seed=seed, with_fb=False)
    return idx, f


@pytest.mark.parametrize("which", ["ts", "py"])
def test_trace_matches_cli(pair, which):
    """The TS `trace` CLI and our fisher_trace on the same checkpoint — one written by each engine."""
    _, _, _, ts_ck, py_ck = pair
    ck = ts_ck if which == "ts" else py_ck
    out = json.loads(run_node(["bin/fisher-lens.js", "trace", "--checkpoint", str(ck), "--data", "mnist", "--count", "64",
                               "--labels", "sampled", "--seed", "0", "--json", "--backend", "wasm"]))
    idx, f = trace_py(ck, 64, 0)
    assert idx == out["indices"]
    assert f["labels"] == out["perExampleLabels"]
    worst = max(rel(a, b) for a, b in zip(f["perExample"], out["perExample"]))
    assert worst <= 1e-4, worst
    assert rel(f["trace"], out["mean"]) <= 1e-4 and rel(f["stderr"], out["stderr"]) <= 1e-4
