"""(a) The RNG port is bit-exact: sequences, deriveSeed, int, normals, shuffles, samples, label noise, batches, data."""
import math
import struct

import torch

from fisher_lens_engine.rng import Rng, derive_seed
from fisher_lens_engine import data as D


def f32(v):
    return struct.unpack("f", struct.pack("f", v))[0]


def test_known_values_without_node():
    # Produced by src/shared/rng.ts (node --import tsx), so this part runs without Node too.
    r = Rng(0)
    assert [r.uint32() for _ in range(5)] == [2184376314, 3363837392, 3192990082, 2121091195, 624179714]
    assert derive_seed(0, "fisher", 10) == 527830848
    assert derive_seed(2 ** 40 + 5, "x", 3) == 2055232875


def test_streams(ts_rng):
    for d in ts_rng["derive"]:
        assert derive_seed(d["seed"], *d["streams"]) == d["v"], d
    seeds = [0, 1, 42, 4294967295, 4294967296, 2 ** 40 + 5, 9007199254740991, 123456789.75]
    for s, ref in zip(seeds, ts_rng["uint32"]):
        g = Rng(s, "data-order")
        assert [g.uint32() for _ in range(40)] == ref, s
    g = Rng(9)
    assert [g.next() for _ in range(20)] == ts_rng["next"]
    g = Rng(4)
    assert [[g.int(n) for _ in range(10)] for n in [1, 2, 3, 7, 10, 1000, 2 ** 31 + 1, 4294967296]] == ts_rng["int"]
    g = Rng(6)
    f = g.fork("child")
    assert [f.uint32(), f.uint32(), g.uint32()] == ts_rng["fork"]


def test_normals(ts_rng):
    g = Rng(5, "n")
    ours = [g.normal(0.5, 2) for _ in range(41)]
    # doubles: equal up to the last bit of log/cos/sin (V8's fdlibm port vs the C library): a few ulp after 0.5 + 2·z
    assert all(abs(a - b) <= 4 * math.ulp(b) for a, b in zip(ours, ts_rng["normal"]))
    assert sum(a == b for a, b in zip(ours, ts_rng["normal"])) >= 30
    ours = [f32(v) for v in Rng(derive_seed(3, 0)).normal_list(1000, 0.05)]
    assert ours == ts_rng["normalArray"]


def test_shuffles_and_samples(ts_rng):
    assert Rng(1, "p").permutation(50) == ts_rng["permutation"]
    assert Rng(2, "s").shuffle([i * 3 for i in range(30)]) == ts_rng["shuffle"]
    for s in ts_rng["sample"]:
        assert Rng(8, "sample", s["k"]).sample(s["k"], s["n"]) == s["v"], (s["k"], s["n"])


def test_label_noise_tracking_batches(ts_rng):
    labels = [(i * 7) % 10 for i in range(500)]
    for ref in ts_rng["labelNoise"]:
        y, mask, changed, _ = D.apply_label_noise(labels, 10, 0.25, 3, ref["forceChange"])
        clean, noisy = D.tracked_subsets(mask, 40, 4)
        assert y == ref["y"] and changed == ref["noisyCount"]
        assert clean == ref["clean"] and noisy == ref["noisy"]
    bi = D.BatchIterator(100, 16, derive_seed(3, "batches"))
    assert [bi.next() for _ in range(14)] == ts_rng["batches"]


def test_datasets(ts_rng, mnist_dir):
    syn = ts_rng["synthetic"]
    ds = D.load_dataset({"name": "synthetic", "trainSize": 20, "testSize": 10, "syntheticShape": [4, 3, 2],
                         "syntheticClasses": 3}, seed=5)
    assert ds.train.x.reshape(-1).tolist() == syn["x"] and ds.train.y.tolist() == syn["y"]
    assert ds.test.x.reshape(-1).tolist() == syn["tx"] and ds.test.y.tolist() == syn["ty"]
    m = ts_rng["mnist"]
    ds = D.load_dataset({"name": "mnist", "trainSize": 300, "testSize": 100}, seed=9, mnist_dir=mnist_dir)
    assert ds.train.indices == m["trainIdx"] and ds.test.indices == m["testIdx"]
    assert ds.train.y.tolist() == m["y"]
    assert ds.train.x[:5].reshape(-1).tolist() == m["x5"]  # bit-identical float32 pixels


def test_js_round():
    assert [D.js_round(v) for v in (2.5, 3.5, -2.5, 9.6, 0.49999999999999994, 32 * 0.3)] == [3, 4, -2, 10, 0, 10]
