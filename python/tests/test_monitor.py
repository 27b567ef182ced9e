"""The user-model API (Monitor, module_fisher): per-example norms of arbitrary nn.Modules against a per-example
autograd loop in float64 (real MNIST and random inputs), Tr(F) equal to the built-in engine's on the same model,
parameters and probe, clear errors for what it cannot handle, and the event channel."""
import json
import os
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from fisher_lens_engine import fisher as FI
from fisher_lens_engine.data import load_dataset
from fisher_lens_engine.models import Model, nhwc_to_nchw
from fisher_lens_engine.module_fisher import UnsupportedModelError, check_model, module_per_example_sq_norms
from fisher_lens_engine.monitor import Monitor
from fisher_lens_engine.rng import derive_seed

PY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    ds = load_dataset({"name": "mnist", "trainSize": 1000, "testSize": 10}, seed=3, mnist_dir=mnist_dir)
    return nhwc_to_nchw(ds.train.x[:160]), ds.train.y[:160].tolist()


def naive(model, x, labels):
    """‖∇θ ℓ(x_i, y_i)‖² one example at a time (plain autograd), over the trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    out = []
    for i in range(x.shape[0]):
        loss = F.cross_entropy(model(x[i:i + 1]), torch.tensor(labels[i:i + 1]))
        g = torch.autograd.grad(loss, params)
        out.append(sum(t.square().sum() for t in g).item())
    return torch.tensor(out, dtype=torch.float64)


class Seq1d(nn.Module):
    """Conv1d over rows, then a Linear on [B, T, F] (sequence-shaped input), LayerNorm, pooled head."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(28, 16, 5, stride=2, padding=2)
        self.proj = nn.Linear(16, 12)
        self.norm = nn.LayerNorm(12)
        self.head = nn.Linear(12, 10)

    def forward(self, x):
        h = self.conv(x.reshape(x.shape[0], 28, 28)).relu()  # [B, 16, 14]
        h = self.norm(self.proj(h.transpose(1, 2)))  # [B, 14, 12]
        return self.head(torch.tanh(h).mean(1))


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, stride=2, padding=1), nn.BatchNorm2d(6), nn.ReLU(inplace=True),
        nn.Conv2d(6, 8, 3, dilation=2, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 2, padding="same"), nn.Conv2d(8, 8, 2, padding="valid", bias=False), nn.Flatten(), nn.Linear(8 * 6 * 6, 16), nn.Dropout(0.5),
        nn.ReLU(), nn.Linear(16, 10))


MODELS = {
    "mlp": lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10)),
    "cnn-bn-eval": small_cnn,
    "seq1d-layernorm": Seq1d,
}


def prepare(name, seed):
    torch.manual_seed(seed)
    m = MODELS[name]().double()
    if name == "cnn-bn-eval":  # running statistics that are not the init's (0, 1)
        with torch.no_grad():
            m[1].running_mean.uniform_(-0.5, 0.5)
            m[1].running_var.uniform_(0.5, 2.0)
            m[1].weight.uniform_(0.5, 1.5)
    m.eval()
    return m


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("data", ["mnist", "random"])
def test_module_norms_equal_a_per_example_loop(mnist, name, data):
    x = mnist[0][:24].double() if data == "mnist" else torch.randn(24, 1, 28, 28, dtype=torch.float64)
    labels = mnist[1][:24]
    m = prepare(name, 5)
    if data == "mnist":
        assert (x == 0).float().mean() > 0.5  # real images: zero backgrounds (ties in max-pool windows)
    layers = check_model(m)
    norms, labs = module_per_example_sq_norms(m, layers, x, labels=labels)
    ref = naive(m, x, labels)
    assert labs == labels
    assert torch.allclose(norms, ref, rtol=1e-9, atol=0), (norms, ref)


def test_frozen_parameters_are_left_out(mnist):
    m = prepare("mlp", 1)
    m[1].weight.requires_grad_(False)
    x, y = mnist[0][:8].double(), mnist[1][:8]
    norms, _ = module_per_example_sq_norms(m, check_model(m), x, labels=y)
    assert torch.allclose(norms, naive(m, x, y), rtol=1e-9)


