// Frees a request-body chunk's memory the moment storage is done with it. Node's HTTP parser copies each body
// chunk (up to 64 KiB) into a Buffer with a store of its own, and that store otherwise waits for a scavenge to
// find the Buffer dead: dead body made up much of a push's peak RSS, and V8 counts it against the old
// generation's limit until then (bench/README.md, "Body chunks freed when written"). Detaching the chunk's
// ArrayBuffer releases the store at once; the chunk reads as empty afterwards.

/**
 * Frees `chunk`'s memory if the chunk is the whole of an ArrayBuffer (as the HTTP parser's chunks are) and
 * returns whether it did. A view into a shared store (Buffer's 8 KiB pool, a slice of a larger read) is left
 * alone, since other Buffers read the same memory. Only for chunks nothing else holds.
 */
export function freeBodyChunk(chunk: Uint8Array): boolean {
  const { buffer } = chunk;
  if (!(buffer instanceof ArrayBuffer) || buffer.detached) return false;
  if (chunk.byteOffset !== 0 || chunk.byteLength !== buffer.byteLength || buffer.byteLength === 0)
    return false;
  try {
    buffer.transfer(0);
    return true;
  } catch {
    // A store its embedder marked non-detachable: the garbage collector frees it as before.
    return false;
  }
}
