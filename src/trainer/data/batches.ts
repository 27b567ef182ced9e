/**
 * Mini-batch order: a fresh seeded permutation of the training set each epoch, fixed batch size, the last
 * partial batch dropped. Epoch e's order depends only on (seed, e), so any step's batch can be recomputed
 * (e.g. when resuming) without replaying the earlier epochs. Yields index arrays; the trainer gathers.
 */
import { Rng } from '../../shared/rng';

export class BatchIterator {
  readonly stepsPerEpoch: number;
  /** Next step {@link next} returns. */
  step = 0;
  private epoch = -1;
  private perm: Int32Array = new Int32Array(0);

  constructor(
    readonly n: number,
    readonly batchSize: number,
    readonly seed: number,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
    if (batchSize > n)
      throw new RangeError(`batch size ${batchSize} exceeds the ${n} training examples`);
    this.stepsPerEpoch = Math.floor(n / batchSize);
  }

  /** The example order of epoch `e`. */
  epochOrder(e: number): Int32Array {
    if (e !== this.epoch) {
      this.perm = new Rng(this.seed, 'epoch-order', e).permutation(this.n);
      this.epoch = e;
    }
    return this.perm;
  }

  /** Indices of the batch of a given step (a fresh array). */
  batchAt(step: number): Int32Array {
    const e = Math.floor(step / this.stepsPerEpoch);
    const b = step - e * this.stepsPerEpoch;
    return this.epochOrder(e).slice(b * this.batchSize, (b + 1) * this.batchSize);
  }

  /** Indices of the next batch; advances {@link step}. */
  next(): Int32Array {
    return this.batchAt(this.step++);
  }

  /** Fractional epoch of the next step. */
  get epochFloat(): number {
    return this.step / this.stepsPerEpoch;
  }
}
