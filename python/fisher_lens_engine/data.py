"""Datasets exactly as src/trainer/data loads them: same files, subsets, order and scaling.

Images are returned as float32 tensors NHWC with pixel byte / 255 rounded once from double to float32
(as JavaScript's ``Float32Array`` store of ``byte / 255``), labels as int64 tensors.
"""
from __future__ import annotations

import gzip
import json
import math
import os
import re
import struct
import threading

import torch

from .rng import Rng


class DataError(Exception):
    def __init__(self, message: str, file: str | None = None):
        super().__init__(f"{file}: {message}" if file else message)
        self.file = file


# byte / 255 in double, stored as float32 (bit-identical to the TS Float32Array store).
_LUT = torch.tensor([b / 255 for b in range(256)], dtype=torch.float64).to(torch.float32)


def read_maybe_gz(file: str) -> bytes:
    try:
        with open(file, "rb") as f:
            buf = f.read()
    except OSError as e:
        raise DataError(f"cannot read: {e.strerror or e}", file)
    if len(buf) >= 2 and buf[0] == 0x1F and buf[1] == 0x8B:
        try:
            return gzip.decompress(buf)
        except Exception as e:  # noqa: BLE001
            raise DataError(f"gzip data is corrupt or truncated ({e})", file)
    return buf


class RawSplit:
    """n images of h·w·c bytes, HWC (IDX) or CHW (CIFAR) order, labels."""

    def __init__(self, images: torch.Tensor, labels: list, n: int, shape, chw: bool, files=None):
        self.images = images  # uint8 [n, d]
        self.labels = labels
        self.n = n
        self.shape = list(shape)
        self.chw = chw
        self.files = files or []


def parse_idx(buf: bytes, file: str, expect_dims, what: str):
    if len(buf) < 4:
        raise DataError(f"not an IDX file: {len(buf)} bytes, too short for a header ({what})", file)
    if buf[0] != 0 or buf[1] != 0 or buf[2] not in (0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E):
        raise DataError(f"not an IDX file: magic number 0x{struct.unpack('>I', buf[:4])[0]:08x} ({what})", file)
    if buf[2] != 0x08:
        raise DataError(f"IDX element type 0x{buf[2]:02x} is not supported; expected unsigned bytes ({what})", file)
    nd = buf[3]
    if nd not in expect_dims:
        raise DataError(f"IDX file has {nd} dimension(s); expected {expect_dims} ({what})", file)
    header = 4 + 4 * nd
    if len(buf) < header:
        raise DataError(f"truncated IDX header: {len(buf)} bytes, expected at least {header}", file)
    dims = list(struct.unpack(">" + "I" * nd, buf[4:header]))
    count = 1
    for d in dims:
        count *= d
    have = len(buf) - header
    if have < count:
        raise DataError(f"truncated: the header promises {count} data bytes, found {have}", file)
    if have > count:
        raise DataError(f"{have - count} unexpected bytes after the data the header describes (corrupt file?)", file)
    return dims, memoryview(buf)[header:]


def find_idx_file(d: str, split: str, kind: str) -> str:
    try:
        names = os.listdir(d)
    except OSError as e:
        raise DataError(f"cannot read the IDX folder: {e.strerror or e}", d)
    prefix = "train" if split == "train" else "(?:t10k|test)"
    dims = "[34]" if kind == "images" else "1"
    rx = re.compile(f"^{prefix}[-_.]{kind}[-_.]idx{dims}[-_.]ubyte(\\.gz)?$", re.I)
    hits = [n for n in names if rx.match(n)]
    # .gz last, then localeCompare (plain comparison suffices for these ASCII names)
    hits.sort(key=lambda n: (n.endswith(".gz"), n.lower(), n))
    if not hits:
        raise DataError(f"no {'training' if split == 'train' else 'test'} {kind} file", d)
    return os.path.join(d, hits[0])


def read_idx_split(d: str, split: str) -> RawSplit:
    img_file = find_idx_file(d, split, "images")
    lab_file = find_idx_file(d, split, "labels")
    idims, idata = parse_idx(read_maybe_gz(img_file), img_file, [3, 4], "images")
    ldims, ldata = parse_idx(read_maybe_gz(lab_file), lab_file, [1], "labels")
    n, h, w = idims[:3]
    c = idims[3] if len(idims) > 3 else 1
    if 0 in (n, h, w, c):
        raise DataError("empty image array", img_file)
    if ldims[0] != n:
        raise DataError(f"{ldims[0]} labels but {n} images", lab_file)
    images = torch.frombuffer(bytearray(idata), dtype=torch.uint8).view(n, h * w * c)
    return RawSplit(images, list(bytes(ldata)), n, [h, w, c], False, [img_file, lab_file])


