"""Bit-exact port of src/shared/rng.ts (xoshiro128** seeded through splitmix32, FNV-1a stream labels).

Every operation reproduces JavaScript's 32-bit integer semantics (``| 0``, ``>>> 0``, ``Math.imul``)
with masks, and the floating-point steps (``uint32 / 2**32``, Box-Muller with ``Math.log``,
``Math.cos``, ``Math.sin``, ``Math.sqrt``) in IEEE double as JavaScript does.
"""
from __future__ import annotations

import math

M32 = 0xFFFFFFFF
TWO32 = 4294967296


def _imul(a: int, b: int) -> int:
    """Math.imul, returned as an unsigned 32-bit value."""
    return (a * b) & M32


def _splitmix32(state: int):
    s = (state + 0x9E3779B9) & M32
    z = s
    z = _imul(z ^ (z >> 16), 0x85EBCA6B)
    z = _imul(z ^ (z >> 13), 0xC2B2AE35)
    z ^= z >> 16
    return z & M32, s


def hash_string(s: str) -> int:
    """FNV-1a over the string's UTF-16 code units (JavaScript charCodeAt)."""
    h = 0x811C9DC5
    data = s.encode("utf-16-le")
    for i in range(0, len(data), 2):
        h ^= data[i] | (data[i + 1] << 8)
        h = _imul(h, 0x01000193)
    return h


def to_uint32(x) -> int:
    """JavaScript ``x >>> 0`` (ToUint32) for a finite number."""
    if isinstance(x, float):
        if not math.isfinite(x):
            return 0
        x = int(x)  # truncation toward zero, as ToUint32
    return x & M32


def derive_seed(seed, *streams) -> int:
    """deriveSeed(seed, ...streams): a 32-bit seed from a seed and stream labels (strings or numbers)."""
    if isinstance(seed, float) and not math.isfinite(seed):
        raise ValueError(f"seed must be a finite number, got {seed}")
    lo = to_uint32(seed)
    hi = to_uint32(math.floor(abs(seed) / TWO32))
    h, st = _splitmix32(lo ^ 0x3C6EF372)
    h, st = _splitmix32(st ^ hi ^ h)
    for s in streams:
        v = hash_string(s) if isinstance(s, str) else to_uint32(s)
        h, st = _splitmix32(st ^ v ^ _imul(h, 0x27D4EB2D))
    return h


def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & M32


class Rng:
    """xoshiro128** as in rng.ts; ``Rng(seed, *stream)``."""

    __slots__ = ("s0", "s1", "s2", "s3", "spare")

    def __init__(self, seed, *stream):
        st = derive_seed(seed, *stream)
        w = []
        for _ in range(4):
            z, st = _splitmix32(st)
            w.append(z)
        self.s0, self.s1, self.s2, self.s3 = w
        if (self.s0 | self.s1 | self.s2 | self.s3) == 0:
            self.s0 = 1
        self.spare = None

    def uint32(self) -> int:
        s0, s1, s2, s3 = self.s0, self.s1, self.s2, self.s3
        result = (_rotl((s1 * 5) & M32, 7) * 9) & M32
        t = (s1 << 9) & M32
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 11) | (s3 >> 21)) & M32
        self.s0, self.s1, self.s2, self.s3 = s0, s1, s2, s3
        return result

    def next(self) -> float:
        return self.uint32() / TWO32

    def int(self, n: int) -> int:
        if not isinstance(n, int) or n < 1 or n > TWO32:
            raise ValueError(f"int(n): n must be an integer in [1, 2^32], got {n}")
        if n == 1:
            return 0
        limit = TWO32 - (TWO32 % n)
        x = self.uint32()
        while x >= limit:
            x = self.uint32()
        return x % n

    def normal(self, mean: float = 0.0, std: float = 1.0) -> float:
        if self.spare is not None:
            z = self.spare
            self.spare = None
        else:
            u = 0.0
            while u == 0.0:
                u = self.next()
            v = self.next()
            r = math.sqrt(-2 * math.log(u))
            a = 2 * math.pi * v
            z = r * math.cos(a)
            self.spare = r * math.sin(a)
        return mean + std * z

    def normal_list(self, n: int, std: float = 1.0) -> list:
        """``normalArray(n, std)`` as Python floats (doubles; round to float32 when storing)."""
        out = [0.0] * n
        normal = self.normal
        for i in range(n):
            out[i] = normal(0.0, std)
        return out

    def shuffle(self, a: list) -> list:
        for i in range(len(a) - 1, 0, -1):
            j = self.int(i + 1)
            a[i], a[j] = a[j], a[i]
        return a

    def permutation(self, n: int) -> list:
        return self.shuffle(list(range(n)))

    def sample(self, k: int, n: int) -> list:
        """k distinct indices from [0, n), sorted ascending (Floyd for small k, partial Fisher-Yates otherwise)."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"sample(k, n): n must be a non-negative integer, got {n}")
        if not isinstance(k, int) or k < 0 or k > n:
            raise ValueError(f"sample(k, n): k must be an integer in [0, {n}], got {k}")
        if k * 8 < n:
            chosen = set()
            for j in range(n - k, n):
                t = self.int(j + 1)
                chosen.add(j if t in chosen else t)
            out = list(chosen)
        else:
            p = list(range(n))
            for i in range(k):
                j = i + self.int(n - i)
                p[i], p[j] = p[j], p[i]
            out = p[:k]
        out.sort()
        return out

    def fork(self, label=0) -> "Rng":
        a = self.uint32()
        b = self.uint32()
        # JavaScript evaluates this in doubles: above 2^53 the sum rounds, and deriveSeed sees the rounded value
        return Rng(float(a) * TWO32 + float(b), label)

    def get_state(self):
        return [self.s0, self.s1, self.s2, self.s3]

    def set_state(self, s):
        self.s0, self.s1, self.s2, self.s3 = (int(x) & M32 for x in s)
        self.spare = None
