"""(c) Vectorised per-example squared gradient norms equal a per-example autograd loop (float64, real MNIST
images: flat backgrounds make max-pool windows tie), for every arch; also the summed gradient (Tr(F_B))."""
import pytest
import torch
import torch.nn.functional as F

from fisher_lens_engine import fisher as FI
from fisher_lens_engine.data import load_dataset
from fisher_lens_engine.models import Model, nhwc_to_nchw

ARCHS = [
    ({"arch": "mlp", "width": 0.25}, 0),
    ({"arch": "mlp", "width": 0.25, "activation": "tanh", "hidden": []}, 1),
    ({"arch": "simplecnn", "width": 0.25}, 2),
    ({"arch": "vgg11", "width": 0.0625}, 3),  # small late maps: the Gram branch
    ({"arch": "resnet", "width": 0.5}, 4),
    ({"arch": "resnet", "width": 0.25, "activation": "tanh"}, 5),
]


@pytest.fixture(scope="module")
def images(mnist_dir):
    ds = load_dataset({"name": "mnist", "trainSize": 1000, "testSize": 10}, seed=1, mnist_dir=mnist_dir)
    return nhwc_to_nchw(ds.train.x[:12]).double(), ds.train.y[:12].tolist()


def naive(model, params, x, labels):
    out, total = [], [torch.zeros_like(p) for p in params]
    for i in range(x.shape[0]):
        ps = [p.detach().requires_grad_() for p in params]
        loss = F.cross_entropy(model.forward(ps, x[i:i + 1]), torch.tensor(labels[i:i + 1]))
        g = torch.autograd.grad(loss, ps)
        out.append(sum(t.square().sum() for t in g).item())
        total = [a + b for a, b in zip(total, g)]
    return torch.tensor(out, dtype=torch.float64), total


@pytest.mark.parametrize("spec,seed", ARCHS, ids=[f"{s['arch']}-{i}" for s, i in ARCHS])
def test_per_example_norms(images, spec, seed):
    x, y = images
    m = Model(spec, [28, 28, 1], 10, seed).to(dtype=torch.float64)
    # some training so that the gradients are not those of a fresh init, yet deterministic
    with torch.no_grad():
        for p in m.params:
            p.add_(0.01 * torch.sin(torch.arange(p.numel(), dtype=torch.float64).reshape(p.shape)))
    ties = 0
    if spec["arch"] in ("simplecnn", "vgg11"):
        first = F.conv2d(x, m.params[0], m.params[1], padding=1).relu()
        w = F.unfold(first, 2, stride=2)  # window contents
        ties = int(((w.reshape(x.shape[0], first.shape[1], 4, -1) == w.reshape(x.shape[0], first.shape[1], 4, -1).amax(2, keepdim=True)).sum(2) > 1).sum())
        assert ties > 100  # real images: constant backgrounds tie in the max-pool windows
    norms, labels, sums = FI.per_example_sq_norms(m, m.params, x, labels=y, want_sum=True)
    ref, total = naive(m, m.params, x, y)
    assert torch.allclose(norms, ref, rtol=1e-10, atol=0), (norms, ref)
    for a, b in zip(sums, total):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)


def test_gram_and_direct_branches_agree():
    torch.manual_seed(0)
    a = torch.randn(5, 7, 3, 3, dtype=torch.float64)
    d = torch.randn(5, 11, 3, 3, dtype=torch.float64)
    w = torch.zeros(11, 7, 3, 3, dtype=torch.float64)

    class L:
        pad = 1
    n1, g1, _ = FI._conv_terms(a, d, L, w, True)  # P·(O+CK) = 9·74 < 11·63: Gram
    U = F.unfold(a, 3, padding=1)
    G = torch.bmm(d.reshape(5, 11, -1), U.transpose(1, 2))
    ref = G.square().sum((1, 2)) + d.sum((2, 3)).square().sum(1)
    assert torch.allclose(n1, ref, rtol=1e-12) and torch.allclose(g1.reshape(11, -1), G.sum(0), rtol=1e-12)


def test_fisher_trace_definitions(images):
    x, _ = images
    m = Model({"arch": "simplecnn", "width": 0.25}, [28, 28, 1], 10, 9).to(dtype=torch.float64)
    f = FI.fisher_trace(m, m.params, x, seed=77, batch_size=5)  # chunks 0, 5, 10: seeds derive_seed(77, c)
    labels = []
    for s in range(0, 12, 5):
        labels += FI.sample_labels(m.forward(m.params, x[s:s + 5]), FI.derive_seed(77, s))
    assert f["labels"] == labels
    ref, _ = naive(m, m.params, x, labels)
    assert abs(f["trace"] - ref.mean().item()) <= 1e-6 * ref.mean().item()
    assert abs(f["stderr"] - (ref.std() / 12 ** 0.5).item()) <= 1e-5 * f["stderr"]
    fb = FI.batch_fisher_trace(m, m.params, x, labels)
    assert abs(f["trFB"] - fb) <= 1e-9 * fb and fb <= f["trace"]


