import { messageOf } from "../../errors.js";
import { describe } from "../../internal/validate.js";
import { checksumText, hex32 } from "./checksum.js";
import { readValue } from "./decode.js";
import { Rejection, writeValue } from "./encode.js";
import { isTooLongForString, maxStringLength, measuredBytes, tooLargeError, writtenBytes } from "./oversize.js";
import { writeSnapshotBody } from "./snapshot-body.js";
import { SnapshotCorruptedError, SnapshotSerializationError, type SnapshotKeys } from "../errors.js";
import { validateSnapshot, type WorkflowExecutionSnapshot } from "../snapshot.js";

/**
 * Turns snapshots into text and back, for providers that store bytes. Pass your own
 * `{ encode, decode }` to a provider to use another format.
 */
export interface SnapshotCodec {
  /** Encodes a whole snapshot. Throws SnapshotSerializationError / SnapshotTooLargeError before anything is written. */
  encode(snapshot: WorkflowExecutionSnapshot): string;
  /** Decodes what encode produced. Throws SnapshotCorruptedError (naming `keys`) when the text is not an intact encoding. */
  decode(encoded: string, keys: SnapshotKeys): WorkflowExecutionSnapshot;
}

export interface SnapshotCodecOptions {
  /**
   * Largest encoded snapshot, in UTF-8 bytes, that `encode` accepts; a larger one raises
   * `SnapshotTooLargeError` listing the largest properties. `Infinity` turns the check off.
   * @default 4 MiB (4 * 1024 * 1024)
   */
  readonly maxSnapshotBytes?: number | undefined;
}

/** The default codec's `maxSnapshotBytes`. */
export const defaultMaxSnapshotBytes = 4 * 1024 * 1024;
const version = "wf1";
// The header is read by hand rather than by /^wf1:([0-9a-f]{8}):(0|[1-9][0-9]{0,15}):/, which
// it matches exactly: on text of 1,000 characters and more V8 runs a regular expression through
// its runtime, and the match array and its strings were a tenth of a decode.
const hexDigits = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) hexDigits["0123456789abcdef".charCodeAt(i)] = i;

/** The envelope's fields, and where the body starts. */
interface Header {
  readonly crc: number;
  readonly bytes: number;
  readonly bodyStart: number;
}

function readHeader(text: string): Header | undefined {
  if (!text.startsWith(`${version}:`)) return undefined;
  let crc = 0;
  for (let i = 4; i < 12; i++) {
    const digit = hexDigits[text.charCodeAt(i)] ?? -1;
    if (digit < 0) return undefined;
    crc = crc * 16 + digit;
  }
  if (text.charCodeAt(12) !== 0x3a) return undefined;
  // 1 to 16 digits, no leading zero. Sixteen digits can exceed 2^53 and round, but only to a
  // number no body can reach, so the comparison with the counted bytes still fails.
  let bytes = 0;
  let end = 13;
  for (; end < 13 + 16; end++) {
    const c = text.charCodeAt(end);
    if (!(c >= 0x30 && c <= 0x39)) break;
    bytes = bytes * 10 + (c - 0x30);
  }
  if (end === 13 || (end > 14 && text.charCodeAt(13) === 0x30) || text.charCodeAt(end) !== 0x3a) return undefined;
  return { crc, bytes, bodyStart: end + 1 };
}

const loneSurrogate = /\p{Cs}/u;

/**
 * Encodes any supported value as JSON text (no envelope, no size limit): JSON values stay as they
 * are; `undefined`, NaN, ±Infinity, -0, BigInt, Date, Map, Set, RegExp, Error, typed arrays,
 * Buffer and ArrayBuffer become `{"$wf": tag, ...}` objects. Shared references are written once
 * per reference (a diamond comes back as two copies); null-prototype objects come back as plain
 * objects; symbol-keyed and non-enumerable properties, extra properties of arrays and errors, and
 * a RegExp's `lastIndex` are not stored; array holes come back as `undefined`.
 *
 * Nesting is limited to 100 levels: every plain object, array, Map, Set and Error (an Error nests
 * through its `cause`) is one level, counted from the outermost, so `{ a: [new Map()] }` nests 3
 * levels; Dates, RegExps and binary values are leaves and add none. The limit keeps encoding and
 * decoding within about 100 KB of stack, even in a process that has not run them before, so what
 * encodes also decodes in a worker with a small stack or from deep inside other calls.
 *
 * Throws `SnapshotSerializationError` for functions, symbols, class instances (anything whose
 * prototype is not Object.prototype, null or a supported built-in; Error subclasses are fine),
 * WeakMap/WeakSet/WeakRef/Promise, cycles, and a container one level deeper than the limit (the
 * path names that container). Its `path` starts with `path` and names the place
 * like `properties.order.items[3].price`: `.key` for identifier keys, `["key"]` for others,
 * `[n]` for array indexes, `<key>` for a Map entry's value (`<"a">`, `<1>`, `<2n>`, `<#i>` for
 * an object key at entry i), `<key #i>` inside a Map key, `<#i>` for a Set's i-th element.
 */
