import { isWorkflowForgeError, messageOf } from "../../errors.js";
import { decodeValue, defaultMaxSnapshotBytes, defaultSnapshotCodec, encodePayloadValue, type SnapshotCodec } from "../codec/codec.js";
import { SnapshotCorruptedError, SnapshotSerializationError, SnapshotTooLargeError, type SnapshotKeys } from "../errors.js";
import type { DeliveredEvent } from "../mailbox.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";

/**
 * `codec.encode(snapshot)` for a provider about to write. A custom codec's own failure (anything
 * that is not a WorkflowForge error), or a result that is not a string, becomes a
 * `SnapshotSerializationError` naming the snapshot's keys, with the original as `cause`.
 */
export function encodeForStorage(codec: SnapshotCodec, snapshot: WorkflowExecutionSnapshot): string {
  const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
  let encoded: unknown;
  try {
    encoded = codec.encode(snapshot);
  } catch (error) {
    if (isWorkflowForgeError(error)) throw error;
    throw new SnapshotSerializationError({ keys, path: "", reason: `the codec's encode failed: ${messageOf(error)}`, cause: error });
  }
  if (typeof encoded !== "string") {
    throw new SnapshotSerializationError({ keys, path: "", reason: `the codec's encode returned ${encoded === null ? "null" : typeof encoded}, not a string` });
  }
  return encoded;
}

/**
 * `codec.decode(text, keys)` for a provider that read a record. Any failure that is not already a
 * `SnapshotCorruptedError` (a custom codec's SyntaxError, say) becomes one naming `keys`, with
 * the original as `cause`.
 */
export function decodeFromStorage(codec: SnapshotCodec, text: string, keys: SnapshotKeys): WorkflowExecutionSnapshot {
  let decoded: unknown;
  try {
    decoded = codec.decode(text, keys);
  } catch (error) {
    // By code rather than class: a codec built on another copy of the package throws its own class.
    if (isWorkflowForgeError(error) && error.code === "SNAPSHOT_CORRUPTED") throw error;
    // A caller that ran out of stack is not a damaged record: calling the same way again fails the
    // same way, but the record itself is fine and must not be treated as permanently unreadable.
    if (error instanceof RangeError && /call stack/i.test(error.message)) throw error;
    throw new SnapshotCorruptedError(keys, `the codec's decode failed: ${messageOf(error)}`, error);
  }
  // Stored text that decodes to nothing (a codec that returns undefined for text it does not know,
  // after a key rotation) is a damaged record: read as no record, its run would start over.
  if (typeof decoded !== "object" || decoded === null) {
    throw new SnapshotCorruptedError(keys, `the codec's decode returned ${decoded === null ? "null" : typeof decoded}, not a snapshot`);
  }
  return decoded as WorkflowExecutionSnapshot;
}

// A custom codec knows only snapshots: an event's payload travels through it as the last output of
// a snapshot of the event's keys that holds nothing else, so an encrypting or size-limiting codec
// treats payloads as it treats snapshots.
function payloadCarrier(event: DeliveredEvent): WorkflowExecutionSnapshot {
  const { foundryExecutionId, workflowId, name, sentAt, payload } = event;
  return { formatVersion: 1, foundryExecutionId, workflowId, workflowName: name, definitionFingerprint: "", operationCount: 0, nextOperationIndex: 0, lastOutput: payload, properties: {}, status: "completed", revision: 0, createdAt: sentAt, updatedAt: sentAt };
}

/**
 * The text an event's payload is stored as: {@link encodePayloadValue}'s with the default codec, so Date,
 * Map, BigInt and the rest round-trip; with a custom codec, its encoding of a snapshot carrying the
 * payload. Throws as encoding a snapshot does (`SnapshotSerializationError`, `SnapshotTooLargeError`),
 * before anything is written.
 */
export function encodePayload(codec: SnapshotCodec, event: DeliveredEvent): string {
  if (codec !== defaultSnapshotCodec) return encodeCarrier(codec, event);
  const text = encodePayloadValue(event.payload);
  refuseOversized(text, event);
  return text;
}

// The carrier's encoding, its errors told in the payload's terms: the caller delivered an event,
// and never saved a snapshot nor set a last output.
function encodeCarrier(codec: SnapshotCodec, event: DeliveredEvent): string {
  try {
    return encodeForStorage(codec, payloadCarrier(event));
  } catch (error) {
    throw inPayloadTerms(error);
  }
}

// By code and fields, not class: a codec built on another copy of the package throws its own.
// What does not say where the payload stands (a codec's own error, one without the fields) is
// left as it is.
function inPayloadTerms(error: unknown): unknown {
  if (!isWorkflowForgeError(error)) return error;
  if (error.code === "SNAPSHOT_TOO_LARGE") {
    const { keys, bytes, maxBytes, outputBytes } = error as SnapshotTooLargeError;
    if (typeof outputBytes?.lastOutput !== "number") return error;
    return new SnapshotTooLargeError({ keys, bytes, maxBytes, largestProperties: [], payloadBytes: outputBytes.lastOutput });
  }
  const { path, reason } = error as Partial<SnapshotSerializationError>;
  if (error.code !== "SNAPSHOT_SERIALIZATION" || typeof path !== "string" || !/^lastOutput\b/.test(path) || typeof reason !== "string") return error;
  return new SnapshotSerializationError({ path: path.replace(/^lastOutput/, "payload"), reason, ...("cause" in error ? { cause: error.cause } : {}) });
}

// The default codec stores a payload without a snapshot around it, so nothing above checked its size;
// but a wait outputs it into its run's snapshot, and a payload no snapshot can hold would fail every
// resume of that run. It is refused as a custom codec refuses it: by encoding the carrier, whose size
// check is exact. That is only needed near the limit: UTF-8 takes at most 3 bytes per UTF-16 unit, JSON
// at most 6 per character of the carrier's strings, and 1 KiB covers its field names and numbers.
function refuseOversized(text: string, event: DeliveredEvent): void {
  const strings = event.foundryExecutionId.length + event.workflowId.length + event.name.length + 2 * event.sentAt.length;
  if (3 * text.length + 6 * strings + 1024 <= defaultMaxSnapshotBytes) return;
  encodeCarrier(defaultSnapshotCodec, event);
}

/** The payload `text` holds, as {@link encodePayload} wrote it for `keys`; `SnapshotCorruptedError` naming them when it does not decode. */
export function decodePayload(codec: SnapshotCodec, text: unknown, keys: SnapshotKeys): unknown {
  if (typeof text !== "string") throw new SnapshotCorruptedError(keys, `an event's payload is stored as ${text === null ? "NULL" : typeof text}, not text`);
  if (codec !== defaultSnapshotCodec) return decodeFromStorage(codec, text, keys).lastOutput;
  try {
    return decodeValue(text);
  } catch (error) {
    throw new SnapshotCorruptedError(keys, `an event's payload does not decode: ${messageOf(error)}`, error);
  }
}