_CIFAR = {
    "cifar10": dict(label="CIFAR-10", sub="cifar-10-batches-bin", train=[f"data_batch_{i}.bin" for i in range(1, 6)],
                    test=["test_batch.bin"], label_bytes=1, classes=10),
    "cifar100": dict(label="CIFAR-100", sub="cifar-100-binary", train=["train.bin"], test=["test.bin"], label_bytes=2,
                     classes=100),
}


def _exists(f):
    return os.path.exists(f) or os.path.exists(f + ".gz")


def resolve_cifar_dir(d: str, which: str) -> str:
    L = _CIFAR[which]
    if not os.path.exists(d):
        raise DataError(f"{L['label']} folder does not exist", d)
    if _exists(os.path.join(d, L["test"][0])):
        return d
    if _exists(os.path.join(d, L["sub"], L["test"][0])):
        return os.path.join(d, L["sub"])
    raise DataError(f"not a {L['label']} binary-version folder", d)


def read_cifar_split(d: str, which: str, split: str) -> RawSplit:
    L = _CIFAR[which]
    P = 32 * 32 * 3
    rec = L["label_bytes"] + P
    imgs, labels = [], []
    for f in [os.path.join(d, x) for x in L[split]]:
        if not _exists(f):
            raise DataError(f"missing {L['label']} file {os.path.basename(f)}", d)
        file = f if os.path.exists(f) else f + ".gz"
        buf = read_maybe_gz(file)
        if len(buf) == 0 or len(buf) % rec:
            raise DataError(f"size {len(buf)} bytes is not a positive multiple of the {rec}-byte record", file)
        t = torch.frombuffer(bytearray(buf), dtype=torch.uint8).view(-1, rec)
        lab = t[:, L["label_bytes"] - 1].tolist()
        bad = [r for r, l in enumerate(lab) if l >= L["classes"]]
        if L["label_bytes"] == 2:
            bad += [r for r, cz in enumerate(t[:, 0].tolist()) if cz >= 20]
        if bad:
            raise DataError(f"record {min(bad)}: label out of range", file)
        labels += lab
        imgs.append(t[:, L["label_bytes"]:])
    images = torch.cat(imgs).contiguous()
    return RawSplit(images, labels, len(labels), [32, 32, 3], True)


FASHION_PIXELS = 784


def _parse_clothes(buf: bytes, file: str):
    # The package's files are {"data": [[784 ints], ...]}: json is exact for these integer arrays.
    try:
        rows = json.loads(buf)["data"]
    except Exception as e:  # noqa: BLE001
        raise DataError(f"unexpected Fashion-MNIST JSON ({e})", file)
    out = []
    for r in rows:
        if len(r) == 0:
            continue
        if len(r) != FASHION_PIXELS:
            raise DataError(f"row has {len(r)} values, expected {FASHION_PIXELS}", file)
        out.append(r)
    return out


def fashion_mnist_dir(override: str | None) -> str:
    if override:
        for cand in (os.path.join(override, "src", "clothes"), os.path.join(override, "clothes"), override):
            if os.path.exists(os.path.join(cand, "0.json")):
                return cand
        raise DataError("no Fashion-MNIST JSON files (0.json … 9.json) here or in src/clothes/", override)
    raise DataError("dataset fashion-mnist: the engine needs the fashion-mnist package folder (config _engine.fashionMnistDir)")


def read_fashion_package(override: str | None):
    d = fashion_mnist_dir(override)
    parts = {"train": [], "test": []}
    for c in range(10):
        f = os.path.join(d, f"{c}.json")
        rows = _parse_clothes(read_maybe_gz(f), f)
        if not rows:
            raise DataError("no images", f)
        for j, r in enumerate(rows):
            parts["test" if j % 7 == 6 else "train"].append((r, c))

    def build(lst, stream):
        order = Rng(0, "fashion-mnist-order", stream).permutation(len(lst))
        flat = []
        labels = []
        for i in order:
            r, c = lst[i]
            flat.extend(r)
            labels.append(c)
        images = torch.tensor(flat, dtype=torch.uint8).view(len(lst), FASHION_PIXELS)
        return RawSplit(images, labels, len(lst), [28, 28, 1], False)

    return build(parts["train"], "train"), build(parts["test"], "test"), d


