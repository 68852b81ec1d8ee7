// Binary values in the snapshot codec: which views it stores, and base64 both ways.

/** The binary views the codec stores, by the name written in the "bytes" tag. */
export const binaryTypes = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView,
} as const;

export type BinaryTypeName = keyof typeof binaryTypes | "Buffer";

/** Node's Buffer when the runtime has one, looked up rather than imported: the core stays runtime-neutral. */
export function runtimeBuffer(): { readonly prototype: object; from(buffer: ArrayBuffer): Uint8Array } | undefined {
  return (globalThis as { Buffer?: { readonly prototype: object; from(buffer: ArrayBuffer): Uint8Array } }).Buffer;
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  let out = "";
  const whole = bytes.length - (bytes.length % 3);
  for (let i = 0; i < whole; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += alphabet[n >>> 18]! + alphabet[(n >>> 12) & 63]! + alphabet[(n >>> 6) & 63]! + alphabet[n & 63]!;
  }
  if (whole < bytes.length) {
    const n = (bytes[whole]! << 16) | ((bytes[whole + 1] ?? 0) << 8);
    out += alphabet[n >>> 18]! + alphabet[(n >>> 12) & 63]! + (whole + 1 < bytes.length ? alphabet[(n >>> 6) & 63]! : "=") + "=";
  }
  return out;
}

/** The text is not something the encoder wrote. */
export class MalformedValue extends Error {}

const base64Digits = new Int16Array(128).fill(-1);
for (let i = 0; i < alphabet.length; i++) base64Digits[alphabet.charCodeAt(i)] = i;

function digit(text: string, i: number): number {
  const d = base64Digits[text.charCodeAt(i)] ?? -1;
  if (d < 0) throw new MalformedValue(`invalid base64 at ${i}`);
  return d;
}

/** Decodes standard padded base64 strictly: a character out of place is malformed, not skipped. */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  if (text.length % 4 !== 0) throw new MalformedValue("invalid base64 length");
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const bytes = new Uint8Array((text.length / 4) * 3 - padding);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length;
    const n =
      (digit(text, i) << 18) |
      (digit(text, i + 1) << 12) |
      (last && padding === 2 ? 0 : digit(text, i + 2) << 6) |
      (last && padding > 0 ? 0 : digit(text, i + 3));
    bytes[o++] = n >>> 16;
    if (o < bytes.length) bytes[o++] = (n >>> 8) & 0xff;
    if (o < bytes.length) bytes[o++] = n & 0xff;
  }
  return bytes;
}

