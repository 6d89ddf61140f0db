// Frees dead request-body chunks that could not be freed directly. The serving upload store frees each body
// chunk's memory once storage is done with it (registry/body-chunks.ts); a chunk that shares its memory (a view
// into Buffer's pool, say) cannot be freed that way, and its store returns only when a scavenge finds the
// Buffer dead. A streamed push allocates little else on the JS heap, so the 1 MiB new space
// (--max-semi-space-size=1) filled only every ~20 MiB of body: that much dead body was part of every push's peak
// RSS, and glibc kept much of it afterwards. A minor GC after every `interval` bytes of such body, counted over
// all uploads of the process, bounds it (bench/README.md, "Push peak memory"). The HTTP parser's chunks all
// own their memory, so a push now leaves nothing for it; it stays for the chunks a change in Node might share.
//
// The interval must stay well above what the filesystem writer holds (up to 2 MiB: its 1 MiB queue and a write
// in flight): a chunk still queued that lives through two scavenges is promoted to the old space and waits for
// a full GC. It must also stay small: V8 counts the dead chunks, until a scavenge frees them, against the old
// generation's limit, which in a pod leaves ~9 MiB of slack (bench/README.md, "Push in a pod"). Measured
// with the pod's heap, three 512 MiB pushes: 72–74 mark-compacts with 8 MiB and a 4 MiB writer queue, 2 with
// 4 MiB and a 1 MiB queue.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export type MinorGc = () => void;

/**
 * V8's own minor GC: the global `gc` of `--expose-gc`, one of the registry's Node flags (Dockerfile, `npm
 * start`, the test harness). A process started without it sets the flag now and takes `gc` from a new context
 * (the only contexts that get it). That changes V8's flag hash, so a module loaded afterwards misses a compile
 * cache filled under the registry's flags; with the flag given at start, nothing changes at run time.
 */
export function v8MinorGc(): MinorGc {
  let gc = globalThis.gc;
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as NodeJS.GCFunction;
  }
  const collect = gc;
  return () => collect({ type: 'minor', execution: 'sync' });
}

export class BodyGarbage {
  readonly #interval: number;
  readonly #collect: MinorGc;
  #sinceCollect = 0;
  collections = 0;

  constructor(options: { interval?: number; collect?: MinorGc } = {}) {
    this.#interval = options.interval ?? 4 << 20;
    this.#collect = options.collect ?? v8MinorGc();
  }

  /** Counts body bytes handed to storage; collects once `interval` bytes came in since the last collection. */
  received(bytes: number): void {
    this.#sinceCollect += bytes;
    if (this.#sinceCollect < this.#interval) return;
    this.#sinceCollect = 0;
    this.collections++;
    this.#collect();
  }
}