def as_module(model: Model) -> nn.Module:
    """The engine's functional model as a plain nn.Module with the same parameters (Linear holds Wᵀ)."""
    layers = []
    for op in model.plan:
        if op[0] == "conv":
            L = model.layers[op[1]]
            w = model.params[L.weight]
            c = nn.Conv2d(w.shape[1], w.shape[0], w.shape[2], padding=L.pad)
            c.weight.data, c.bias.data = w.clone(), model.params[L.bias].clone()
            layers.append(c)
        elif op[0] == "dense":
            L = model.layers[op[1]]
            w = model.params[L.weight]
            d = nn.Linear(w.shape[0], w.shape[1])
            d.weight.data, d.bias.data = w.t().clone(), model.params[L.bias].clone()
            layers.append(d)
        elif op[0] == "maxpool":
            layers.append(nn.MaxPool2d(2))
        elif op[0] == "flatten":
            class NHWCFlatten(nn.Module):
                def forward(self, h):
                    return h.permute(0, 2, 3, 1).reshape(h.shape[0], -1) if h.dim() == 4 else h.reshape(h.shape[0], -1)
            layers.append(NHWCFlatten())
        else:
            raise AssertionError(op)
        if op[0] in ("conv", "dense") and op[2]:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@pytest.mark.parametrize("spec", [{"arch": "mlp", "width": 0.25}, {"arch": "simplecnn", "width": 0.25}],
                         ids=["mlp", "simplecnn"])
def test_trace_equals_the_built_in_engine(mnist, spec):
    """Same model, parameters, probe and label seed: the Monitor's Tr(F) is the engine's (float32, ≤ 1e-4)."""
    eng = Model(spec, [28, 28, 1], 10, seed=7)
    mod = as_module(eng)
    x = mnist[0][:150]  # two chunks (128 + 22)
    ref = FI.fisher_trace(eng, eng.params, x, seed=1234)
    mon = Monitor(mod, probe=x, every=10)
    got = mon.trace(seed=1234)
    assert got["labels"] == ref["labels"]
    assert abs(got["trF"] - ref["trace"]) <= 1e-4 * abs(ref["trace"])
    assert abs(got["trFB"] - ref["trFB"]) <= 1e-4 * abs(ref["trFB"])
    assert abs(got["stderr"] - ref["stderr"]) <= 1e-3 * abs(ref["stderr"])
    rel = max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(got["perExample"], ref["perExample"]))
    assert rel < 1e-4


def test_penalty_is_tr_fb_with_sampled_labels_and_differentiable(mnist):
    m = prepare("mlp", 2).float()
    x = mnist[0][:32]
    mon = Monitor(m, probe=x, every=5)
    P = mon.penalty(x)
    assert P.requires_grad
    # Tr(F_B) with the labels the penalty sampled equals ‖mean gradient‖² by plain autograd
    logits = m(x)
    labels = FI.sample_labels(logits, derive_seed(0, "penalty", 0))
    g = torch.autograd.grad(F.cross_entropy(m(x), torch.tensor(labels)), list(m.parameters()))
    assert abs(float(P) - float(sum(t.square().sum() for t in g))) <= 1e-5 * float(P)
    (gp,) = torch.autograd.grad(P, [m[1].weight])
    assert torch.isfinite(gp).all() and gp.abs().sum() > 0


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(784, 784)
        self.b = nn.Linear(784, 10)

    def forward(self, x):
        h = x.reshape(x.shape[0], -1)
        return self.b(self.a(self.a(h).relu()))


def test_clear_errors_naming_the_layer():
    x = torch.randn(4, 1, 28, 28)
    emb = nn.Sequential(nn.Flatten(), nn.Linear(784, 8), nn.GRUCell(8, 8), nn.Linear(8, 10))
    with pytest.raises(UnsupportedModelError, match=r"'2' \(GRUCell\).*not supported"):
        Monitor(emb, probe=x)
    with pytest.raises(UnsupportedModelError, match=r"'1' \(BatchNorm2d\): BatchNorm in training mode"):
        Monitor(small_cnn(), probe=x, measure_in="train")
    nostats = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, track_running_stats=False), nn.Flatten(),
                            nn.Linear(2 * 26 * 26, 10))
    with pytest.raises(UnsupportedModelError, match=r"'1' \(BatchNorm2d\).*running statistics"):
        Monitor(nostats, probe=x)
    with pytest.raises(UnsupportedModelError, match=r"'a' \(Linear\) is called more than once"):
        Monitor(Shared(), probe=x)
    with pytest.raises(ValueError, match="probe"):
        Monitor(MODELS["mlp"](), probe=[1, 2, 3])
    with pytest.raises(ValueError, match="every"):
        Monitor(MODELS["mlp"](), probe=x, every=0)
    # frozen unsupported layers are fine
    emb[2].requires_grad_(False)
    Monitor(emb, probe=x)


