/** URL paths and headers of key requests: the only place keys and tags are encoded. */

/**
 * A key as one path segment: `/` becomes `%2F`, non-ASCII its UTF-8 bytes percent-encoded.
 * `.` and `..` are refused: every URL parser (fetch's included) treats them, and their
 * percent-encoded spellings, as dot segments and removes them, so they cannot be sent.
 */
export function keySegment(key: string): string {
  if (key === '.' || key === '..') {
    throw new TypeError(
      `the key ${JSON.stringify(key)} cannot be sent in a URL path: URLs remove dot segments`,
    );
  }
  try {
    return encodeURIComponent(key);
  } catch {
    throw new TypeError(`key ${JSON.stringify(key)} is not valid Unicode (it holds a lone surrogate)`);
  }
}

/** `?name=value&…` of the options that are set; empty when none is. */
export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    if (value !== undefined) search.set(name, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

/**
 * An `If-Match` value: `*`, a version (`123`), or a tag as `etag` gives it (`"123"`). A bare
 * number is quoted, so a version read from a script works as its tag does.
 */
export function ifMatchHeader(tag: string | number): string {
  const text = String(tag).trim();
  // An empty If-Match is no condition at all to the server: the write would happen whatever
  // the key holds (an unset $ETAG in a script, say).
  if (text === '') throw new TypeError('If-Match needs a tag: an ETag, a version, or *');
  return /^[0-9]+$/.test(text) ? `"${text}"` : text;
}

/** The version inside a strong tag `"123"`; NaN for anything else. */
export function versionOf(etag: string): number {
  const match = /^"([0-9]+)"$/.exec(etag);
  return match ? Number(match[1]) : NaN;
}
