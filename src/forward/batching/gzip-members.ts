import { constants, createGzip, type Gzip, type ZlibReset } from "node:zlib";

/**
 * Called with the gzip member of an input, or with the error that stopped it; with neither when the input was no
 * longer wanted at its turn (it was skipped, never gzipped).
 */
export type GzipDone = (err: Error | null, member: Buffer | undefined) => void;

interface Job {
  input: Buffer;
  done: GzipDone;
  wanted: () => boolean;
}

/** Skipped jobs at the queue's front past which the queue is compacted. */
const COMPACT_AFTER = 1024;

/**
 * Gzips buffers one after the other on libuv's thread pool, each into a complete gzip member, through one zlib
 * stream reset between members. `zlib.gzip()` builds a stream and a deflate state for every call: about 0.1 ms of
 * the caller's time per frame, and 256 KiB of native memory allocated and freed again. Members come out in the
 * order their inputs went in, with the same bytes as `zlib.gzip()` at the same level.
 */
export class GzipMembers {
  readonly #level: number;
  #stream: Gzip | undefined;
  /** Jobs waiting, from `#head` on (an index, not `shift()`: tens of thousands can wait under dropOldest). */
  #jobs: Job[] = [];
  #head = 0;
  #current: Job | undefined;
  #chunks: Buffer[] = [];
  #bytes = 0;
  readonly #collect = (chunk: Buffer): void => {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
  };

  /** `level`: the gzip level, 1 (fastest) to 9 (smallest). */
  constructor(level: number) {
    this.#level = level;
  }

  /**
   * Gzips `input` (left untouched until `done` is called) after the inputs given before it. `wanted` is asked
   * when its turn comes: false skips it (`done(null, undefined)`), so a frame dropped meanwhile (dropOldest) costs
   * no gzip time and never holds up the frames behind it.
   */
  compress(input: Buffer, done: GzipDone, wanted: () => boolean = () => true): void {
    this.#jobs.push({ input, done, wanted });
    if (this.#current === undefined) this.#next();
  }

  #take(): Job | undefined {
    for (;;) {
      const job = this.#jobs[this.#head];
      if (job === undefined) {
        this.#jobs = [];
        this.#head = 0;
        return undefined;
      }
      this.#jobs[this.#head++] = undefined as unknown as Job;
      if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#jobs.length) {
        this.#jobs = this.#jobs.slice(this.#head);
        this.#head = 0;
      }
      if (job.wanted()) return job;
      job.done(null, undefined);
    }
  }

  #next(): void {
    const job = this.#take();
    this.#current = job;
    if (job === undefined) return;
    const stream = this.#open();
    stream.write(job.input);
    // Z_FINISH ends the member (deflate's last block and the gzip trailer) without ending the stream.
    stream.flush(constants.Z_FINISH, () => {
      if (this.#current === job && this.#stream === stream) this.#finish(job, null);
    });
  }

  #open(): Gzip {
    if (this.#stream !== undefined) return this.#stream;
    const stream = createGzip({ level: this.#level });
    stream.on("data", this.#collect);
    stream.on("error", (err) => {
      if (this.#stream !== stream) return;
      // A stream that failed is not reused: the next member gets a new one.
      this.#stream = undefined;
      if (this.#current !== undefined) this.#finish(this.#current, err);
    });
    this.#stream = stream;
    return stream;
  }

  #finish(job: Job, err: Error | null): void {
    const member = err ? undefined : Buffer.concat(this.#chunks, this.#bytes);
    this.#chunks = [];
    this.#bytes = 0;
    if (!err) (this.#stream as Gzip & ZlibReset).reset();
    this.#current = undefined;
    job.done(err, member);
    this.#next();
  }
}
