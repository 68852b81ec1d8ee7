import { nodeBuiltin } from "../../internal/node-builtin.js";

// CRC-32 as in zip, PNG and Ethernet (IEEE 802.3): reflected polynomial 0xEDB88320, initial value
// and final xor 0xFFFFFFFF. It detects every single-byte error and every burst of up to 32 bits.
// Slicing-by-8: eight tables, so the main loop folds in eight bytes per step.
const table: Int32Array = (() => {
  const entries = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    entries[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let t = 1; t < 8; t++) {
      const previous = entries[(t - 1) * 256 + n]!;
      entries[t * 256 + n] = entries[previous & 0xff]! ^ (previous >>> 8);
    }
  }
  return entries;
})();

function update(crc: number, bytes: Uint8Array, length: number): number {
  let i = 0;
  for (; i + 8 <= length; i += 8) {
    const low = crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    crc =
      table[1792 + (low & 0xff)]! ^
      table[1536 + ((low >>> 8) & 0xff)]! ^
      table[1280 + ((low >>> 16) & 0xff)]! ^
      table[1024 + (low >>> 24)]! ^
      table[768 + bytes[i + 4]!]! ^
      table[512 + bytes[i + 5]!]! ^
      table[256 + bytes[i + 6]!]! ^
      table[bytes[i + 7]!]!;
  }
  for (; i < length; i++) crc = table[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return crc;
}

const encoder = new TextEncoder();
// Text is encoded through this window, so a large snapshot never needs a second copy of itself.
const scratch = new Uint8Array(64 * 1024);

/** The CRC-32 of a string's UTF-8 bytes and the number of those bytes. */
export interface TextChecksum {
  readonly crc: number;
  readonly bytes: number;
}

// Folds the first `length` bytes of `scratch` into `crc`, a finished CRC-32 (0 for no bytes yet).
type Fold = (crc: number, length: number) => number;

const portableFold: Fold = (crc, length) => (update(crc ^ -1, scratch, length) ^ -1) >>> 0;

// The text goes through TextEncoder on both paths, so a record's bytes are the same whichever CRC
// reads them, and the byte count comes with them rather than from a second pass over the text.
function checksumWith(text: string, fold: Fold): TextChecksum {
  let crc = 0;
  let bytes = 0;
  let offset = 0;
  while (offset < text.length) {
    // encodeInto stops before a character that does not fit, never inside a surrogate pair.
    const { read, written } = encoder.encodeInto(offset === 0 ? text : text.slice(offset), scratch);
    crc = fold(crc, written);
    bytes += written;
    offset += read;
  }
  return { crc, bytes };
}

/**
 * CRC-32 and length of the UTF-8 bytes of `text`, computed in JavaScript: what
 * {@link checksumText} does where the runtime has no native CRC-32.
 */
export function portableChecksumText(text: string): TextChecksum {
  return checksumWith(text, portableFold);
}

// Node.js has zlib's CRC-32 in C (zlib.crc32, 20.15+ and 22.2+) and lends its built-ins through
// process.getBuiltinModule (20.16+ and 22.3+), so the core reaches it without importing node:zlib
// and still runs where there is none. It is given the bytes TextEncoder wrote: handed the string,
// it converted it into memory of its own on every call, and counting the bytes walked it again,
// which on a 2 KB snapshot cost about 30% more than this, twice that for a sliced string.
function nativeFold(): Fold | undefined {
  const crc32 = nodeBuiltin<{ crc32: (data: Uint8Array, value: number) => number }>("node:zlib")?.crc32;
  if (typeof crc32 !== "function") return undefined;
  try {
    const fold: Fold = (crc, length) => crc32(scratch.subarray(0, length), crc);
    return agreesWithPortable(fold) ? fold : undefined;
  } catch {
    return undefined;
  }
}

// Records must read the same under either path: a runtime whose CRC differs keeps the JavaScript one.
function agreesWithPortable(fold: Fold): boolean {
  const probe = "wf1 é € 😀 \ud800 \udfff";
  const expected = portableChecksumText(probe);
  const actual = checksumWith(probe, fold);
  return actual.crc === expected.crc && actual.bytes === expected.bytes;
}

const native = nativeFold();

/** True when {@link checksumText} uses the runtime's native CRC-32 rather than the JavaScript one. */
export const nativeChecksum: boolean = native !== undefined;

/**
 * CRC-32 and length of the UTF-8 bytes of `text`, i.e. of what `TextEncoder` (and a database
 * driver) would store; a lone surrogate counts as U+FFFD, as it does there.
 */
export const checksumText: (text: string) => TextChecksum = native === undefined ? portableChecksumText : (text) => checksumWith(text, native);

/** CRC-32 (IEEE) of `data`, or of a string's UTF-8 bytes. An unsigned 32-bit integer. */
export function crc32(data: Uint8Array | string): number {
  return typeof data === "string" ? checksumText(data).crc : (update(-1, data, data.length) ^ -1) >>> 0;
}

// Two hex digits per byte value: formatting a value above 2^31 with toString(16) takes V8's slow
// path for non-small integers, a measurable share of encoding a small snapshot.
const hexPairs: readonly string[] = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/** A 32-bit value (a CRC, a hash) as 8 lowercase hex digits: the form the snapshot envelope stores. */
export function hex32(crc: number): string {
  return hexPairs[(crc >>> 24) & 0xff]! + hexPairs[(crc >>> 16) & 0xff]! + hexPairs[(crc >>> 8) & 0xff]! + hexPairs[crc & 0xff]!;
}
