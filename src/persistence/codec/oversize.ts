// What a SnapshotTooLargeError reports, only on that failure path: the size of the largest
// properties and of the outputs. For a snapshot whose encoded text is longer than the runtime's
// longest string, so that it is refused like any other snapshot over the budget, the sizes are
// measured without writing the text, which cannot be done.
import { binaryTypes, runtimeBuffer } from "./binary.js";
import { checksumText } from "./checksum.js";
import { Rejection, writeValue } from "./encode.js";
import { maxDepth } from "./plain.js";
import { SnapshotTooLargeError, type PropertySize, type SnapshotKeys } from "../errors.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";

/** The longest string V8 holds on 64-bit Node.js, in UTF-16 code units. */
export const maxStringLength = 2 ** 29 - 24;

/**
 * True for what V8 throws where a string would be longer than it can hold ({@link maxStringLength}),
 * also when the walk wrapped it as the reason a value could not be written.
 */
export function isTooLongForString(error: unknown): boolean {
  const cause = error instanceof Rejection ? error.cause : error;
  return cause instanceof RangeError && /invalid string length/i.test(cause.message);
}

/** UTF-8 bytes of JSON.stringify(text), counted rather than written. */
function quotedBytes(text: string): number {
  let bytes = 2;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 || c === 0x5c || c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d) bytes += 2;
    else if (c < 0x20) bytes += 6;
    else if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c < 0xd800 || c > 0xdfff) bytes += 3;
    else if (c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 6; // a lone surrogate, escaped as \udxxx
  }
  return bytes;
}

// The items' sizes plus one comma between each two.
function listBytes(items: Iterable<unknown>, level: number, each = (item: unknown) => measuredBytes(item, level)): number {
  let bytes = 0;
  let count = 0;
  for (const item of items) {
    bytes += each(item);
    count++;
  }
  return bytes + Math.max(count - 1, 0);
}

/**
 * The UTF-8 size of what `writeValue(value)` writes, walked rather than written: exact for what
 * the walk stores (strings, plain objects, arrays, Maps, Sets, Errors, binary values) and for
 * other leaves, which are written. A value that cannot be stored counts 0, and so does what nests
 * deeper than the limit (a cycle): the sizes are then at least what is reported.
 */
export function measuredBytes(value: unknown, level = 1): number {
  if (typeof value === "string") return quotedBytes(value);
  if (level > maxDepth) return 0;
  const proto = typeof value === "object" && value !== null ? (Object.getPrototypeOf(value) as unknown) : undefined;
  const inner = level + 1;
  try {
    if (proto === Array.prototype) return 2 + listBytes(Array.from(value as unknown[]), inner);
    if (proto === Object.prototype || proto === null) {
      const record = value as Record<string, unknown>;
      const escaped = Object.hasOwn(record, "$wf");
      // {"a":1} or, with its own "$wf" key, {"$wf":"obj","v":[["a",1]]}
      const entry = (key: unknown): number => quotedBytes(key as string) + 1 + measuredBytes(record[key as string], inner) + (escaped ? 2 : 0);
      return (escaped ? 20 : 2) + listBytes(Object.keys(record), inner, entry);
    }
    if (proto === Map.prototype) {
      const entry = (pair: unknown): number => 3 + measuredBytes((pair as unknown[])[0], inner) + measuredBytes((pair as unknown[])[1], inner);
      return 20 + listBytes(value as Map<unknown, unknown>, inner, entry);
    }
    if (proto === Set.prototype) return 20 + listBytes(value as Set<unknown>, inner);
    if (value instanceof Error) {
      const stack = typeof value.stack === "string" ? 9 + quotedBytes(value.stack) : 0;
      const cause = Object.hasOwn(value, "cause") ? 9 + measuredBytes(value.cause, inner) : 0;
      return 32 + quotedBytes(String(value.name)) + quotedBytes(String(value.message)) + stack + cause;
    }
    const binary = proto === undefined ? undefined : binaryBytes(value as ArrayBufferView, proto);
    if (binary !== undefined) return binary;
    return checksumText(writeValue(value)).bytes;
  } catch {
    return 0;
  }
}

// {"$wf":"bytes","t":"Uint8Array","v":"<base64>"} or {"$wf":"ab","v":"<base64>"}; undefined for
// anything else.
function binaryBytes(value: ArrayBufferView | ArrayBuffer, proto: unknown): number | undefined {
  const base64 = 4 * Math.ceil(value.byteLength / 3);
  if (proto === ArrayBuffer.prototype) return 19 + base64;
  if (proto === runtimeBuffer()?.prototype) return 35 + base64;
  const name = Object.keys(binaryTypes).find((key) => binaryTypes[key as keyof typeof binaryTypes].prototype === proto);
  return name === undefined ? undefined : 29 + name.length + base64;
}

/** The UTF-8 size of a value's encoding. */
export type Size = (value: unknown) => number;

// `size` of what `read` returns, 0 when reading it throws (a getter): only sizes are reported here.
function sizeOf(read: () => unknown, size: Size): number {
  try {
    const value = read();
    return value === undefined ? 0 : size(value);
  } catch {
    return 0;
  }
}

export const writtenBytes: Size = (value) => checksumText(writeValue(value)).bytes;

// Only on the failure path: the size of each property's encoded value, largest first.
function largestProperties(snapshot: WorkflowExecutionSnapshot, size: Size): PropertySize[] {
  const properties: unknown = snapshot.properties;
  if (typeof properties !== "object" || properties === null) return [];
  return Object.keys(properties)
    .map((key) => ({ key, bytes: sizeOf(() => (properties as Record<string, unknown>)[key], size) }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 5);
}

// Only on the failure path: what the last output and the restore data take, when there are any;
// an operation that returned megabytes is as likely a cause as a property.
function outputSizes(snapshot: WorkflowExecutionSnapshot, size: Size): { outputBytes?: { lastOutput: number; outputs: number } } {
  const outputs = typeof snapshot.outputs === "object" && snapshot.outputs !== null ? Object.keys(snapshot.outputs).map((key) => () => (snapshot.outputs as Record<string, unknown>)[key]) : [];
  if (snapshot.lastOutput === undefined && outputs.length === 0) return {};
  return { outputBytes: { lastOutput: sizeOf(() => snapshot.lastOutput, size), outputs: outputs.reduce((sum: number, read) => sum + sizeOf(read, size), 0) } };
}

/** The error for `snapshot` of `keys`, encoded in `bytes` over `maxBytes`, its parts measured by `size`. Only on the failure path. */
export function tooLargeError(snapshot: WorkflowExecutionSnapshot, keys: SnapshotKeys, bytes: number, maxBytes: number, size: Size): SnapshotTooLargeError {
  return new SnapshotTooLargeError({ keys, bytes, maxBytes, largestProperties: largestProperties(snapshot, size), ...outputSizes(snapshot, size) });
}
