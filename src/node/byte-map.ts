import { KeyBytes } from '../ring/key-bytes.js';
import { HASH_SPACE } from '../ring/murmur3.js';
import type { WriteOutcome } from '../wire/protocol.js';
import { RecordMap } from './record-map.js';

/**
 * A {@link RecordMap} that also takes text keys and byte-string values (one char per byte):
 * what tests, local tools and the store's own conveniences use. The data path never does; it
 * hands the record map the key bytes and ring hash that came off the socket.
 */
export class ByteMap extends RecordMap {
  readonly #key = new KeyBytes();

  /** The value byte string (one char per byte) of a text key, or undefined when absent or deleted. */
  get(key: string): string | undefined {
    const location = this.#locateText(key);
    return location === 0 || this.isTombstoneAt(location) ? undefined : this.valueAt(location);
  }

  /** The value's length in bytes, or -1 when the key is absent or deleted. */
  sizeOf(key: string): number {
    const location = this.#locateText(key);
    return location === 0 || this.isTombstoneAt(location) ? -1 : this.valueLengthAt(location);
  }

  /**
   * Stores `value`, a byte string (one char per byte), under a text key; with a `version`,
   * only if newer than the stored one, else whatever is stored (version 0); expiring at
   * `expiresAt` (Unix ms; 0, never).
   */
  set(key: string, value: string, version?: number, expiresAt = 0): WriteOutcome {
    const length = this.#key.encode(key);
    const bytes = Buffer.from(value, 'latin1');
    return this.store(
      this.#key.buffer,
      0,
      length,
      this.#key.hash(),
      bytes,
      0,
      bytes.length,
      version ?? 0,
      version === undefined,
      expiresAt,
    );
  }

  /** Writes a tombstone with `version` under a text key, if newer than the stored record. */
  setTombstone(key: string, version: number): WriteOutcome {
    const length = this.#key.encode(key);
    return this.store(this.#key.buffer, 0, length, this.#key.hash(), null, 0, 0, version);
  }

  /** Removes a text key's record, leaving no tombstone; true if it was there. */
  delete(key: string): boolean {
    const length = this.#key.encode(key);
    return this.remove(this.#key.buffer, 0, length, this.#key.hash());
  }

  #locateText(key: string): number {
    const length = this.#key.encode(key);
    return this.locate(this.#key.buffer, 0, length, this.#key.hash());
  }

  /** Every key holding a value, with its value byte string, in no particular order. */
  entries(): [string, string][] {
    const found: [string, string][] = [];
    for (let from = 0; from < HASH_SPACE;) {
      from = this.visitRange(from, 4096, (_, location) => {
        if (!this.isTombstoneAt(location)) found.push([this.keyAt(location), this.valueAt(location)]);
      });
    }
    return found;
  }
}
