/**
 * Seeded pseudo-random numbers for everything that must be reproducible: data order, subsets, label noise,
 * probe set, label sampling. xoshiro128** (32-bit state words, period 2^128 − 1) seeded through splitmix32,
 * so nearby seeds give unrelated streams. Pure, no dependencies, identical in Node and the browser.
 *
 * Independent streams: `new Rng(seed, 'data-order')` and `new Rng(seed, 'label-noise')` never share a
 * sequence, so adding a consumer of randomness does not shift the numbers every other consumer sees.
 */

/** splitmix32 step: returns [output, next state]. */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [z >>> 0, s];
}

/** FNV-1a over a string, for stream labels. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Mix a seed (any finite number; integers beyond 2^32 use their high bits too) and optional stream labels
 * into one 32-bit seed.
 */
export function deriveSeed(seed: number, ...streams: (string | number)[]): number {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  const lo = seed >>> 0;
  const hi = Math.floor(Math.abs(seed) / 4294967296) >>> 0;
  let [h, st] = splitmix32(lo ^ 0x3c6ef372);
  [h, st] = splitmix32((st ^ hi ^ h) | 0);
  for (const s of streams) {
    const v = typeof s === 'number' ? s >>> 0 : hashString(s);
    [h, st] = splitmix32((st ^ v ^ Math.imul(h, 0x27d4eb2d)) | 0);
  }
  return h;
}

/** A seeded generator (xoshiro128**). Not cryptographic. */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare: number | null = null;

  /** `stream` selects an independent sequence for the same seed (e.g. `'probe-set'`). */
  constructor(seed: number, ...stream: (string | number)[]) {
    let st = deriveSeed(seed, ...stream);
    const w: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [z, next] = splitmix32(st);
      w.push(z | 0);
      st = next;
    }
    [this.s0, this.s1, this.s2, this.s3] = w;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** Next raw 32-bit unsigned integer. */
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9);
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result >>> 0;
  }

  /** Uniform float in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling); 1 ≤ n ≤ 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296)
      throw new RangeError(`int(n): n must be an integer in [1, 2^32], got ${n}`);
    if (n === 1) return 0;
    // Reject the top partial bucket so every residue is equally likely.
    const limit = 4294967296 - (4294967296 % n);
    let x = this.uint32();
    while (x >= limit) x = this.uint32();
    return x % n;
  }

  /** Standard normal sample (Box–Muller, the second value cached), scaled to `mean`, `std`. */
  normal(mean = 0, std = 1): number {
    let z: number;
    if (this.spare !== null) {
      z = this.spare;
      this.spare = null;
    } else {
      let u = 0;
      while (u === 0) u = this.next();
      const v = this.next();
      const r = Math.sqrt(-2 * Math.log(u));
      z = r * Math.cos(2 * Math.PI * v);
      this.spare = r * Math.sin(2 * Math.PI * v);
    }
    return mean + std * z;
  }

  /** `n` standard normals scaled by `std`, as float32 (e.g. parameter initialisation, Gaussian probes). */
  normalArray(n: number, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal(0, std);
    return out;
  }

  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /**
   * `k` distinct indices from [0, n), without replacement, sorted ascending (a subset, not an ordering;
   * shuffle the result if order matters). Floyd's algorithm for small k, partial Fisher–Yates otherwise.
   */
  sample(k: number, n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0)
      throw new RangeError(`sample(k, n): n must be a non-negative integer, got ${n}`);
    if (!Number.isInteger(k) || k < 0 || k > n)
      throw new RangeError(`sample(k, n): k must be an integer in [0, ${n}], got ${k}`);
    let out: Int32Array;
    if (k * 8 < n) {
      const chosen = new Set<number>();
      for (let j = n - k; j < n; j++) {
        const t = this.int(j + 1);
        chosen.add(chosen.has(t) ? j : t);
      }
      out = Int32Array.from(chosen);
    } else {
      const p = new Int32Array(n);
      for (let i = 0; i < n; i++) p[i] = i;
      for (let i = 0; i < k; i++) {
        const j = i + this.int(n - i);
        const tmp = p[i];
        p[i] = p[j];
        p[j] = tmp;
      }
      out = p.slice(0, k);
    }
    return out.sort();
  }

  /** An independent generator derived from this one's current state and a label (advances this one). */
  fork(label: string | number = 0): Rng {
    return new Rng(this.uint32() * 4294967296 + this.uint32(), label);
  }

  /** The full state, for checkpoints. */
  getState(): [number, number, number, number] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  /** Restore a state from {@link getState}. */
  setState(s: readonly [number, number, number, number]): void {
    [this.s0, this.s1, this.s2, this.s3] = s.map((x) => x | 0);
    this.spare = null;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
