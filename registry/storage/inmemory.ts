// The `inmemory` driver (Distribution's `inmemory`): a tree of buffers, for tests and small throwaway
// deployments. Directories exist only while something is below them, as on object stores.
import { Readable } from 'node:stream';
import {
  checkOffset,
  checkPath,
  InvalidOffsetError,
  InvalidPathError,
  PathNotFoundError,
  StorageDriverError,
  type FileInfo,
  type FileWriter,
  type ReadOptions,
  type StorageDriver,
  type WalkOptions,
} from './driver.ts';

type Visitor = Parameters<StorageDriver['walk']>[1];

interface FileNode {
  kind: 'file';
  data: Buffer;
  modTime: Date;
}

interface DirNode {
  kind: 'dir';
  children: Map<string, Node>;
  modTime: Date;
}

type Node = FileNode | DirNode;

const driverName = 'inmemory';
const readChunkSize = 1 << 20;

function segments(path: string): string[] {
  return path === '/' ? [] : path.slice(1).split('/');
}

function childPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

function info(path: string, node: Node): FileInfo {
  return node.kind === 'file'
    ? { path, size: node.data.length, modTime: node.modTime, isDir: false }
    : { path, size: 0, modTime: node.modTime, isDir: true };
}

export class InMemoryDriver implements StorageDriver {
  readonly name = driverName;
  private readonly root: DirNode = { kind: 'dir', children: new Map(), modTime: new Date() };

  async getContent(path: string): Promise<Buffer> {
    // A copy: callers may mutate what they get.
    return Buffer.from(this.file(path).data);
  }

  async putContent(path: string, content: Uint8Array): Promise<void> {
    checkPath(driverName, path);
    this.setFile(path, Buffer.from(content), new Date());
  }

