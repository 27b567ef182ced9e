"""(f) Penalty gradients (double backprop) against central finite differences in float64, and against the TS
engine's penaltyGradients on the same checkpoint and batch."""
import json

import pytest
import torch
import torch.nn.functional as F

from conftest import run_ts_ref
from fisher_lens_engine.checkpoint import load_model
from fisher_lens_engine.data import load_dataset
from fisher_lens_engine.fisher import penalty_gradients
from fisher_lens_engine.models import Model, nhwc_to_nchw


@pytest.fixture(scope="module")
def batch(mnist_dir):
    ds = load_dataset({"name": "mnist", "trainSize": 500, "testSize": 10}, seed=2, mnist_dir=mnist_dir)
    return ds.train.x[:8], ds.train.y[:8].tolist()


@pytest.mark.parametrize("kind", ["fisher", "gp", "gpr", "gpx"])
@pytest.mark.parametrize("arch", ["mlp", "simplecnn"])
def test_finite_differences(batch, kind, arch):
    xn, y = batch
    x = nhwc_to_nchw(xn).double()
    if arch == "simplecnn":
        # Max-pooling is not differentiable where a window's maximum changes hands; MNIST's flat backgrounds
        # sit at near-ties that a finite step crosses, so finite differences use continuous random inputs
        # here (the tie behaviour itself is tested against autograd and the TS engine elsewhere).
        x = torch.rand(x.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    spec = {"arch": arch, "width": 0.125, "activation": "tanh"}
    if arch == "mlp":
        spec["hidden"] = [64]
    m = Model(spec, [28, 28, 1], 10, 4).to(dtype=torch.float64)
    value, grads, labels = penalty_gradients(kind, m, m.params, x, y, seed=123)
    assert len(labels) == 8
    gen = torch.Generator().manual_seed(1)
    v = [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in m.params]
    norm = sum(t.square().sum() for t in v).sqrt()
    v = [t / norm for t in v]  # a unit direction: small steps cross no max-pool switch
    eps = 1e-5

    def P(sign):
        ps = [p + sign * eps * d for p, d in zip(m.params, v)]
        return penalty_gradients(kind, m, ps, x, y, seed=123, labels=labels if kind in ("fisher", "gpr") else None)[0]
    fd = (P(1) - P(-1)) / (2 * eps)
    an = sum((g * d).sum() for g, d in zip(grads, v)).item()
    assert abs(fd - an) <= 1e-6 * max(abs(an), 1e-8), (kind, fd, an)


def test_penalty_gradients_match_ts(ts_init, batch, work):
    d, _ = ts_init
    xn, y = batch
    inp = work / "pen_in.json"
    inp.write_text(json.dumps({"x": xn.reshape(-1).tolist(), "shape": list(xn.shape), "y": y, "seed": 77}))
    out = work / "pen_out.json"
    ck = d / "simplecnn"
    run_ts_ref("penalty", str(ck), str(inp), str(out))
    ref = json.loads(out.read_text())
    m = load_model(str(ck))
    x = nhwc_to_nchw(xn)
    for kind in ("fisher", "gp", "gpr", "gpx"):
        value, grads, labels = penalty_gradients(kind, m, m.params, x, y, seed=77)
        r = ref[kind]
        assert labels == r["labels"], kind
        assert abs(value - r["value"]) <= 1e-4 * abs(r["value"]), (kind, value, r["value"])
        ours = torch.cat([g.reshape(-1) for g in m.to_checkpoint(grads)])
        theirs = torch.tensor([v for g in r["grads"] for v in g])
        err = ((ours - theirs).norm() / theirs.norm()).item()
        assert err <= 1e-4, (kind, err)


@pytest.mark.parametrize("kind", ["fisher", "gpr"])
@pytest.mark.parametrize("arch", ["mlp", "simplecnn"])
@pytest.mark.parametrize("agree", [0, 3, 6, 8])
def test_training_gradient_beside_the_penalty(batch, kind, arch, agree):
    """The training step's own gradient returned with the penalty (y_train) equals a plain autograd gradient
    of the true-label loss, in float64 on MNIST images, whether few or most sampled labels equal the true
    ones (the mismatch-subset path) or most differ (the full backward)."""
    xn, _ = batch
    x = nhwc_to_nchw(xn).double()
    spec = {"arch": arch, "width": 0.25, "activation": "relu"}
    if arch == "mlp":
        spec["hidden"] = [64, 32]
    m = Model(spec, [28, 28, 1], 10, 5).to(dtype=torch.float64)
    _, _, labels = penalty_gradients(kind, m, m.params, x, [0] * 8, seed=9)
    # true labels that agree with the sampled ones on the first `agree` examples
    y = torch.tensor([labels[i] if i < agree else (labels[i] + 1 + i % 9) % 10 for i in range(8)])
    assert sum(int(a == b) for a, b in zip(y.tolist(), labels)) == agree
    value, grads, labels2, (tl, tg) = penalty_gradients(kind, m, m.params, x, y.tolist(), seed=9, y_train=y)
    assert labels2 == labels
    ps = [p.detach().requires_grad_() for p in m.params]
    ref_loss = F.cross_entropy(m.forward(ps, x), y)
    ref = torch.autograd.grad(ref_loss, ps)
    assert abs(float(tl) - float(ref_loss)) <= 1e-12 * abs(float(ref_loss))
    for a, b in zip(tg, ref):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-13), (kind, arch, agree, float((a - b).abs().max()))
    # and the penalty itself is unchanged by asking for the training gradient
    value0, grads0, _ = penalty_gradients(kind, m, m.params, x, y.tolist(), seed=9)
    assert value == value0
    for a, b in zip(grads, grads0):
        assert torch.equal(a, b)
