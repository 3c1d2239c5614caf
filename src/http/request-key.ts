import { InvalidKeyError, type ThunderError } from '../errors.js';
import { keyError, type Limits } from '../limits.js';

/**
 * The key at the end of a request path, percent-decoded (`/kv/a%2Fb` is key `a/b`), or the
 * error that rejects it. `url` is uWS's raw path, without the query.
 */
export function keyFromPath(url: string, prefixLength: number, limits: Limits): string | ThunderError {
  let key = url.slice(prefixLength);
  if (key.includes('%')) {
    try {
      key = decodeURIComponent(key);
    } catch {
      return new InvalidKeyError('the key has malformed percent-encoding (or is not UTF-8)');
    }
  }
  return keyError(key, limits) ?? key;
}
