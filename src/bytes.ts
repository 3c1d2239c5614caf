/**
 * Values are stored as "byte strings": one JS string character per byte (latin1). V8 keeps
 * those as flat one-byte strings, the cheapest form a Map can hold, and they cross a
 * MessagePort as a plain copy. These helpers convert at the edges only.
 */

const NON_ASCII = /[\u0080-\uffff]/;

/** The UTF-8 bytes of `text`, as a byte string. ASCII text is returned as it is. */
export function textToBytes(text: string): string {
  return NON_ASCII.test(text) ? Buffer.from(text, 'utf8').toString('latin1') : text;
}

/** Decodes a byte string as UTF-8 text (invalid sequences become U+FFFD). */
export function bytesToText(bytes: string): string {
  return NON_ASCII.test(bytes) ? Buffer.from(bytes, 'latin1').toString('utf8') : bytes;
}

/** A byte string as a Buffer, for writing to a socket. */
export function bytesToBuffer(bytes: string): Buffer {
  return Buffer.from(bytes, 'latin1');
}
