/**
 * "Byte strings": one JS string character per byte (latin1). The batch parsers hand values
 * on in this form (the wire writes them into a batch with one latin1 copy), and the
 * snapshot decodes stored bytes as text. These helpers convert at those edges only.
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

/** Standard base64 (RFC 4648 §4), padded: what `GET /export` writes. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The bytes a base64 text (a byte string, one char per byte) spells, or null when it is not
 * strict, padded base64: Node's decoder skips what it does not know, which would store
 * something other than what was sent.
 */
export function base64ToBytes(text: string): Buffer | null {
  return BASE64.test(text) ? Buffer.from(text, 'base64') : null;
}

/** Bytes of base64 text that `bytes` bytes take. */
export function base64Length(bytes: number): number {
  return Math.ceil(bytes / 3) * 4;
}
