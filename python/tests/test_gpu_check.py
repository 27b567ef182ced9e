"""The GPU check (python/gpu_check.py) is what a person with an NVIDIA GPU runs and sends back: it must run to the
end and write every field. Here on the CPU: its parity part (device vs CPU, here CPU vs CPU: identical runs) and the
whole script with the speed part cut to the MLP and one round."""
import json
import os
import subprocess
import sys

import torch

from conftest import PY

sys.path.insert(0, PY)
import gpu_check  # noqa: E402


def test_parity_part_runs_and_agrees(mnist_dir):
    out = gpu_check.parity(torch.device("cpu"), 6, mnist_dir)
    assert set(out) == {"mlp", "simplecnn"}
    for r in out.values():
        assert r["ok"] and r["steps"] == 6
        assert set(r["worstRel"]) == {"loss", "penalty", "trF", "trFB"}
        assert all(v == 0.0 for v in r["worstRel"].values()), r  # the same device twice: bit-identical


def test_whole_script_writes_its_report(tmp_path):
    out = tmp_path / "gpu-check.json"
    r = subprocess.run([sys.executable, os.path.join(PY, "gpu_check.py"), "--device", "cpu", "--rounds", "1",
                        "--archs", "mlp", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(out.read_text())
    assert rep["ok"] is True and "error" not in rep
    assert rep["doctor"]["torch"] == torch.__version__ and isinstance(rep["doctor"]["cuda"]["available"], bool)
    mlp = rep["speed"]["results"]["mlp"]
    for k in ("engine/peer", "trF/engine step", "fp10/peer", "fp10/peer trained"):
        assert mlp[k] > 0, k
    assert 0.0 <= mlp["sampledLabelsDiffer"] <= 1.0
    assert mlp["ms"]["peer"] > 0 and mlp["ms"]["fp10Trained"] > 0
