import type { SnapshotCodec } from "../codec/codec.js";
import type { ProviderCall, SnapshotKeys } from "../errors.js";
import { eventKeys, type DeliveredEvent } from "../mailbox.js";
import type { PostgresQueryResult } from "./postgres-options.js";
import { decodeKey, encodeKey, type PostgresStatements } from "./postgres-sql.js";
import { requireEvent } from "./shared.js";
import { decodePayload, encodePayload } from "./stored.js";
import { SnapshotCorruptedError } from "../errors.js";

// deliver() and receive() of PostgresPersistenceProvider: one statement each, through the
// provider's query (which sets the tables up on first use and wraps driver errors).

/** The provider's way to send a statement: table setup first, driver errors as PersistenceError. */
export type SendQuery = (call: ProviderCall, keys: SnapshotKeys, signal: AbortSignal | undefined, text: string, values: unknown[]) => Promise<PostgresQueryResult>;

interface EventRow {
  readonly event_id?: unknown;
  readonly payload?: unknown;
  readonly sent_at?: unknown;
}

/** Stores `event` unless its id is there, marks its waiting record due and notifies, in one statement. */
export async function deliverEvent(send: SendQuery, sql: PostgresStatements, codec: SnapshotCodec, event: DeliveredEvent, signal?: AbortSignal): Promise<boolean> {
  requireEvent(event, "PostgresPersistenceProvider.deliver(event)");
  // Encoding first: a payload the codec refuses writes nothing.
  const payload = encodePayload(codec, event);
  const { foundryExecutionId, workflowId, eventId, name, sentAt } = event;
  const values = [encodeKey(foundryExecutionId), encodeKey(workflowId), encodeKey(eventId), encodeKey(name), payload, sentAt, sql.channel];
  const keys = eventKeys(event);
  const { rows } = await send("deliver", keys, signal, sql.deliver, values);
  const { stored, found } = (rows[0] ?? {}) as { stored?: unknown; found?: unknown };
  // An event for an instance with no row yet: a second statement, once the event is committed,
  // marks a row saved waiting in the meantime (see markLate). Deliveries to existing rows never pay it.
  if (stored === 1 && found === 0) await send("deliver", keys, undefined, sql.markLate, [values[0], values[1], values[3], sql.channel]);
  return stored === 1;
}

/** The instance's events named `name`, oldest first, payloads decoded. */
export async function receiveEvents(send: SendQuery, sql: PostgresStatements, codec: SnapshotCodec, keys: SnapshotKeys, name: string, signal?: AbortSignal): Promise<DeliveredEvent[]> {
  const { foundryExecutionId, workflowId } = keys;
  const { rows } = await send("receive", keys, signal, sql.receive, [encodeKey(foundryExecutionId), encodeKey(workflowId), encodeKey(name)]);
  return (rows as EventRow[]).map((row) => {
    const eventId = typeof row.event_id === "string" ? decodeKey(row.event_id) : undefined;
    if (eventId === undefined || typeof row.sent_at !== "string") throw new SnapshotCorruptedError(keys, `an event named ${JSON.stringify(name)} has an event_id or sent_at column no delivery writes`);
    return { foundryExecutionId, workflowId, name, eventId, payload: decodePayload(codec, row.payload, keys), sentAt: row.sent_at };
  });
}