export function encodeValue(value: unknown, path = ""): string {
  return encodeWithin(value, path, 0);
}

/**
 * {@link encodeValue} of an event's payload, checked at the depth it will be stored at: a wait
 * outputs it, and the snapshot stores it as its `lastOutput`, one level down. A payload the
 * snapshot could not hold is refused when it is sent, not when a wait consumes it. Its size is not
 * checked here: see `encodePayload` in providers/stored.ts.
 */
export function encodePayloadValue(payload: unknown): string {
  return encodeWithin(payload, "payload", 1);
}

function encodeWithin(value: unknown, path: string, within: number): string {
  try {
    return writeValue(value, within);
  } catch (error) {
    throw serializationError(error, path, undefined);
  }
}

/**
 * Decodes what {@link encodeValue} produced. A Buffer comes back as a Buffer when the runtime has
 * `globalThis.Buffer`, otherwise as a Uint8Array; an Error comes back as its built-in class
 * (TypeError, ...) or as an Error whose own `name` is the subclass's. Never changes a prototype:
 * `__proto__`, `constructor` and `prototype` keys come back as own properties.
 * Throws `SnapshotCorruptedError` (with empty keys) when the text is not such an encoding, one
 * nesting deeper than 100 levels included: the encoder never writes that.
 */
export function decodeValue(text: string): unknown {
  try {
    return readValue(text);
  } catch (error) {
    throw new SnapshotCorruptedError({ foundryExecutionId: "", workflowId: "" }, `not an encoded value: ${messageOf(error)}`, error);
  }
}

function serializationError(error: unknown, prefix: string, keys: SnapshotKeys | undefined): unknown {
  if (!(error instanceof Rejection)) return error;
  const cause = "cause" in error ? { cause: error.cause } : {};
  return new SnapshotSerializationError({ keys, path: error.path(prefix), reason: error.message, ...cause });
}

function keysOf(snapshot: WorkflowExecutionSnapshot): SnapshotKeys {
  return { foundryExecutionId: String(snapshot.foundryExecutionId), workflowId: String(snapshot.workflowId) };
}

function encodeSnapshot(snapshot: WorkflowExecutionSnapshot, maxBytes: number): string {
  if (typeof snapshot !== "object" || snapshot === null) {
    throw new SnapshotSerializationError({ path: "", reason: `a snapshot must be an object, got ${snapshot === null ? "null" : typeof snapshot}` });
  }
  try {
    const body = writeSnapshotBody(snapshot);
    const { crc, bytes } = checksumText(body);
    const envelope = `${version}:${hex32(crc)}:${bytes}:`;
    const total = envelope.length + bytes;
    if (total > maxBytes) throw tooLargeError(snapshot, keysOf(snapshot), total, maxBytes, writtenBytes);
    return envelope + body;
  } catch (error) {
    // A text longer than the runtime's longest string is too large for any budget, that length
    // bounding a larger one: the sizes are measured without writing it.
    if (!isTooLongForString(error)) throw serializationError(error, "", keysOf(snapshot));
    const body = measuredBytes(snapshot);
    const total = `${version}:00000000:${body}:`.length + body;
    // Within the budget and the runtime's limit after all (UTF-8 takes at least as many bytes as a
    // string has code units): a value's own getter threw that RangeError, refused at its path.
    const limit = Math.min(maxBytes, maxStringLength);
    if (total <= limit) throw serializationError(error, "", keysOf(snapshot));
    throw tooLargeError(snapshot, keysOf(snapshot), total, limit, measuredBytes);
  }
}

