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