def pick_subset(available: int, size, field: str, rng: Rng, what: str) -> list:
    k = available if size is None else size
    if not isinstance(k, int) or k < 1:
        raise DataError(f"{field}: got {k}; expected a positive integer")
    if k > available:
        raise DataError(f"{field}: got {k}; only {available} examples available in {what}")
    if k == available:
        return list(range(k))
    return rng.sample(k, available)


class Split:
    def __init__(self, x: torch.Tensor, y: torch.Tensor, indices: list):
        self.x = x  # float32 [n, h, w, c]
        self.y = y  # int64 [n]
        self.n = int(y.shape[0])
        self.indices = indices


def gather(raw: RawSplit, indices: list) -> Split:
    h, w, c = raw.shape
    idx = torch.tensor(indices, dtype=torch.long)
    b = raw.images.index_select(0, idx).long()
    x = _LUT[b]
    if raw.chw and c > 1:
        x = x.view(-1, c, h, w).permute(0, 2, 3, 1).contiguous()
    x = x.view(-1, h, w, c)
    labels = torch.tensor(raw.labels, dtype=torch.long).index_select(0, idx)
    return Split(x, labels, list(indices))


class Dataset:
    def __init__(self, name, source, train: Split, test: Split, input_shape, num_classes, available):
        self.name = name
        self.source = source
        self.train = train
        self.test = test
        self.input_shape = list(input_shape)
        self.num_classes = num_classes
        self.available = available


def synthetic_means(shape, classes, seed):
    d = shape[0] * shape[1] * shape[2]
    sigma = 0.15
    m = (2.5 * 2 * sigma) / math.sqrt(2 * d)
    rng = Rng(seed, "synthetic-means")
    vals = [0.5 + m * rng.normal() for _ in range(classes * d)]
    return torch.tensor(vals, dtype=torch.float64).to(torch.float32).tolist()  # float32-rounded, as Float32Array


def synthetic_split(shape, classes, seed, n, stream):
    d = shape[0] * shape[1] * shape[2]
    mu = synthetic_means(shape, classes, seed)
    rng = Rng(seed, "synthetic", stream)
    y = rng.shuffle([i % classes for i in range(n)])
    x = [0.0] * (n * d)
    for i in range(n):
        base = y[i] * d
        for p in range(d):
            v = mu[base + p] + 0.15 * rng.normal()
            x[i * d + p] = 0.0 if v < 0 else 1.0 if v > 1 else v
    xt = torch.tensor(x, dtype=torch.float64).to(torch.float32).view(n, *shape)
    return xt, torch.tensor(y, dtype=torch.long)


def load_dataset(cfg: dict, seed: int = 0, base_dir: str | None = None, mnist_dir: str | None = None,
                 fashion_dir: str | None = None) -> Dataset:
    name = cfg["name"]
    d = os.path.join(base_dir or os.getcwd(), cfg["path"]) if cfg.get("path") else None
    if name == "synthetic":
        shape = list(cfg.get("syntheticShape") or [8, 8, 1])
        classes = cfg.get("syntheticClasses") or 10
        trx, tr_y = synthetic_split(shape, classes, seed, cfg["trainSize"], "train")
        tex, te_y = synthetic_split(shape, classes, seed, cfg["testSize"], "test")
        return Dataset(name, f"synthetic (seed {seed})", Split(trx, tr_y, list(range(cfg["trainSize"]))),
                       Split(tex, te_y, list(range(cfg["testSize"]))), shape, classes,
                       {"train": cfg["trainSize"], "test": cfg["testSize"]})
    if name in ("cifar10", "cifar100"):
        if not d:
            raise DataError(f'dataset.path: required for dataset.name "{name}" (the binary-version folder)')
        dd = resolve_cifar_dir(d, name)
        train = read_cifar_split(dd, name, "train")
        test = read_cifar_split(dd, name, "test")
        source = dd
        num_classes = 10 if name == "cifar10" else 100
    elif name == "fashion-mnist" and not d:
        train, test, source = read_fashion_package(fashion_dir)
        num_classes = 10
    else:
        if name == "idx":
            if not d:
                raise DataError('dataset.path: required for dataset.name "idx" (a folder of IDX files)')
            dd = d
        else:
            dd = d or mnist_dir or os.environ.get("FISHER_LENS_MNIST_DIR")
            if not dd:
                raise DataError('dataset "mnist": no MNIST folder given (config _engine.mnistDir, FISHER_LENS_MNIST_DIR or dataset.path)')
        train = read_idx_split(dd, "train")
        test = read_idx_split(dd, "test")
        source = dd
        if train.shape != test.shape:
            raise DataError(f"test images are {test.shape} but training images are {train.shape}", test.files[0])
        mx = max(max(train.labels), max(test.labels))
        if name == "idx":
            num_classes = max(2, mx + 1)
        else:
            num_classes = 10
            if mx >= 10:
                raise DataError(f"label {mx} out of range for {name} (expected 0..9)")
    tr_idx = pick_subset(train.n, cfg.get("trainSize"), "dataset.trainSize", Rng(seed, "train-subset"),
                         f"the {name} training set ({source})")
    te_idx = pick_subset(test.n, cfg.get("testSize"), "dataset.testSize", Rng(seed, "test-subset"),
                         f"the {name} test set ({source})")
    return Dataset(name, source, gather(train, tr_idx), gather(test, te_idx), train.shape, num_classes,
                   {"train": train.n, "test": test.n})


