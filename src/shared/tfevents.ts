/**
 * TensorBoard event files (`events.out.tfevents.*`) with scalar summaries, written by hand: TFRecord framing
 * (length, masked CRC32C of the length, data, masked CRC32C of the data) around `tensorflow.Event` protobufs
 * holding `Summary.Value.simple_value` scalars. A reader for the same subset is included so tests (and users)
 * can check a file. No dependencies, no vscode.
 *
 * Protobuf fields used (tensorflow/core/util/event.proto, framework/summary.proto):
 *   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
 *   Summary { repeated Value value = 1; }   Value { string tag = 1; float simple_value = 2; }
 */

// ------------------------------------------------------------------------------------------------ CRC32C

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli) of `data`. */
export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC32C_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 and add a constant. */
export function maskedCrc32c(data: Uint8Array): number {
  const c = crc32c(data);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

// ----------------------------------------------------------------------------------------------- protobuf

class ProtoWriter {
  private bytes: number[] = [];
  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.bytes.push(Number((x & 0x7fn) | 0x80n));
      x >>= 7n;
    }
    this.bytes.push(Number(x));
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  double(field: number, v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.tag(field, 1).bytes.push(...b);
    return this;
  }
  float(field: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.tag(field, 5).bytes.push(...b);
    return this;
  }
  int64(field: number, v: number): this {
    return this.tag(field, 0).varint(Math.trunc(v));
  }
  bytesField(field: number, data: Uint8Array): this {
    this.tag(field, 2).varint(data.length);
    for (let i = 0; i < data.length; i++) this.bytes.push(data[i]);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytesField(field, new TextEncoder().encode(s));
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** A scalar for TensorBoard. */
export interface Scalar {
  tag: string;
  value: number;
}

/** An `Event` protobuf: the file-version record when `fileVersion` is given, else scalars. */
export function encodeEvent(e: {
  wallTime: number;
  step: number;
  fileVersion?: string;
  scalars?: readonly Scalar[];
}): Uint8Array {
  const w = new ProtoWriter().double(1, e.wallTime);
  if (e.step) w.int64(2, e.step);
  if (e.fileVersion !== undefined) w.string(3, e.fileVersion);
  if (e.scalars?.length) {
    const summary = new ProtoWriter();
    for (const s of e.scalars)
      summary.bytesField(1, new ProtoWriter().string(1, s.tag).float(2, s.value).finish());
    w.bytesField(5, summary.finish());
  }
  return w.finish();
}

/** One TFRecord: u64 length, masked CRC of the length, data, masked CRC of the data (little endian). */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length + 4);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(data.length), true);
  dv.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  dv.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** A scalar at a step (wall time in seconds since the Unix epoch). */
export interface ScalarPoint {
  tag: string;
  step: number;
  wallTime: number;
  value: number;
}

/**
 * A whole event file: the `brain.Event:2` version record, then one event per (step, wall time) with all of
 * its scalars. Non-finite values are skipped.
 */
