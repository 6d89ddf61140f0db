// What the object-store FileWriters (S3, GCS, Azure) share: the buffer that collects written bytes into
// `chunksize` pieces (parts, chunks, blocks), the writer's open/closing/closed/committed/cancelled state with
// its error, and the error of a session whose base changed under it. How a piece is sent and how a session is
// published stays with each writer.
import { StorageDriverError } from './driver.ts';

const initialBufferSize = 64 * 1024;

/** Collects bytes up to one chunk; it starts small and grows, so small writers never hold a whole chunk. */
export class ChunkBuffer {
  private readonly chunkSize: number;
  private buffer: Buffer = Buffer.alloc(0);
  private buffered = 0;
  /**
   * Whole chunks already sent, given back for the next ones. A fresh `chunksize` Buffer per part is external
   * memory that V8 adds to the old generation when it checks its limit: every part or two of a push started a
   * mark-compact, and the sent parts waited for one to be freed.
   */
  private readonly spare: Buffer[] = [];

  constructor(chunkSize: number) {
    this.chunkSize = chunkSize;
  }

  /** Bytes buffered. */
  get length(): number {
    return this.buffered;
  }

  /** Bytes the current chunk still takes. */
  get room(): number {
    return this.chunkSize - this.buffered;
  }

  get full(): boolean {
    return this.buffered === this.chunkSize;
  }

  /** Copies as much of chunk (from offset) as the current chunk takes; returns how many bytes that was. */
  fill(chunk: Uint8Array, offset = 0): number {
    const n = Math.min(chunk.byteLength - offset, this.room);
    this.reserve(this.buffered + n);
    this.buffer.set(chunk.subarray(offset, offset + n), this.buffered);
    this.buffered += n;
    return n;
  }

  /** The buffered bytes, left in place. */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.buffered);
  }

  /**
   * Hands over the buffered bytes and empties the buffer. The caller keeps those bytes until they are sent,
   * so the next chunk gets fresh memory: a whole chunk at once, or none when this was the last.
   */
  take(last: boolean): Buffer {
    const bytes = this.bytes();
    this.buffer = last ? Buffer.alloc(0) : (this.spare.pop() ?? Buffer.allocUnsafe(this.chunkSize));
    this.buffered = 0;
    return bytes;
  }

  /**
   * Gives back what `take` handed over, once nothing reads it any more (its upload succeeded), so a later
   * chunk fills the same memory. Only a whole chunk is kept; anything else is left to the garbage collector.
   */
  reuse(sent: Buffer): void {
    if (sent.byteOffset !== 0 || sent.byteLength !== this.chunkSize) return;
    if (sent.buffer.byteLength !== this.chunkSize || this.spare.some((b) => b.buffer === sent.buffer)) return;
    this.spare.push(sent);
  }

  /** Drops the buffered bytes and their memory. */
  release(): void {
    this.buffer = Buffer.alloc(0);
    this.buffered = 0;
    this.spare.length = 0;
  }

  private reserve(bytes: number): void {
    if (this.buffer.byteLength >= bytes) return;
    const size = Math.min(this.chunkSize, Math.max(bytes, this.buffer.byteLength * 2, initialBufferSize));
    const grown = Buffer.allocUnsafe(size);
    this.buffer.copy(grown, 0, 0, this.buffered);
    this.buffer = grown;
  }
}

type State = 'open' | 'closing' | 'closed' | 'committed' | 'cancelled';

/** Where a writer is in its life; a call the state does not allow fails with `writer is <state>`. */
export class WriterState {
  private readonly driver: string;
  private readonly path: string;
  private state: State = 'open';

  constructor(driver: string, path: string) {
    this.driver = driver;
    this.path = path;
  }

  assertOpen(): void {
    if (this.state !== 'open') throw this.error();
  }

  /** close() or commit() starts: the writer must be open. */
  beginFinish(): void {
    this.assertOpen();
    this.state = 'closing';
  }

  /** close() or commit() is over, whether or not it published. */
  endFinish(next: 'closed' | 'committed'): void {
    this.state = next;
  }

  /** cancel() starts: false when the writer is already cancelled; a committed writer cannot be cancelled. */
  beginCancel(): boolean {
    if (this.state === 'committed') throw this.error();
    if (this.state === 'cancelled') return false;
    this.state = 'cancelled';
    return true;
  }

  private error(): StorageDriverError {
    return new StorageDriverError(this.driver, this.path, `writer is ${this.state}`);
  }
}

/** The error of an appending session whose base (the object or blob seen at open) changed under it. */
export function changedWhileAppending(
  driver: string,
  path: string,
  what: 'object' | 'blob',
  cause: unknown,
): StorageDriverError {
  return new StorageDriverError(driver, path, `the ${what} changed while a writer was appending to it`, {
    cause,
  });
}