def test_measuring_restores_the_training_mode():
    m = small_cnn()
    m.train()
    x = torch.randn(6, 1, 28, 28)
    rm = m[1].running_mean.clone()
    Monitor(m, probe=x).trace()
    assert m.training and m[1].training
    assert torch.equal(m[1].running_mean, rm), "measuring does not update BatchNorm statistics"


SCRIPT = r"""
import sys, torch, torch.nn as nn, torch.nn.functional as F
sys.path.insert(0, {py!r})
from fisher_lens_engine import Monitor
torch.manual_seed(0)
m = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 4))
x = torch.randn(40, 1, 8, 8); y = torch.randint(0, 4, (40,))
opt = torch.optim.SGD(m.parameters(), lr=0.1)
mon = Monitor(m, probe=x[:20], every=3, total_steps=10)
for s in range(10):
    loss = F.cross_entropy(m(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
    mon.step(loss, lr=0.1, batch_size=40)
    if mon.should_stop():
        break
mon.eval(test_acc=0.5, test_loss=1.0)
mon.close()
print("steps", mon.steps)
"""


def test_events_file_and_stop_through_the_control_channel(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.format(py=PY))
    events = tmp_path / "events.jsonl"
    r = subprocess.run([sys.executable, str(script)], env={**os.environ, "FISHER_LENS_EVENTS_FILE": str(events)},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(l) for l in events.read_text().splitlines()]
    types = [e["type"] for e in lines]
    assert types[0] == "hello" and types[-1] == "end"
    assert [e["step"] for e in lines if e["type"] == "step"] == list(range(1, 11))
    assert [e["step"] for e in lines if e["type"] == "fisher"] == [0, 3, 6, 9, 10]
    assert lines[0]["model"]["paramCount"] == 64 * 16 + 16 + 16 * 4 + 4
    assert all(e["trF"] > 0 for e in lines if e["type"] == "fisher")
    assert lines[-1]["state"] == "completed"

    # the launcher's channel: events on one pipe, a stop request on the other ends the loop at the next check
    ev_r, ev_w = os.pipe()
    ctl_r, ctl_w = os.pipe()
    os.write(ctl_w, b'{"cmd":"stop","reason":"STOP file"}\n')
    p = subprocess.Popen([sys.executable, str(script)], pass_fds=(ev_w, ctl_r), stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "FISHER_LENS_EVENTS_FD": str(ev_w), "FISHER_LENS_CONTROL_FD": str(ctl_r)})
    os.close(ev_w)
    os.close(ctl_r)
    with os.fdopen(ev_r) as f:
        got = [json.loads(l) for l in f]
    out, _ = p.communicate(timeout=120)
    os.close(ctl_w)
    assert p.returncode == 0
    assert "steps 1" in out
    assert got[-1] == {**got[-1], "type": "end", "state": "stopped", "message": "STOP file"}


def test_events_dir_gets_one_new_file_per_monitor(tmp_path, monkeypatch):
    for k in ("FISHER_LENS_EVENTS_FD", "FISHER_LENS_CONTROL_FD", "FISHER_LENS_EVENTS_FILE"):
        monkeypatch.delenv(k, raising=False)
    out = tmp_path / "events"
    monkeypatch.setenv("FISHER_LENS_EVENTS_DIR", str(out))
    m = MODELS["mlp"]()
    a = Monitor(m, probe=torch.randn(5, 1, 28, 28), every=2, name="my run/1")
    b = Monitor(m, probe=torch.randn(5, 1, 28, 28), every=2)
    c = Monitor(m, probe=torch.randn(5, 1, 28, 28), every=2)  # same name, same second: its own file
    for mon in (a, b, c):
        mon.step(torch.tensor(1.0))
        mon.step(torch.tensor(0.5))
        mon.close()
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 3 and any(f.startswith("my-run-1-") for f in files), files
    for f in out.iterdir():
        types = [json.loads(l)["type"] for l in f.read_text().splitlines()]
        assert types == ["hello", "fisher", "step", "step", "fisher", "end"], types


def test_without_fisher_lens_nothing_is_written(tmp_path, monkeypatch):
    for k in ("FISHER_LENS_EVENTS_FD", "FISHER_LENS_CONTROL_FD", "FISHER_LENS_EVENTS_FILE", "FISHER_LENS_EVENTS_DIR"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.chdir(tmp_path)
    m = MODELS["mlp"]()
    mon = Monitor(m, probe=torch.randn(5, 1, 28, 28), every=1)
    r = mon.step(torch.tensor(1.0))
    assert r is not None and r["trF"] > 0 and mon.last is r
    assert not mon.should_stop()
    mon.close()
    assert list(tmp_path.iterdir()) == []
