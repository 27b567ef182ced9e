"""python3 -m fisher_lens_engine --config resolved.json [--checkpoint-dir DIR] [--device auto|cpu|cuda|mps]
   python3 -m fisher_lens_engine trace --checkpoint DIR --dataset JSON [--split train|test] [--count N] ...
   python3 -m fisher_lens_engine doctor"""
from __future__ import annotations

import argparse
import json
import sys
import traceback

from .engine import Control, Engine, Out, now_ms, pick_device


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["trace"]:
        from .trace import main as trace_main
        return trace_main(argv[1:])
    if argv[:1] == ["doctor"]:
        from .doctor import main as doctor_main
        return doctor_main()
    ap = argparse.ArgumentParser(prog="python3 -m fisher_lens_engine", description=__doc__)
    ap.add_argument("--config", required=True, help="resolved run config (JSON); '-' reads it from stdin's first line")
    ap.add_argument("--checkpoint-dir", help="write params.json + params.bin here at the end (config.checkpoint)")
    ap.add_argument("--device", default=None, help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--mnist-dir", default=None, help="folder of the MNIST IDX files (overrides _engine.mnistDir)")
    ap.add_argument("--stop-on-eof", action="store_true", help="treat end of stdin as a stop request")
    ap.add_argument("--lockstep", action="store_true",
                    help='take a step only when a {"cmd":"step"} line grants it (the TS trainer: never runs ahead)')
    args = ap.parse_args(argv)
    out = Out()
    try:
        import torch
        if args.config == "-":
            cfg = json.loads(sys.stdin.readline())
        else:
            with open(args.config, encoding="utf-8-sig") as f:
                cfg = json.load(f)
        eng = cfg.setdefault("_engine", {})
        if args.mnist_dir:
            eng["mnistDir"] = args.mnist_dir
        threads = args.threads or eng.get("threads")
        if threads:
            torch.set_num_threads(int(threads))
        dev = pick_device(args.device or eng.get("device") or "auto")
        if dev.type == "cuda":
            # float32 everywhere, as the other engines: no TF32 in matmuls or convolutions.
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        control = Control(out, stop_on_eof=args.stop_on_eof)
        control.install()
        engine = Engine(cfg, dev, out, control, args.checkpoint_dir or eng.get("checkpointDir"), lockstep=args.lockstep)
        out.emit(engine.engine_event())
        control.start_stdin()
        engine.run()
        return 0
    except Exception as e:  # noqa: BLE001
        msg = str(e).split("\n")[0] or type(e).__name__
        try:
            out.emit({"type": "log", "t": now_ms(), "level": "error", "message": f"{type(e).__name__}: {msg}\n{traceback.format_exc()}"})
        except Exception:  # noqa: BLE001
            pass
        print(f"fisher_lens_engine: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
