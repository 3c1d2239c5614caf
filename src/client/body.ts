/** Text gathered into one chunk of a streamed body: few chunks, none large. */
const CHUNK_CHARS = 64 * 1024;

/**
 * A request body streamed from lines as fetch asks for them (`pull`), so a batch of any
 * size is never held whole. fetch reports a body that failed as `fetch failed`, which
 * says nothing: `failure()` keeps the lines' own error (a bad record, a file that could not
 * be read) to be thrown instead.
 */
export function streamedLines(lines: AsyncIterable<string>): {
  body: ReadableStream<Uint8Array>;
  failure(): { error: unknown } | null;
} {
  const source = lines[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  let failed: { error: unknown } | null = null;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let text = '';
      try {
        while (text.length < CHUNK_CHARS) {
          const next = await source.next();
          if (next.done) {
            if (text !== '') controller.enqueue(encoder.encode(text));
            controller.close();
            return;
          }
          text += next.value + '\n';
        }
      } catch (error) {
        failed = { error };
        throw error;
      }
      controller.enqueue(encoder.encode(text));
    },
    async cancel() {
      await source.return?.();
    },
  });
  return { body, failure: () => failed };
}
