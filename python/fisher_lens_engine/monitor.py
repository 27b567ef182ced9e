"""Monitor your own PyTorch training with Fisher Lens: exact Tr(F) on a probe set, streamed to the editor.

    from fisher_lens_engine import Monitor

    mon = Monitor(model, probe=x_probe, every=10)        # x_probe: a fixed batch of inputs (or (x, y))
    for step, (x, y) in enumerate(loader):
        loss = F.cross_entropy(model(x), y)
        # optional: the Fisher penalty, L + α·Tr(F_B) with labels sampled from the model
        # loss = loss + 0.01 * mon.penalty(x)
        opt.zero_grad(); loss.backward(); opt.step()
        mon.step(loss, lr=opt.param_groups[0]["lr"])     # Tr(F) every `every` steps
        if mon.should_stop():                            # Stop in the editor, the STOP file, SIGTERM
            break
    mon.eval(test_acc=acc, test_loss=test_loss)
    mon.close()

Tr(F) = E_x E_{ŷ~p_θ(y|x)} ‖∇θ ℓ(x, ŷ)‖² over the probe, labels sampled from the model (one per example,
seeded), per-example gradients vectorised (module_fisher.py), measured in eval mode (BatchNorm on its running
statistics, dropout off) and the model's mode restored after.

Where the events go: under `fisher-lens run -- python3 train.py` the launcher passes a channel in the
environment (FISHER_LENS_EVENTS_FD / FISHER_LENS_CONTROL_FD) and owns the run folder; with
FISHER_LENS_EVENTS_FILE set, NDJSON lines are appended to that file; with FISHER_LENS_EVENTS_DIR set, each Monitor
writes a new file `<name>-<time>-<pid>.events.jsonl` in that folder; otherwise nothing is written (Tr(F) is still
measured and returned by `trace()`, `last`).
"""
from __future__ import annotations

import json
import math
import os
import select
import sys
import time

import torch
import torch.nn.functional as F

from .fisher import mean_and_stderr, sample_labels
from .module_fisher import UnsupportedModelError, check_model, module_per_example_sq_norms
from .rng import derive_seed

CHUNK = 128
ENV_EVENTS_FD = "FISHER_LENS_EVENTS_FD"
ENV_CONTROL_FD = "FISHER_LENS_CONTROL_FD"
ENV_EVENTS_FILE = "FISHER_LENS_EVENTS_FILE"
ENV_EVENTS_DIR = "FISHER_LENS_EVENTS_DIR"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _metric(v):
    if v is None:
        return None
    if isinstance(v, torch.Tensor):
        v = float(v.detach().float().mean()) if v.numel() != 1 else float(v.detach())
    v = float(v)
    return v if math.isfinite(v) else None


