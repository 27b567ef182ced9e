"""The engine's output has no noise from a missing optional package: torch 2.x's NumPy warning is filtered."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

PYDIR = Path(__file__).resolve().parents[1]


def _run(tmp_path, *args):
    # A `numpy` that cannot be imported, first on the path: as on a machine without NumPy.
    fake = tmp_path / "numpy"
    fake.mkdir(exist_ok=True)
    (fake / "__init__.py").write_text('raise ModuleNotFoundError("No module named \'numpy\'", name="numpy")\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(PYDIR)])}
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=120)


def test_no_numpy_warning_without_numpy(tmp_path):
    control = _run(tmp_path, "-c", "import torch; torch.zeros(2)")
    if "Failed to initialize NumPy" not in control.stderr:
        pytest.skip(f"this torch ({sys.executable}) does not warn without NumPy")
    r = _run(tmp_path, "-m", "fisher_lens_engine", "doctor")
    assert r.returncode == 0, r.stderr
    assert "NumPy" not in r.stderr, r.stderr
    # Other warnings still show: only that one message is filtered.
    w = _run(tmp_path, "-c", "import fisher_lens_engine, warnings; warnings.warn('other')")
    assert "UserWarning: other" in w.stderr, w.stderr