// Each failure builds its error where it is found: a helper closure over `keys`, made on every
// call, took 0.4-0.5 us of a 5.7 us decode.
function decodeSnapshot(encoded: string, keys: SnapshotKeys): WorkflowExecutionSnapshot {
  if (typeof encoded !== "string") throw new SnapshotCorruptedError(keys, `expected encoded text, got ${encoded === null ? "null" : typeof encoded}`);
  const header = readHeader(encoded);
  if (header === undefined) throw new SnapshotCorruptedError(keys, `it does not start with a "${version}:<crc32>:<length>:" header`);
  const body = encoded.slice(header.bodyStart);
  const { crc, bytes } = checksumText(body);
  // JSON.stringify escapes lone surrogates, so one here was put there by damage; UTF-8 cannot
  // tell two of them apart (both become U+FFFD), so the checksum alone would not notice. A body of
  // as many bytes as characters is all ASCII, which holds none.
  if (bytes !== body.length && loneSurrogate.test(body)) throw new SnapshotCorruptedError(keys, "the body holds a lone surrogate, which the encoder never writes");
  if (bytes !== header.bytes) {
    throw new SnapshotCorruptedError(keys, `the body is ${bytes} bytes, the header says ${encoded.slice(13, header.bodyStart - 1)} (truncated or altered)`);
  }
  if (crc !== header.crc) throw new SnapshotCorruptedError(keys, `checksum mismatch: the body's CRC-32 is ${hex32(crc)}, the header says ${encoded.slice(4, 12)}`);
  let value: unknown;
  try {
    value = readValue(body);
  } catch (error) {
    throw new SnapshotCorruptedError(keys, `the body does not decode: ${messageOf(error)}`, error);
  }
  return validateSnapshot(value, keys);
}

/**
 * The built-in, dependency-free codec. Its text is an envelope `wf1:<crc32>:<length>:<body>`:
 * the CRC-32 (IEEE, 8 lowercase hex digits) and the length are of the body's UTF-8 bytes, so a
 * truncated record and any single changed character are detected. The body is the snapshot
 * encoded by {@link encodeValue} (its timeline written last), so it nests at most 100 levels,
 * counted from the snapshot itself: `properties` is level 2, and a property's value may nest 98
 * levels of its own. `encode` refuses a deeper snapshot with `SnapshotSerializationError` naming
 * the path of the first container past the limit (`properties.tree.children[0]...`); `decode`
 * rejects a deeper record as corrupted. `decode` also checks the snapshot's shape, its
 * `formatVersion` and that it carries `keys`. Throws `TypeError` for invalid options.
 */
export function createSnapshotCodec(options: SnapshotCodecOptions = {}): SnapshotCodec {
  if (typeof options !== "object" || options === null) throw new TypeError("createSnapshotCodec: options must be an object");
  for (const key of Object.keys(options)) {
    if (key !== "maxSnapshotBytes") throw new TypeError(`createSnapshotCodec: unknown option "${key}"`);
  }
  // Only a missing value means the default: `null` is a mistake worth naming.
  const maxBytes = options.maxSnapshotBytes === undefined ? defaultMaxSnapshotBytes : options.maxSnapshotBytes;
  if (typeof maxBytes !== "number" || !(maxBytes > 0) || (!Number.isSafeInteger(maxBytes) && maxBytes !== Infinity)) {
    throw new TypeError(`createSnapshotCodec: maxSnapshotBytes must be a positive integer or Infinity, got ${typeof maxBytes === "number" ? String(maxBytes) : messageOf(maxBytes)}`);
  }
  return Object.freeze({
    encode: (snapshot: WorkflowExecutionSnapshot) => encodeSnapshot(snapshot, maxBytes),
    decode: (encoded: string, keys: SnapshotKeys) => decodeSnapshot(encoded, keys),
  });
}

/** The built-in codec with the default options. */
export const defaultSnapshotCodec: SnapshotCodec = createSnapshotCodec();


/**
 * `value` when it is a codec (an object with `encode` and `decode` functions); otherwise a
 * `TypeError` naming `what`, the option that gave it.
 */
export function requireCodec(value: unknown, what: string): SnapshotCodec {
  const codec = value as Partial<SnapshotCodec> | null;
  if (typeof codec !== "object" || codec === null || typeof codec.encode !== "function" || typeof codec.decode !== "function") {
    throw new TypeError(`${what} must be an object with encode and decode functions, got ${describe(value)}`);
  }
  return codec as SnapshotCodec;
}