export function encodeEventFile(
  points: readonly ScalarPoint[],
  startWallTime?: number,
): Uint8Array {
  const groups = new Map<string, { step: number; wallTime: number; scalars: Scalar[] }>();
  for (const p of points) {
    if (!Number.isFinite(p.value)) continue;
    const key = `${p.step}|${p.wallTime}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { step: p.step, wallTime: p.wallTime, scalars: [] }));
    g.scalars.push({ tag: p.tag, value: p.value });
  }
  const t0 =
    startWallTime ??
    (points.length ? Math.min(...points.map((p) => p.wallTime)) : Date.now() / 1000);
  const records = [
    frameRecord(encodeEvent({ wallTime: t0, step: 0, fileVersion: 'brain.Event:2' })),
  ];
  const sorted = [...groups.values()].sort((a, b) => a.step - b.step || a.wallTime - b.wallTime);
  for (const g of sorted) records.push(frameRecord(encodeEvent(g)));
  const out = new Uint8Array(records.reduce((n, r) => n + r.length, 0));
  let off = 0;
  for (const r of records) {
    out.set(r, off);
    off += r.length;
  }
  return out;
}

/** The conventional file name `events.out.tfevents.<seconds>.<host>`. */
export const eventFileName = (wallTimeSec: number, host: string): string =>
  `events.out.tfevents.${Math.floor(wallTimeSec)}.${host.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64) || 'localhost'}`;

// ----------------------------------------------------------------------------------------------- reading

/** A decoded event (the subset this module writes). */
export interface DecodedEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  scalars: Scalar[];
}

/** Split a file into records, checking both CRCs of each; throws on a bad CRC or a truncated record. */
export function readRecords(buf: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  while (off < buf.length) {
    if (off + 12 > buf.length) throw new Error(`truncated record header at byte ${off}`);
    const len = Number(dv.getBigUint64(off, true));
    if (dv.getUint32(off + 8, true) !== maskedCrc32c(buf.subarray(off, off + 8)))
      throw new Error(`bad length CRC at byte ${off}`);
    const end = off + 12 + len;
    if (end + 4 > buf.length) throw new Error(`truncated record at byte ${off}`);
    const data = buf.subarray(off + 12, end);
    if (dv.getUint32(end, true) !== maskedCrc32c(data))
      throw new Error(`bad data CRC at byte ${off}`);
    out.push(data);
    off = end + 4;
  }
  return out;
}

class ProtoReader {
  private off = 0;
  private dv: DataView;
  constructor(private buf: Uint8Array) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  done(): boolean {
    return this.off >= this.buf.length;
  }
  varint(): bigint {
    let x = 0n;
    let shift = 0n;
    for (;;) {
      if (this.off >= this.buf.length) throw new Error('truncated varint');
      const b = this.buf[this.off++];
      x |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return x;
      shift += 7n;
    }
  }
  fixed64(): number {
    const v = this.dv.getFloat64(this.off, true);
    this.off += 8;
    return v;
  }
  fixed32(): number {
    const v = this.dv.getFloat32(this.off, true);
    this.off += 4;
    return v;
  }
  bytes(): Uint8Array {
    const n = Number(this.varint());
    const b = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return b;
  }
  skip(wire: number) {
    if (wire === 0) this.varint();
    else if (wire === 1) this.off += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.off += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

/** Decode an `Event` protobuf (wall time, step, file version, simple-value scalars). */
export function decodeEvent(data: Uint8Array): DecodedEvent {
  const r = new ProtoReader(data);
  const e: DecodedEvent = { wallTime: 0, step: 0, scalars: [] };
  while (!r.done()) {
    const key = Number(r.varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (field === 1 && wire === 1) e.wallTime = r.fixed64();
    else if (field === 2 && wire === 0) e.step = Number(BigInt.asIntN(64, r.varint()));
    else if (field === 3 && wire === 2) e.fileVersion = new TextDecoder().decode(r.bytes());
    else if (field === 5 && wire === 2) {
      const s = new ProtoReader(r.bytes());
      while (!s.done()) {
        const k = Number(s.varint());
        if (k >>> 3 === 1 && (k & 7) === 2) {
          const v = new ProtoReader(s.bytes());
          const sc: Scalar = { tag: '', value: NaN };
          while (!v.done()) {
            const kk = Number(v.varint());
            if (kk >>> 3 === 1 && (kk & 7) === 2) sc.tag = new TextDecoder().decode(v.bytes());
            else if (kk >>> 3 === 2 && (kk & 7) === 5) sc.value = v.fixed32();
            else v.skip(kk & 7);
          }
          e.scalars.push(sc);
        } else s.skip(k & 7);
      }
    } else r.skip(wire);
  }
  return e;
}

/** Decode a whole event file (CRCs checked). */
export const decodeEventFile = (buf: Uint8Array): DecodedEvent[] =>
  readRecords(buf).map(decodeEvent);
