"""`python3 -m fisher_lens_engine.doctor`: one JSON line about this interpreter, torch and its devices.

Used by `fisher-lens doctor` and backend selection (one process per probe). Never raises: a missing torch, an
old Python or a broken CUDA install are reported as fields, each with the reason.
"""
from __future__ import annotations

import json
import os
import platform
import sys

MIN_PYTHON = (3, 8)
MIN_TORCH = (1, 13)


def _version_tuple(v: str):
    out = []
    for part in v.split("+")[0].split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits or 0))
    return tuple(out)


def probe(want_ops: bool = True) -> dict:
    from . import __version__
    info = {"python": platform.python_version(), "executable": sys.executable, "engineVersion": __version__,
            "torch": None, "torchError": None, "cuda": {"available": False, "version": None, "devices": [],
                                                          "reason": None},
            "mps": {"available": False, "reason": None}, "threads": None, "cpuOk": False}
    if sys.version_info[:2] < MIN_PYTHON:
        info["torchError"] = f"Python {platform.python_version()} is too old (the engine needs ≥ 3.8)"
        return info
    try:
        import torch
    except Exception as e:  # noqa: BLE001
        info["torchError"] = f"import torch failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        return info
    info["torch"] = torch.__version__
    info["threads"] = torch.get_num_threads()
    if _version_tuple(torch.__version__) < MIN_TORCH:
        info["torchError"] = f"torch {torch.__version__} is too old (the engine needs ≥ 1.13)"
        return info
    try:
        from . import engine  # noqa: F401  (the engine's own imports work)
        if want_ops:
            x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
            (g,) = torch.autograd.grad((x * x).sum(), x, create_graph=True)
            if abs(float(g.detach().sum()) - 12.0) > 1e-6:
                raise RuntimeError(f"sanity op returned {float(g.detach().sum())}")
        info["cpuOk"] = True
    except Exception as e:  # noqa: BLE001
        info["torchError"] = f"the engine does not run on this torch: {type(e).__name__}: {e}"
        return info
    cuda = info["cuda"]
    cuda["version"] = torch.version.cuda
    try:
        if torch.version.cuda is None:
            cuda["reason"] = "this torch build has no CUDA (a CPU-only wheel)"
        elif not torch.cuda.is_available():
            cuda["reason"] = f"torch.cuda.is_available() is false (CUDA {torch.version.cuda} build; no GPU or driver)"
        else:
            cuda["devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            if want_ops:
                y = torch.ones(4, device="cuda:0").sum().item()
                if y != 4.0:
                    raise RuntimeError(f"sanity op on cuda:0 returned {y}")
            cuda["available"] = True
    except Exception as e:  # noqa: BLE001
        cuda["reason"] = f"CUDA did not work: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    mps = getattr(torch.backends, "mps", None)
    try:
        if mps is None or not mps.is_built():
            info["mps"]["reason"] = "this torch build has no MPS (Apple GPUs only)"
        elif not mps.is_available():
            info["mps"]["reason"] = "torch.backends.mps.is_available() is false (needs macOS 12.3+ on Apple silicon)"
        else:
            info["mps"]["available"] = True
    except Exception as e:  # noqa: BLE001
        info["mps"]["reason"] = f"MPS check failed: {e}"
    return info


def main() -> int:
    sys.stdout.write(json.dumps(probe("--no-ops" not in sys.argv[1:])) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
