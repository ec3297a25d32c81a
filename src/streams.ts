/**
 * Reading a body with a byte limit, counted while reading: a declared length can lie and a chunked
 * body declares none. Used for webhook bodies (the edge) and tracker answers (the HTTP client).
 */

/** The stream's bytes, or "too_large" once they pass `limit` (the rest is cancelled, never read). */
export async function readStreamLimited(body: ReadableStream<Uint8Array> | null, limit: number): Promise<Uint8Array | "too_large"> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      return "too_large";
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