  async reader(path: string, options: ReadOptions = {}): Promise<Readable> {
    const { data } = this.file(path);
    const offset = options.offset ?? 0;
    checkOffset(driverName, path, offset);
    if (options.end !== undefined) checkOffset(driverName, path, options.end);
    if (offset > data.length) throw new InvalidOffsetError(driverName, path, offset);
    const end = Math.min(options.end === undefined ? data.length : options.end + 1, data.length);
    const range = end > offset ? data.subarray(offset, end) : Buffer.alloc(0);
    function* chunks(): Generator<Buffer> {
      for (let i = 0; i < range.length; i += readChunkSize) yield range.subarray(i, i + readChunkSize);
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  async writer(path: string, append: boolean): Promise<FileWriter> {
    checkPath(driverName, path);
    const existing = this.lookup(path);
    if (path === '/') throw new InvalidPathError(driverName, path);
    if (existing?.kind === 'dir') throw new StorageDriverError(driverName, path, 'is a directory');
    // Appending to nothing starts empty, like the filesystem driver.
    const initial = append && existing ? existing.data : Buffer.alloc(0);
    return new InMemoryFileWriter(path, initial, {
      publish: (data) => this.setFile(path, data, new Date()),
      discard: () => {
        if (this.lookup(path)?.kind === 'file') this.remove(path);
      },
    });
  }

  async stat(path: string): Promise<FileInfo> {
    checkPath(driverName, path);
    const node = this.lookup(path);
    if (!node) throw new PathNotFoundError(driverName, path);
    return info(path, node);
  }

  async list(path: string): Promise<string[]> {
    return this.childNames(path).map((name) => childPath(path, name));
  }

  async move(sourcePath: string, destPath: string): Promise<void> {
    checkPath(driverName, destPath);
    // Objects only, as on object stores: a directory is not something that can be moved.
    const node = this.file(sourcePath);
    if (sourcePath === destPath) return;
    this.setFile(destPath, node.data, node.modTime);
    this.remove(sourcePath);
  }

  async delete(path: string): Promise<void> {
    checkPath(driverName, path);
    if (path === '/') {
      if (this.root.children.size === 0) throw new PathNotFoundError(driverName, path);
      this.root.children.clear();
      this.root.modTime = new Date();
      return;
    }
    if (!this.lookup(path)) throw new PathNotFoundError(driverName, path);
    this.remove(path);
  }

  async redirectURL(path: string, _method: 'GET' | 'HEAD'): Promise<string | null> {
    checkPath(driverName, path);
    return null;
  }

  async walk(path: string, visit: Visitor, options: WalkOptions = {}): Promise<void> {
    await this.walkDir(path, this.childNames(path), visit, options);
  }

  private async walkDir(dir: string, names: string[], visit: Visitor, options: WalkOptions): Promise<void> {
    for (const name of names) {
      const path = childPath(dir, name);
      // Looked up again: visit() may have changed the tree since the names were taken.
      const node = this.lookup(path);
      if (!node) continue;
      const fileInfo = info(path, node);
      await visit(fileInfo);
      if (node.kind === 'file' || options.descend?.(fileInfo) === false) continue;
      await this.walkDir(path, [...node.children.keys()].sort(), visit, options);
    }
  }

  private childNames(path: string): string[] {
    checkPath(driverName, path);
    const node = this.lookup(path);
    if (node?.kind !== 'dir' || node.children.size === 0) throw new PathNotFoundError(driverName, path);
    return [...node.children.keys()].sort();
  }

  private lookup(path: string): Node | undefined {
    let node: Node = this.root;
    for (const segment of segments(path)) {
      if (node.kind !== 'dir') return undefined;
      const child = node.children.get(segment);
      if (!child) return undefined;
      node = child;
    }
    return node;
  }

  private file(path: string): FileNode {
    checkPath(driverName, path);
    const node = this.lookup(path);
    if (node?.kind !== 'file') throw new PathNotFoundError(driverName, path);
    return node;
  }

  private setFile(path: string, data: Buffer, modTime: Date): void {
    const parts = segments(path);
    const name = parts.pop();
    if (name === undefined) throw new InvalidPathError(driverName, path);
    // Validate the whole path before creating anything so a failure leaves the tree unchanged.
    let dir: DirNode = this.root;
    let i = 0;
    for (; i < parts.length; i++) {
      const child: Node | undefined = dir.children.get(parts[i] ?? '');
      if (!child) break;
      if (child.kind !== 'dir') throw new StorageDriverError(driverName, path, 'a parent is not a directory');
      dir = child;
    }
    if (i === parts.length && dir.children.get(name)?.kind === 'dir') {
      throw new StorageDriverError(driverName, path, 'is a directory');
    }
    const now = new Date();
    for (; i < parts.length; i++) {
      const child: DirNode = { kind: 'dir', children: new Map(), modTime: now };
      dir.children.set(parts[i] ?? '', child);
      dir.modTime = now;
      dir = child;
    }
    dir.children.set(name, { kind: 'file', data, modTime });
    dir.modTime = now;
  }

  /** Removes the node at path and then every directory left empty above it. */
  private remove(path: string): void {
    const parts = segments(path);
    const chain: DirNode[] = [this.root];
    for (const segment of parts.slice(0, -1)) {
      const last = chain[chain.length - 1];
      const child = last?.children.get(segment);
      if (child?.kind !== 'dir') return;
      chain.push(child);
    }
    const now = new Date();
    for (let i = parts.length - 1; i >= 0; i--) {
      const dir = chain[i];
      if (!dir) return;
      dir.children.delete(parts[i] ?? '');
      dir.modTime = now;
      if (dir.children.size > 0 || dir === this.root) return;
    }
  }
}

interface WriterSink {
  publish(data: Buffer): void;
  discard(): void;
}

class InMemoryFileWriter implements FileWriter {
  private readonly path: string;
  private readonly sink: WriterSink;
  private readonly chunks: Buffer[];
  private written: number;
  private state: 'open' | 'closed' | 'committed' | 'cancelled' = 'open';

  constructor(path: string, initial: Buffer, sink: WriterSink) {
    this.path = path;
    this.sink = sink;
    this.chunks = initial.length > 0 ? [initial] : [];
    this.written = initial.length;
  }

  get size(): number {
    return this.written;
  }

  async write(chunk: Uint8Array, released?: () => void): Promise<void> {
    this.assertOpen();
    // Copied: the caller may reuse its buffer once write() resolves.
    this.chunks.push(Buffer.from(chunk));
    this.written += chunk.byteLength;
    released?.();
  }

  // Closed content is visible at the path, as on the filesystem driver, so stat() reports an upload's size.
  async close(): Promise<void> {
    this.assertOpen();
    this.state = 'closed';
    this.sink.publish(Buffer.concat(this.chunks, this.written));
  }

  async commit(): Promise<void> {
    this.assertOpen();
    this.state = 'committed';
    this.sink.publish(Buffer.concat(this.chunks, this.written));
  }

  async cancel(): Promise<void> {
    if (this.state === 'committed') throw this.stateError();
    if (this.state === 'cancelled') return;
    this.state = 'cancelled';
    this.chunks.length = 0;
    this.sink.discard();
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw this.stateError();
  }

  private stateError(): StorageDriverError {
    return new StorageDriverError(driverName, this.path, `writer is ${this.state}`);
  }
}
