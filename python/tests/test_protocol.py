"""The engine process: NDJSON on stdout, stop on a control line or SIGTERM with a final measurement, errors."""
import json
import os
import signal
import subprocess
import sys
import time

from conftest import MNIST_DIR, PY, run_py_engine

CFG = {"dataset": {"name": "synthetic", "trainSize": 256, "testSize": 64, "syntheticShape": [8, 8, 1]},
       "model": {"arch": "mlp", "width": 0.25}, "optimizer": {"lr": 0.05, "momentum": 0.9, "weightDecay": 0, "batchSize": 32},
       "schedule": {"steps": 100000, "lrSchedule": "constant", "milestones": [], "gamma": 0.1},
       "labelNoise": {"fraction": 0.1, "seed": 0, "forceChange": False, "trackSize": 50},
       "fisher": {"every": 10, "probeSize": 32, "lossThreshold": 1, "warmupSteps": 20},
       "penalty": {"kind": "gp", "alpha": 0.01, "every": 5, "startEpoch": 0}, "seed": 1, "evalEvery": 50,
       "checkpoint": True}


def start(tmp_path, extra=()):
    f = tmp_path / "c.json"
    f.write_text(json.dumps(CFG))
    return subprocess.Popen([sys.executable, "-m", "fisher_lens_engine", "--config", str(f), "--device", "cpu",
                             "--checkpoint-dir", str(tmp_path / "ck"), *extra], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=PY))


def read_until_steps(p, n):
    lines = []
    while True:
        line = p.stdout.readline()
        assert line, p.stderr.read()
        lines.append(json.loads(line))
        if lines[-1]["type"] == "step" and lines[-1]["step"] >= n:
            return lines


def finish(p, lines):
    out, err = p.communicate(timeout=60)
    lines += [json.loads(l) for l in out.splitlines()]
    return lines


def check_stopped(lines, p, tmp_path):
    assert p.returncode == 0
    assert lines[0]["type"] == "engine"
    last_step = max(e["step"] for e in lines if e["type"] == "step")
    end = lines[-1]
    assert end["type"] == "end" and end["state"] == "stopped" and end["step"] == last_step
    # the final measurement of the TS loop: Tr(F) and evaluation at the last step, then the checkpoint
    assert [e["type"] for e in lines[-3:-1]] == ["fisher", "eval"]
    assert lines[-3]["step"] == last_step == lines[-2]["step"]
    assert (tmp_path / "ck" / "params.bin").exists()


def test_stop_command(tmp_path):
    p = start(tmp_path)
    lines = read_until_steps(p, 12)
    p.stdin.write('{"cmd":"stop"}\n')
    p.stdin.flush()
    check_stopped(finish(p, lines), p, tmp_path)


def test_sigterm(tmp_path):
    p = start(tmp_path)
    lines = read_until_steps(p, 3)
    p.send_signal(signal.SIGTERM)
    check_stopped(finish(p, lines), p, tmp_path)


def test_events_are_schema_shaped(tmp_path):
    cfg = dict(CFG, schedule=dict(CFG["schedule"], steps=60))
    ev, rc, err = run_py_engine(cfg, tmp_path, "short")
    assert rc == 0, err
    kinds = {e["type"] for e in ev}
    assert kinds == {"engine", "step", "fisher", "eval", "end"}
    for e in ev:
        assert isinstance(e["t"], int)
        if e["type"] == "step":
            assert set(e) >= {"step", "epoch", "loss", "lr", "penalty", "gradNorm", "examplesPerSec"}
        if e["type"] == "fisher":
            assert set(e) >= {"step", "epoch", "trF", "trFStderr", "probeSize", "labelSeed", "trFB", "ms"}
            assert e["trFB"] <= e["trF"] * (1 + 1e-6)
        if e["type"] == "eval":
            assert e["noisyAcc"] is not None  # label noise: tracked clean/noisy subsets
    # deterministic on the CPU: a second run gives the same numbers
    ev2, _, _ = run_py_engine(cfg, tmp_path, "short2")
    strip = lambda es: [{k: v for k, v in e.items() if k not in ("t", "ms", "examplesPerSec", "pid")} for e in es]
    assert strip(ev) == strip(ev2)


def test_error_is_a_log_line_and_exit_1(tmp_path):
    cfg = dict(CFG, dataset={"name": "idx", "path": str(tmp_path / "nope"), "trainSize": 10, "testSize": 10})
    ev, rc, err = run_py_engine(cfg, tmp_path, "bad")
    assert rc == 1
    assert len(ev) == 1 and ev[0]["type"] == "log" and ev[0]["level"] == "error"
    assert "Traceback" in ev[0]["message"] and "nope" in err and "Traceback" not in err
