import { InvalidKeyError, type ThunderError } from '../errors.js';
import { keyError, type Limits } from '../limits.js';

/**
 * The key at the end of a request path, percent-decoded (`/kv/a%2Fb` is key `a/b`), or the
 * error that rejects it. `url` is uWS's path, without the query.
 *
 * uWS decodes the raw path bytes as UTF-8 and turns each invalid byte into U+FFFD, so the
 * raw bytes are gone by the time we see them: `/kv/a\xFF` and `/kv/a\xFE` both arrive as
 * `/kv/a\uFFFD`. A raw U+FFFD is therefore refused, whatever bytes it stood for, so two
 * different keys can never alias; a key that really contains U+FFFD is sent percent-encoded
 * (`%EF%BF%BD`), and `decodeURIComponent` refuses escapes that do not spell UTF-8.
 */
export function keyFromPath(url: string, prefixLength: number, limits: Limits): string | ThunderError {
  let key = url.slice(prefixLength);
  if (key.includes('\uFFFD')) {
    return new InvalidKeyError(
      'the path has bytes that are not UTF-8, or a raw U+FFFD that cannot be told apart from them (percent-encode it as %EF%BF%BD)',
    );
  }
  if (key.includes('%')) {
    try {
      key = decodeURIComponent(key);
    } catch {
      return new InvalidKeyError('the key has malformed percent-encoding (or is not UTF-8)');
    }
  }
  return keyError(key, limits) ?? key;
}
