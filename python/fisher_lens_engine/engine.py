"""The training loop of src/trainer/train.ts on PyTorch, streaming NDJSON events (python/README.md)."""
from __future__ import annotations

import json
import math
import os
import platform
import signal
import sys
import threading
import time
import traceback

import torch
import torch.nn.functional as F

from . import __version__
from .checkpoint import save_params
from .data import BatchIterator, apply_label_noise, load_dataset, tracked_subsets
from .fisher import fisher_trace, penalty_gradients
from .models import Model, nhwc_to_nchw
from .rng import Rng, derive_seed


def now_ms() -> int:
    return int(time.time() * 1000)


def metric(v):
    """Schema `Metric`: a finite number, else null."""
    return v if v is not None and math.isfinite(v) else None


def steps_per_epoch(cfg) -> int:
    return max(1, cfg["dataset"]["trainSize"] // cfg["optimizer"]["batchSize"])


def total_steps(cfg) -> int:
    s = cfg["schedule"]
    if s.get("steps") is not None:
        return s["steps"]
    from .data import js_round
    return max(1, js_round((s.get("epochs") if s.get("epochs") is not None else 1) * steps_per_epoch(cfg)))


def learning_rate(cfg, step, total) -> float:
    lr = cfg["optimizer"]["lr"]
    s = cfg["schedule"]
    frac = step / total if total > 0 else 0
    kind = s.get("lrSchedule", "constant")
    if kind == "constant":
        return lr
    if kind == "step":
        out = lr
        for m in s.get("milestones", []):
            if frac >= m:
                out *= s.get("gamma", 0.1)
        return out
    if kind == "cosine":
        return 0.5 * lr * (1 + math.cos(math.pi * min(1, frac)))
    raise ValueError(f"unknown lrSchedule {kind}")


def pick_device(want: str) -> torch.device:
    want = want or "auto"
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if want == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda:0")
        if has_mps:
            return torch.device("mps")
        return torch.device("cpu")
    if want == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device cuda: torch.cuda.is_available() is false (no CUDA build or no GPU)")
        return torch.device("cuda:0")
    if want.startswith("cuda:"):
        return torch.device(want)
    if want == "mps":
        if not has_mps:
            raise RuntimeError("device mps: torch.backends.mps.is_available() is false")
        return torch.device("mps")
    if want == "cpu":
        return torch.device("cpu")
    raise ValueError(f"--device: got {want!r}; expected auto, cpu, cuda or mps")


def device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    if dev.type == "mps":
        return "Apple MPS"
    import platform
    return platform.processor() or platform.machine() or "cpu"



class ConfigError(Exception):
    """A config the engine cannot run (the TypeScript side validated its schema): reported as `ConfigError: …`."""

class Out:
    """One JSON object per line on stdout, flushed at once."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.lock = threading.Lock()

    def emit(self, obj: dict):
        line = json.dumps(obj, allow_nan=False, separators=(",", ":"))
        with self.lock:
            self.stream.write(line + "\n")
            self.stream.flush()


class Control:
    """Stop requests from stdin control lines ({"cmd":"stop"} / {"cmd":"abort"}) and signals."""

    def __init__(self, out: Out, stop_on_eof: bool):
        self.stop = None  # reason
        self.abort = False
        self.out = out
        self.stop_on_eof = stop_on_eof
        self.signals = 0
        # --lockstep: one {"cmd":"step"} line per step (the TS loop's pull), so the engine never runs ahead.
        self.credits = 0
        self.cond = threading.Condition()

    def wait_credit(self) -> bool:
        """Block until a step is granted (True) or a stop is requested (False)."""
        with self.cond:
            while self.credits == 0 and not self.stop:
                self.cond.wait(0.05)
            if self.stop:
                return False
            self.credits -= 1
            return True

    def _wake(self):
        with self.cond:
            self.cond.notify_all()

    def start_stdin(self):
        t = threading.Thread(target=self._read, daemon=True)
        t.start()

    def _read(self):
        try:
            for line in sys.stdin:
                line = line.strip()
                if not line:
                    continue
                try:
                    msg = json.loads(line)
                    cmd = msg.get("cmd") if isinstance(msg, dict) else None
                except ValueError:
                    cmd = None
                if cmd == "step":
                    with self.cond:
                        self.credits += 1
                        self.cond.notify_all()
                elif cmd == "stop":
                    self.stop = self.stop or "stop command"
                elif cmd == "abort":
                    self.abort = True
                    self.stop = self.stop or "abort command"
                else:
                    self.out.emit({"type": "log", "t": now_ms(), "level": "warn",
                                   "message": f"engine: unknown control line {line[:200]!r} ignored"})
        except Exception:  # noqa: BLE001 (stdin closed or unreadable)
            pass
        if self.stop_on_eof:
            self.stop = self.stop or "stdin closed"
        self._wake()

    def on_signal(self, signum, _frame):
        self.signals += 1
        name = signal.Signals(signum).name
        if self.signals >= 2:
            self.out.emit({"type": "end", "t": now_ms(), "state": "stopped", "step": None,
                           "message": f"stopped: {self.stop}, then {name} (ended at once)"})
            os._exit(130)
        self.stop = self.stop or f"received {name}"

    def install(self):
        for s in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGHUP", None)):
            if s is not None:
                signal.signal(s, self.on_signal)


class Engine:
    def __init__(self, cfg: dict, device: torch.device, out: Out, control: Control | None = None,
                 checkpoint_dir: str | None = None, lockstep: bool = False):
        self.cfg = cfg
        self.lockstep = lockstep
        self.dev = device
        self.out = out
        self.control = control
        self.checkpoint_dir = checkpoint_dir
        eng = cfg.get("_engine") or {}
        self.data = load_dataset(cfg["dataset"], seed=cfg["seed"], base_dir=eng.get("baseDir"),
                                 mnist_dir=eng.get("mnistDir"), fashion_dir=eng.get("fashionMnistDir"))
        d = self.data
        self.K = d.num_classes
        ln = cfg["labelNoise"]
        y, mask, noisy_count, _ = apply_label_noise(d.train.y.tolist(), self.K, ln["fraction"], ln["seed"],
                                                    bool(ln.get("forceChange", False)))
        self.noisy_count = noisy_count
        clean_idx, noisy_idx = tracked_subsets(mask, ln["trackSize"], ln["seed"] + 1)
        rng = Rng(cfg["seed"], "probe-and-tracking")
        self.probe_idx = rng.sample(cfg["fisher"]["probeSize"], d.train.n)
        track_idx = rng.sample(min(d.train.n, ln["trackSize"]), d.train.n)
        # On the CPU images stay in their NHWC layout (a channels-last NCHW view): oneDNN's convolutions run
        # faster on it (SimpleCNN forward 37 vs 58–67 ms on torch 2, 1.05–1.15× over a whole step), and a
        # batch is gathered from the NHWC tensor, which keeps it channels-last. Elsewhere contiguous NCHW.
        self.channels_last = device.type == "cpu"
        self.train_rows = d.train.x.to(device) if self.channels_last else nhwc_to_nchw(d.train.x).to(device)
        self.train_x = self.train_rows.permute(0, 3, 1, 2) if self.channels_last else self.train_rows
        self.train_y = torch.tensor(y, dtype=torch.long).to(device)
        self.train_y_list = y

        def subset(idx):
            i = torch.tensor(idx, dtype=torch.long, device=device)
            return self.gather(i), self.train_y.index_select(0, i)

        self.probe_x, _ = subset(self.probe_idx)
        self.track = subset(track_idx)
        self.clean = subset(clean_idx) if noisy_count > 0 else None
        self.noisy = subset(noisy_idx) if noisy_count > 0 and noisy_idx else None
        self.test = (d.test.x.to(device).permute(0, 3, 1, 2) if self.channels_last else nhwc_to_nchw(d.test.x).to(device),
                     d.test.y.to(device))
        try:
            self.model = Model(cfg["model"], d.input_shape, self.K, cfg["seed"]).to(device)
        except ValueError as e:  # an architecture that does not fit the data: an input error, as in the wasm engine
            h, w, c = d.input_shape
            raise ConfigError(f"model: {e} (dataset {d.name} is {h}×{w}×{c})") from None
        self.params = [p.requires_grad_() for p in self.model.params]
        self.spe = steps_per_epoch(cfg)
        self.total = total_steps(cfg)
        self.B = cfg["optimizer"]["batchSize"]
        self.batches = BatchIterator(d.train.n, self.B, derive_seed(cfg["seed"], "batches"))
        self.velocity = [torch.zeros_like(p) for p in self.params]
        # where weight decay's products go (see train_step); none without weight decay
        self._scratch = ([torch.empty_like(p) for p in self.params]
                         if cfg["optimizer"]["weightDecay"] > 0 else None)
        self.penalty_grads = None
        self.penalty_value = None
        self.last_penalty_step = -math.inf
        self.step = 0
        self.ema_rate = 0.0
        self.last_trf = None

    # ---- header -------------------------------------------------------------------------------
    def engine_event(self) -> dict:
        d = self.data
        return {"type": "engine", "t": now_ms(), "engine": "torch", "engineVersion": __version__,
                "device": str(self.dev), "torch": torch.__version__, "deviceName": device_name(self.dev),
                "python": platform.python_version(), "cuda": torch.version.cuda,
                "threads": torch.get_num_threads(), "pid": os.getpid(),
                "paramCount": self.model.param_count, "layerWidths": self.model.layer_widths,
                "dataset": {"name": d.name, "trainSize": d.train.n, "testSize": d.test.y.shape[0],
                            "inputShape": d.input_shape, "numClasses": self.K, "noisyCount": self.noisy_count},
                "model": {"arch": self.cfg["model"]["arch"], "paramCount": self.model.param_count},
                "probe": {"split": "train", "indices": list(self.probe_idx)},
                "seed": self.cfg["seed"], "stepsPerEpoch": self.spe, "totalSteps": self.total}

    # ---- measurements ---------------------------------------------------------------------------
    def evaluate(self, xs, ys):
        loss_sum, correct = 0.0, 0.0
        n = xs.shape[0]
        with torch.no_grad():
            for i in range(0, n, 512):
                xb, yb = xs[i:i + 512], ys[i:i + 512]
                logits = self.model.forward(self.params, xb)
                m = xb.shape[0]
                l = F.cross_entropy(logits, yb) * m
                hit = (logits.argmax(1) == yb).float().sum()
                r = torch.stack([l, hit]).tolist()
                loss_sum += r[0]
                correct += r[1]
        return loss_sum / n, correct / n

    def eval_now(self, step):
        te = self.evaluate(*self.test)
        tr = self.evaluate(*self.track)
        cl = self.evaluate(*self.clean) if self.clean else None
        no = self.evaluate(*self.noisy) if self.noisy else None
        self.out.emit({"type": "eval", "t": now_ms(), "step": step, "epoch": step / self.spe,
                       "testLoss": metric(te[0]), "testAcc": te[1], "trainLoss": metric(tr[0]), "trainAcc": tr[1],
                       "cleanLoss": metric(cl[0]) if cl else None, "cleanAcc": cl[1] if cl else None,
                       "noisyLoss": metric(no[0]) if no else None, "noisyAcc": no[1] if no else None})

    def measure_fisher(self, step):
        t0 = time.perf_counter()
        label_seed = derive_seed(self.cfg["seed"], "fisher", step)
        f = fisher_trace(self.model, self.params, self.probe_x, seed=label_seed)
        self.last_trf = f["trace"]
        self.out.emit({"type": "fisher", "t": now_ms(), "step": step, "epoch": step / self.spe,
                       "trF": f["trace"] if math.isfinite(f["trace"]) else None, "trFStderr": metric(f["stderr"]),
                       "probeSize": self.probe_x.shape[0], "labelSeed": label_seed, "trFB": metric(f["trFB"]),
                       "ms": (time.perf_counter() - t0) * 1000})
        return f

    # ---- one SGD step ---------------------------------------------------------------------------
    def gather(self, idx):
        """Training images at `idx` as an NCHW tensor (channels-last on the CPU: see __init__)."""
        rows = self.train_rows.index_select(0, idx)
        return rows.permute(0, 3, 1, 2) if self.channels_last else rows

    def train_step(self, step):
        cfg = self.cfg
        t0 = time.perf_counter()
        lr = learning_rate(cfg, step, self.total)
        idx = torch.tensor(self.batches.next(), dtype=torch.long, device=self.dev)
        xb = self.gather(idx)
        yb = self.train_y.index_select(0, idx)
        pen = cfg["penalty"]
        penalty_on = pen["kind"] != "none" and pen["alpha"] > 0 and step / self.spe >= pen["startEpoch"]
        train = None
        if penalty_on and step - self.last_penalty_step >= pen["every"]:
            # the step's own loss and gradient come from the penalty's forward pass (no second forward)
            value, grads, _, train = penalty_gradients(pen["kind"], self.model, self.params, xb, yb.tolist(),
                                                       derive_seed(cfg["seed"], "penalty", step), self.K, y_train=yb)
            self.penalty_grads = [g * pen["alpha"] for g in grads]
            self.penalty_value = pen["alpha"] * value
            self.last_penalty_step = step
        if train is not None:
            loss, grads = train
        else:
            with torch.enable_grad():
                loss = F.cross_entropy(self.model.forward(self.params, xb), yb)
                grads = torch.autograd.grad(loss, self.params)
        wd = cfg["optimizer"]["weightDecay"]
        mu = cfg["optimizer"]["momentum"]
        with torch.no_grad():
            # one fused call per operation over all parameters (torch._foreach_*) and no temporaries: the
            # gradients are fresh tensors updated in place, the weight-decay product goes to a kept scratch
            # buffer (a new multi-MB tensor per step costs page faults; the update took 2× PyTorch's SGD step)
            g = list(grads)
            if penalty_on and self.penalty_grads is not None:
                torch._foreach_add_(g, self.penalty_grads)
            if wd > 0:
                for p, t in zip(self.params, self._scratch):
                    torch.mul(p, wd, out=t)
                torch._foreach_add_(g, self._scratch)
            sq = torch.stack([torch.dot(t.reshape(-1), t.reshape(-1)) for t in g])  # BLAS dot: fastest ‖g‖²
            torch._foreach_mul_(self.velocity, mu)  # PyTorch-style momentum: v ← μ·v + g
            torch._foreach_add_(self.velocity, g)
            # θ ← θ − η·v in one pass (the TS engine rounds η·v first; this may fuse it: ≤ ½ ulp per step,
            # far inside the engines' parity bounds, which matmul summation order dominates)
            torch._foreach_add_(self.params, self.velocity, alpha=-lr)
            vals = torch.stack([loss.detach(), sq.sum().sqrt()]).tolist()
        loss_v, grad_norm = vals
        dt = time.perf_counter() - t0
        rate = self.B / max(dt, 1e-6)
        self.ema_rate = 0.9 * self.ema_rate + 0.1 * rate if self.ema_rate else rate
        self.out.emit({"type": "step", "t": now_ms(), "step": step + 1, "epoch": (step + 1) / self.spe,
                       "loss": metric(loss_v), "lr": lr, "penalty": metric(self.penalty_value) if penalty_on else None,
                       "gradNorm": metric(grad_norm), "examplesPerSec": self.ema_rate})
        return loss_v

    # ---- the run ---------------------------------------------------------------------------------
    def run(self) -> str:
        cfg = self.cfg
        ctl = self.control
        state = "running"
        step = 0
        while step < self.total:
            if ctl and ctl.stop:
                state = "stopped"
                break
            if ctl and self.lockstep and not ctl.wait_credit():
                state = "stopped"
                break
            if step % cfg["fisher"]["every"] == 0:
                self.measure_fisher(step)
            if step % cfg["evalEvery"] == 0 and step > 0:
                self.eval_now(step)
            self.train_step(step)
            step += 1
            self.step = step
        if state == "running":
            state = "completed"
        if ctl and ctl.abort:
            self.out.emit({"type": "end", "t": now_ms(), "state": "aborted", "step": step, "message": ctl.stop})
            return "aborted"
        self.measure_fisher(step)
        self.eval_now(step)
        ckpt = None
        if cfg.get("checkpoint") and self.checkpoint_dir:
            save_params(self.model, self.checkpoint_dir)
            ckpt = self.checkpoint_dir
        self.out.emit({"type": "end", "t": now_ms(), "state": state, "step": step,
                       "message": f"stopped: {ctl.stop}" if state == "stopped" and ctl else None,
                       "checkpoint": ckpt})
        return state
