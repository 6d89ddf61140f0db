// Reads of one file asked for by requests that arrive together share a single read. A registry under load
// serves the same few tags to many clients at once (a Deployment rolling out to every node), and each GET by
// tag reads the same two links; in Node every read is a thread-pool round trip that costs far more CPU than
// the system call (bench/README.md, "Manifest GET").
//
// A batch starts on the event loop's next check phase (setImmediate), after every request that became
// readable in this poll phase has asked, and a request only ever joins a batch that has not started yet. So
// each caller's read begins after its request arrived: a write acknowledged before a request came in (by this
// replica or another one) is always seen, exactly as with a read of its own.
export class CoalescedReads {
  readonly #waiting = new Map<string, Promise<Buffer>>();

  /** `read(path)`, shared with the callers that asked for the same path before the read started. */
  read(path: string, read: (path: string) => Promise<Buffer>): Promise<Buffer> {
    const waiting = this.#waiting.get(path);
    if (waiting !== undefined) return waiting;
    const batch = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      // Started: whoever asks from now on gets a read of its own.
      this.#waiting.delete(path);
      return read(path);
    });
    this.#waiting.set(path, batch);
    return batch;
  }
}