@pytest.mark.parametrize("spec", [{"arch": "mlp", "width": 0.25}, {"arch": "mlp", "hidden": [600, 600]},
                                  {"arch": "simplecnn", "width": 0.25}], ids=["mlp-small", "mlp-wide", "simplecnn"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_single_chunk_tr_fb_equals_autograd(mnist_dir, spec, dtype):
    """One chunk: Tr(F_B) from the Gram form of the dense layers (probe smaller than the layer) or the summed
    gradient equals ‖mean gradient‖² by plain autograd, on real MNIST images with the same sampled labels."""
    ds = load_dataset({"name": "mnist", "trainSize": 1000, "testSize": 10}, seed=2, mnist_dir=mnist_dir)
    x = nhwc_to_nchw(ds.train.x[:100]).to(dtype)
    m = Model(spec, [28, 28, 1], 10, 4).to(dtype=dtype)
    f = FI.fisher_trace(m, m.params, x, seed=5)
    fb = FI.batch_fisher_trace(m, m.params, x, f["labels"])
    assert abs(f["trFB"] - fb) <= (1e-9 if dtype == torch.float64 else 1e-4) * fb, (f["trFB"], fb)
    ref, _ = naive(m, m.params, x.double(), f["labels"]) if dtype == torch.float64 else (None, None)
    if ref is not None:
        assert torch.allclose(torch.tensor(f["perExample"], dtype=torch.float64), ref, rtol=1e-6)


@pytest.mark.parametrize("layer", [0, 1, 2, 3])
def test_every_kernel_gradient_method_is_exact(images, layer):
    """The engine keeps whichever per-example kernel-gradient method runs fastest for a layer shape, so every
    method must give the per-example autograd gradients: SimpleCNN's four conv layers on real MNIST images
    (zeros and ties), in float64 and in the channels-last layout the engine trains in on the CPU."""
    x, y = images
    m = Model({"arch": "simplecnn", "width": 0.25}, [28, 28, 1], 10, 7).to(dtype=torch.float64)
    taps = []
    ps = [p.detach().requires_grad_() for p in m.params]
    loss = F.cross_entropy(m.forward(ps, x, taps), torch.tensor(y), reduction="sum")
    convs = [(L, a, z) for (L, a, z) in taps if L.kind == "conv"]
    L, a, z = convs[layer]
    (d,) = torch.autograd.grad(loss, z)
    wshape = ps[L.weight].shape
    ref = []
    for i in range(x.shape[0]):
        qs = [p.detach().requires_grad_() for p in m.params]
        li = F.cross_entropy(m.forward(qs, x[i:i + 1]), torch.tensor(y[i:i + 1]), reduction="sum")
        ref.append(torch.autograd.grad(li, qs[L.weight])[0].reshape(wshape[0], -1))
    ref = torch.stack(ref)
    ref_norms = ref.square().sum((1, 2))  # ‖∂ℓ_b/∂W‖² per example
    ref_sum = ref.sum(0).reshape(wshape)
    a = a.detach()
    for layout in ("nchw", "channels-last"):
        aa, dd = (a, d) if layout == "nchw" else (a.contiguous(memory_format=torch.channels_last),
                                                  d.contiguous(memory_format=torch.channels_last))
        for name, fn in FI._KERNEL_METHODS.items():
            if hasattr(fn, "chunks"):  # the per-example gradients themselves, before the reduction
                G = torch.cat(fn.chunks(aa, dd, L.pad, wshape))
                assert torch.allclose(G, ref, rtol=1e-9, atol=1e-12), (name, layout, float((G - ref).abs().max()))
            for want_sum in (False, True):
                n, S = fn(aa, dd, L.pad, wshape, want_sum)
                assert torch.allclose(n, ref_norms, rtol=1e-9, atol=1e-15), (name, layout, float((n - ref_norms).abs().max()))
                if want_sum:
                    assert S.shape == wshape, (name, layout, S.shape)
                    assert torch.allclose(S, ref_sum, rtol=1e-9, atol=1e-12), (name, layout, float((S - ref_sum).abs().max()))
                else:
                    assert S is None
