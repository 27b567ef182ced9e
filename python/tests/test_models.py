"""(b) Initial parameters equal the TS engine's checkpoints bit for bit; checkpoints round-trip byte-identically."""
import json

import torch

from fisher_lens_engine.checkpoint import load_model, load_params, save_params
from fisher_lens_engine.models import Model


def test_initial_parameters_match_ts(ts_init, tmp_path):
    d, specs = ts_init
    for s in specs:
        meta, values = load_params(str(d / s["name"]))
        m = Model(s["spec"], s["input"], s["classes"], s["seed"])
        assert [t["name"] for t in meta["tensors"]] == m.param_names, s["name"]
        assert [t["shape"] for t in meta["tensors"]] == m.param_shapes, s["name"]
        ours = m.to_checkpoint()
        for name, a, b in zip(m.param_names, ours, values):
            assert torch.equal(a.reshape(-1), b), f"{s['name']} {name}: {(a.reshape(-1) != b).sum()} values differ"
        # our checkpoint writer produces the same files, byte for byte
        save_params(m, str(tmp_path / s["name"]))
        assert (tmp_path / s["name"] / "params.bin").read_bytes() == (d / s["name"] / "params.bin").read_bytes()
        assert json.loads((tmp_path / s["name"] / "params.json").read_text()) == meta, s["name"]
        # and a TS checkpoint loads into the same model
        m2 = load_model(str(d / s["name"]))
        assert all(torch.equal(a, b) for a, b in zip(m2.params, m.params))


def test_width_rounding_and_layout():
    m = Model({"arch": "simplecnn", "width": 0.3}, [28, 28, 1], 10, 0)
    assert m.layer_widths == [10, 10, 19, 19, 38, 10]  # Math.round: 9.6 → 10, 19.2 → 19, 38.4 → 38
    assert m.param_shapes[0] == [3, 3, 1, 10] and list(m.params[0].shape) == [10, 1, 3, 3]
    x = torch.rand(2, 1, 28, 28)
    assert m.forward(m.params, x).shape == (2, 10)
