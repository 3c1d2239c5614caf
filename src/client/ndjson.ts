import type { ExportRecord, WatchEvent } from './types.js';

/**
 * The NDJSON lines of exports and batch writes. An export line is `["key","<base64>"]` or
 * `["key","<base64>",EXPIRES_AT]` (Unix ms); an import sends exactly these lines back.
 */

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The text lines of a byte stream, decoded as UTF-8; a last line without newline included. */
export async function* linesOf(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let rest = '';
  for await (const chunk of body) {
    const text = rest + decoder.decode(chunk, { stream: true });
    const lines = text.split('\n');
    rest = lines.pop()!;
    yield* lines;
  }
  rest += decoder.decode();
  if (rest !== '') yield rest;
}

/** Bytes as a plain Uint8Array (not a Buffer, whose methods differ). */
function plain(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Parses one export line; `where` names it in the error (`line 3`). */
export function recordOfLine(line: string, where: string): ExportRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new SyntaxError(`${where}: not JSON`);
  }
  const [key, value, expiresAt, ...extra] = Array.isArray(parsed) ? (parsed as unknown[]) : [];
  if (
    typeof key !== 'string' ||
    typeof value !== 'string' ||
    !BASE64.test(value) ||
    (expiresAt !== undefined && !Number.isSafeInteger(expiresAt)) ||
    extra.length > 0
  ) {
    throw new SyntaxError(
      `${where}: expected ["key","<base64 value>"] or ["key","<base64 value>",EXPIRES_AT_MS]`,
    );
  }
  const record: ExportRecord = { key, value: plain(Buffer.from(value, 'base64')) };
  if (expiresAt !== undefined) record.expiresAt = expiresAt as number;
  return record;
}

/** An export line for a record, without its newline. */
export function lineOfRecord(record: ExportRecord): string {
  const value = Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength).toString(
    'base64',
  );
  return JSON.stringify(
    record.expiresAt === undefined ? [record.key, value] : [record.key, value, record.expiresAt],
  );
}

/**
 * Parses one line of `GET /watch`: a change (its value decoded to bytes) or a progress
 * event; null for an event of a type this client does not know (a newer server's).
 */
export function watchEventOf(line: string): WatchEvent | null {
  const parsed = JSON.parse(line) as Record<string, unknown>;
  const { type, key, version, size, value, encoding, expiresAt } = parsed;
  if (typeof type === 'string' && !['put', 'delete', 'expire', 'progress'].includes(type)) return null;
  if (
    !(type === 'put' || type === 'delete' || type === 'expire' || type === 'progress') ||
    !Number.isSafeInteger(version) ||
    (type !== 'progress' && typeof key !== 'string')
  ) {
    throw new SyntaxError(`not a watch event: ${line.slice(0, 200)}`);
  }
  const event: WatchEvent = { type, version: version as number };
  if (typeof key === 'string') event.key = key;
  if (typeof size === 'number') event.size = size;
  if (typeof value === 'string')
    event.value = plain(Buffer.from(value, encoding === 'base64' ? 'base64' : 'utf8'));
  if (typeof expiresAt === 'number') event.expiresAt = expiresAt;
  return event;
}
