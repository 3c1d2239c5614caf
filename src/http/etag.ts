import { BadRequestError } from '../errors.js';

/**
 * Entity tags: a value's version (src/time/hlc.ts) in quotes, a strong validator (RFC 9110 §8.8.3),
 * since two different writes of a key never share a version.
 */
export function etagOf(version: number): string {
  return `"${version}"`;
}

/** A strong entity tag: a version, quoted. */
const ETAG = /^"([1-9][0-9]{0,15})"$/;

/**
 * The versions an `If-Match` or `If-None-Match` header names: `*`, or a comma-separated list
 * of entity tags. Weak tags (`W/"…"`) are refused: the conditions here compare strongly.
 * A tag that is not one of ours is kept as a version that matches nothing (-1), as a
 * foreign ETag would.
 */
export function parseEtags(header: string, name: string): number[] | '*' {
  const text = header.trim();
  if (text === '*') return '*';
  const versions: number[] = [];
  for (const piece of text.split(',')) {
    const tag = piece.trim();
    if (tag.startsWith('W/')) {
      throw new BadRequestError(`${name} takes strong entity tags or *; ${tag} is weak`);
    }
    if (!/^"[^"]*"$/.test(tag)) {
      throw new BadRequestError(
        `${name} must be * or a list of quoted entity tags, got ${JSON.stringify(header)}`,
      );
    }
    const match = ETAG.exec(tag);
    versions.push(match ? Number(match[1]) : -1);
  }
  return versions;
}
