// Reads a whole file with the fewest thread-pool round trips: open, one read, close. Most files the registry
// reads whole are links (71 bytes) and manifests (a few KiB), read on every manifest GET; fs/promises'
// readFile makes four calls (open, fstat, read, close) through a FileHandle and costs about three times the CPU
// (bench/README.md, "Manifest GET"). Larger files take an fstat and further reads.
import { close, fstat, open, read } from 'node:fs';

/** Files up to this size take one read. */
const firstReadSize = 16 * 1024;

function openFile(path: string): Promise<number> {
  return new Promise((resolve, reject) => open(path, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
}

function readAt(fd: number, buffer: Buffer, offset: number): Promise<number> {
  return new Promise((resolve, reject) =>
    read(fd, buffer, offset, buffer.length - offset, offset, (err, n) => (err ? reject(err) : resolve(n))),
  );
}

function sizeOf(fd: number): Promise<number> {
  return new Promise((resolve, reject) =>
    fstat(fd, (err, stats) => (err ? reject(err) : resolve(stats.size))),
  );
}

/** A larger buffer starting with `buffer`'s bytes. */
function grown(buffer: Buffer, size: number): Buffer<ArrayBuffer> {
  const bigger = Buffer.allocUnsafeSlow(size);
  buffer.copy(bigger);
  return bigger;
}

export async function readWholeFile(path: string): Promise<Buffer> {
  const fd = await openFile(path);
  try {
    let buffer = Buffer.allocUnsafeSlow(firstReadSize);
    let length = await readAt(fd, buffer, 0);
    // A regular file reads short only at its end (the thread pool blocks signals, so no EINTR).
    if (length < buffer.length) return Buffer.from(buffer.subarray(0, length));
    // Room for the size fstat gives and one byte more, so the read that finds the end needs no growth.
    buffer = grown(buffer, Math.max((await sizeOf(fd)) + 1, 2 * buffer.length));
    for (;;) {
      const n = await readAt(fd, buffer, length);
      if (n === 0) return buffer.subarray(0, length);
      length += n;
      if (length === buffer.length) buffer = grown(buffer, 2 * buffer.length);
    }
  } finally {
    close(fd, () => undefined);
  }
}