def apply_label_noise(y: list, num_classes: int, fraction: float, seed, force_change: bool = False):
    if not (0 <= fraction <= 1):
        raise ValueError(f"labelNoise.fraction: got {fraction}; expected a number in [0, 1]")
    n = len(y)
    out = list(y)
    mask = [0] * n
    k = js_round(fraction * n)
    rng = Rng(seed, "label-noise")
    chosen = rng.sample(k, n)
    changed = 0
    for i in chosen:
        if force_change:
            label = rng.int(num_classes - 1)
            if label >= y[i]:
                label += 1
        else:
            label = rng.int(num_classes)
        out[i] = label
        if label != y[i]:
            mask[i] = 1
            changed += 1
    return out, mask, changed, k


def tracked_subsets(mask: list, size: int, seed):
    clean = [i for i, m in enumerate(mask) if not m]
    noisy = [i for i, m in enumerate(mask) if m]

    def pick(pool, stream):
        idx = Rng(seed, "tracked", stream).sample(min(size, len(pool)), len(pool))
        return [pool[j] for j in idx]

    return pick(clean, "clean"), pick(noisy, "noisy")


def js_round(x: float) -> int:
    """JavaScript Math.round: the nearest integer, halves toward +∞."""
    f = math.floor(x)
    return int(f + 1) if x - f >= 0.5 else int(f)


class BatchIterator:
    """Per-epoch permutation Rng(seed, 'epoch-order', e), fixed batch size, last partial batch dropped."""

    def __init__(self, n: int, batch_size: int, seed: int):
        if batch_size > n:
            raise ValueError(f"batch size {batch_size} exceeds the {n} training examples")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.steps_per_epoch = n // batch_size
        self.step = 0
        self._epoch = -1
        self._perm = []
        self._ahead = None

    def _order(self, e: int) -> list:
        return Rng(self.seed, "epoch-order", e).permutation(self.n)

    def epoch_order(self, e: int) -> list:
        if e != self._epoch:
            ahead = self._ahead
            if ahead is not None and ahead[0] == e:
                ahead[1].join()
                self._perm = ahead[2][0] if ahead[2][0] is not None else self._order(e)
            else:
                self._perm = self._order(e)
            self._epoch = e
            # the next epoch's order, drawn on a thread while this epoch trains: a pure-Python shuffle of
            # 60,000 indices takes ~0.1 s, which torch's kernels (they release the GIL) hide
            box: list = [None]
            th = threading.Thread(target=lambda: box.__setitem__(0, self._order(e + 1)), daemon=True)
            self._ahead = (e + 1, th, box)
            th.start()
        return self._perm

    def batch_at(self, step: int) -> list:
        e = step // self.steps_per_epoch
        b = step - e * self.steps_per_epoch
        return self.epoch_order(e)[b * self.batch_size:(b + 1) * self.batch_size]

    def next(self) -> list:
        s = self.step
        self.step += 1
        return self.batch_at(s)