class _Channel:
    """Where events go and stop requests come from (see the module docstring)."""

    def __init__(self, name: str | None = None):
        self.out = None
        self.path = None
        self.control = None
        self.buf = b""
        self.stop_reason = None
        fd = os.environ.get(ENV_EVENTS_FD)
        if fd:
            self.out = os.fdopen(int(fd), "w", buffering=1, encoding="utf-8", closefd=False)
            cfd = os.environ.get(ENV_CONTROL_FD)
            if cfd:
                self.control = int(cfd)
                os.set_blocking(self.control, False)
        elif os.environ.get(ENV_EVENTS_FILE):
            self.path = os.environ[ENV_EVENTS_FILE]
            self.out = open(self.path, "a", buffering=1, encoding="utf-8")
        elif os.environ.get(ENV_EVENTS_DIR):
            # One new file per Monitor: <dir>/<name>-<UTC time>-<pid>.events.jsonl (never an existing one).
            d = os.environ[ENV_EVENTS_DIR]
            os.makedirs(d, exist_ok=True)
            stem = "".join(c if c.isalnum() or c in "._-" else "-" for c in (name or "monitor"))[:80] or "monitor"
            base = os.path.join(d, f"{stem}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{os.getpid()}")
            for i in range(1000):
                self.path = f"{base}{f'-{i}' if i else ''}.events.jsonl"
                try:
                    self.out = open(self.path, "x", buffering=1, encoding="utf-8")
                    break
                except FileExistsError:
                    continue

    @property
    def attached(self) -> bool:
        return self.out is not None

    def emit(self, obj: dict):
        if self.out is None:
            return
        try:
            self.out.write(json.dumps(obj, allow_nan=False, separators=(",", ":")) + "\n")
            self.out.flush()
        except BrokenPipeError:  # the launcher is gone: keep training, stop writing
            self.out = None
            self.stop_reason = self.stop_reason or "Fisher Lens closed the channel"

    def poll(self):
        """Read pending control lines ({"cmd":"stop","reason":…}) without blocking."""
        if self.control is None:
            return
        while True:
            try:
                r, _, _ = select.select([self.control], [], [], 0)
                if not r:
                    return
                chunk = os.read(self.control, 4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.control = None
                return
            if not chunk:  # the launcher closed its end: treat as a stop request
                self.control = None
                self.stop_reason = self.stop_reason or "Fisher Lens closed the channel"
                return
            self.buf += chunk
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if isinstance(msg, dict) and msg.get("cmd") == "stop":
                    self.stop_reason = self.stop_reason or str(msg.get("reason") or "stop requested")

    def close(self):
        if self.out is not None and not os.environ.get(ENV_EVENTS_FD):
            self.out.close()
        self.out = None


class Monitor:
    """Exact Tr(F) of a classifier on a fixed probe set during the user's own training loop.

    model: a torch.nn.Module returning logits [batch, classes]. probe: a tensor of inputs, or (inputs, labels)
    (the labels are not used by Tr(F), which samples them from the model). every: measure Tr(F) every this many
    calls of `step()` (and once at construction, step 0). seed: seeds the sampled labels (measurement at step s uses
    derive_seed(seed, "fisher", s), chunk c of 128 derive_seed(that, c), as the built-in engines).
    total_steps / steps_per_epoch: for progress and the epoch axis (optional). name: the run's name when it
    is not launched by `fisher-lens run --name`. measure_in: 'eval' (default: BatchNorm on running statistics,
    dropout off — the paper's protocol) or 'train' (refused for BatchNorm)."""

    def __init__(self, model, probe, every: int = 10, *, seed: int = 0, total_steps: int | None = None,
                 steps_per_epoch: int | None = None, name: str | None = None, measure_in: str = "eval"):
        if measure_in not in ("eval", "train"):
            raise ValueError(f"measure_in: expected 'eval' or 'train', got {measure_in!r}")
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every: expected a positive integer, got {every!r}")
        self.model = model
        self.measure_in = measure_in
        self.layers = check_model(model, measuring_in_train_mode=measure_in == "train")
        if not self.layers:
            raise UnsupportedModelError("model: no trainable parameters in a supported layer")
        x = probe[0] if isinstance(probe, (tuple, list)) else probe
        if not isinstance(x, torch.Tensor) or x.dim() < 2 or x.shape[0] < 1:
            raise ValueError("probe: expected a tensor of inputs [N, …] (or a tuple (inputs, labels)) with N ≥ 1")
        self.probe = x.detach()
        self.every = every
        self.seed = int(seed)
        self.total_steps = total_steps
        self.spe = steps_per_epoch or None
        self.steps = 0
        self.last = None
        self._measured_at = None
        self._t_last = None
        self._rate = None
        self._penalty_value = None
        self._closed = False
        self.channel = _Channel(name)
        params = [p for _, m in self.layers for p in m.parameters(recurse=False) if p.requires_grad]
        self.param_count = sum(p.numel() for p in params)
        with torch.no_grad():
            was = model.training
            model.eval()
            try:
                k = model(self.probe[:1]).shape[-1]
            finally:
                model.train(was)
        self.num_classes = int(k)
        dev = self.probe.device
        self.channel.emit({
            "type": "hello", "t": _now_ms(), "api": 1, "name": name,
            "model": {"arch": type(model).__name__, "paramCount": int(self.param_count),
                      "layers": [f"{n or '<model>'}:{type(m).__name__}" for n, m in self.layers][:200]},
            "probeSize": int(self.probe.shape[0]), "numClasses": self.num_classes,
            "inputShape": [int(s) for s in self.probe.shape[1:]][:8], "every": every, "seed": self.seed,
            "totalSteps": total_steps, "stepsPerEpoch": steps_per_epoch,
            "engine": {"name": "torch", "device": str(dev),
                       **({"deviceName": torch.cuda.get_device_name(dev)} if dev.type == "cuda" else {}),
                       "versions": {"torch": torch.__version__, "python": sys.version.split()[0]}},
        })
        self._measure()  # step 0: the early phase starts here

    # ---- measurement ---------------------------------------------------------------------------
    def trace(self, seed: int | None = None) -> dict:
        """Tr(F) on the probe now: {'trF', 'stderr', 'trFB', 'perExample', 'labels', 'ms'} (not emitted)."""
        t0 = time.perf_counter()
        s = derive_seed(self.seed, "fisher", self.steps) if seed is None else seed
        was = self.model.training
        if self.measure_in == "eval":
            self.model.eval()
        try:
            per, labs, total = [], [], None
            N = self.probe.shape[0]
            params = self._params()
            for c in range(0, N, CHUNK):
                n, lab, sums = module_per_example_sq_norms(self.model, self.layers, self.probe[c:c + CHUNK],
                                                           seed=derive_seed(s, c), params=params)
                per += n.to("cpu", torch.float64).tolist()
                labs += lab
                total = sums if total is None else [t if u is None else (u if t is None else t + u)
                                                    for t, u in zip(total, sums)]
            # Tr(F_B) = ‖(1/N) Σ_i ∇θ ℓ(x_i, ŷ_i)‖², the summed gradients coming from the same backward passes
            trfb = float(sum((t.double() / N).square().sum() for t in total if t is not None))
        finally:
            self.model.train(was)
        mean, se = mean_and_stderr(per)
        return {"trF": mean, "stderr": se, "trFB": trfb, "perExample": per, "labels": labs, "labelSeed": s,
                "ms": (time.perf_counter() - t0) * 1000}

    def _params(self):
        return [p for _, m in self.layers for p in m.parameters(recurse=False) if p.requires_grad]

    def penalty(self, x: torch.Tensor, logits: torch.Tensor | None = None) -> torch.Tensor:
        """The Fisher penalty term Tr(F_B) = ‖(1/B) Σ_i ∇θ ℓ(x_i, ŷ_i)‖² on the batch x, ŷ_i sampled from the
        model: a differentiable scalar to add to the loss as `loss + alpha * mon.penalty(x)` (double backprop).
        Pass the batch's logits to reuse its forward pass."""
        params = self._params()
        if logits is None:
            logits = self.model(x)
        labels = sample_labels(logits, derive_seed(self.seed, "penalty", self.steps))
        y = torch.tensor(labels, dtype=torch.long, device=logits.device)
        g = torch.autograd.grad(F.cross_entropy(logits, y), params, create_graph=True, allow_unused=True)
        P = sum(t.square().sum() for t in g if t is not None)
        self._penalty_value = float(P.detach())
        return P

    # ---- events --------------------------------------------------------------------------------
    def _stepped(self, typ: str) -> dict:
        return {"type": typ, "t": _now_ms(), "step": self.steps,
                "epoch": self.steps / self.spe if self.spe else self.steps}

    def step(self, loss=None, *, step: int | None = None, lr=None, batch_size: int | None = None,
             grad_norm=None, penalty=None) -> dict | None:
        """Record one optimisation step; call it after the step. `step`: the number of steps taken, this one
        included (default: one more than the last call). Measures Tr(F) when that number is a multiple of
        `every` and returns the measurement (else None)."""
        if step is not None:
            if not isinstance(step, int) or step < 1:
                raise ValueError(f"step: expected a positive integer (steps taken), got {step!r}")
            self.steps = step
        else:
            self.steps += 1
        now = time.perf_counter()
        if self._t_last is not None and batch_size:
            r = batch_size / max(now - self._t_last, 1e-9)
            self._rate = r if self._rate is None else 0.9 * self._rate + 0.1 * r
        self._t_last = now
        ev = self._stepped("step")
        ev.update({"loss": _metric(loss), "lr": _metric(lr),
                   "penalty": _metric(penalty if penalty is not None else self._penalty_value),
                   "gradNorm": _metric(grad_norm), "examplesPerSec": _metric(self._rate)})
        self.channel.emit(ev)
        if self.steps % self.every == 0:
            return self._measure()
        return None

    def _measure(self) -> dict:
        r = self.trace()
        self.last = r
        self._measured_at = self.steps
        ev = self._stepped("fisher")
        ev.update({"trF": r["trF"] if math.isfinite(r["trF"]) else 0.0, "trFStderr": _metric(r["stderr"]),
                   "probeSize": len(r["perExample"]), "labelSeed": r["labelSeed"], "trFB": _metric(r["trFB"]),
                   "ms": r["ms"]})
        self.channel.emit(ev)
        return r

    def eval(self, *, test_acc, test_loss=None, train_acc=None, train_loss=None) -> None:
        """Record an evaluation (accuracies in 0–1)."""
        for k, v in (("test_acc", test_acc), ("train_acc", train_acc)):
            if v is not None and not (0 <= float(v) <= 1):
                raise ValueError(f"{k}: expected an accuracy between 0 and 1, got {v!r}")
        ev = self._stepped("eval")
        ev.update({"testLoss": _metric(test_loss), "testAcc": float(test_acc),
                   "trainLoss": _metric(train_loss), "trainAcc": float(train_acc if train_acc is not None else test_acc),
                   "cleanLoss": None, "cleanAcc": None, "noisyLoss": None, "noisyAcc": None})
        self.channel.emit(ev)

    def log(self, message: str, level: str = "info") -> None:
        if level not in ("info", "warn", "error"):
            raise ValueError(f"level: expected info, warn or error, got {level!r}")
        self.channel.emit({"type": "log", "t": _now_ms(), "level": level, "message": str(message)[:10000]})

    def should_stop(self) -> bool:
        """True once Fisher Lens asked the run to stop (Stop in the editor, the STOP file, SIGTERM)."""
        self.channel.poll()
        return self.channel.stop_reason is not None

    def close(self) -> None:
        """A final Tr(F) measurement at the last step, then the end of the stream."""
        if self._closed:
            return
        self._closed = True
        if self._measured_at != self.steps:
            self._measure()
        self.channel.emit({"type": "end", "t": _now_ms(), "step": self.steps,
                           "state": "stopped" if self.channel.stop_reason else "completed",
                           "message": self.channel.stop_reason})
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.channel.emit({"type": "log", "t": _now_ms(), "level": "error",
                               "message": f"{exc_type.__name__}: {exc}"[:10000]})
            self.channel.close()
        return False
