// The event file's format: a header line (keys, name, id, when it was sent and delivered) and then
// the payload's encoded text. Pure, like record.ts.

import type { DeliveredEvent } from "../../mailbox.js";

/**
 * The first line of an event file. The keys and the id, so a reader checks it read the instance
 * and the event its path was made for (hashed names are not injective); the name, so receive()
 * decodes only the payloads it returns; `deliveredAt`, which orders a mailbox (see
 * {@link nextDeliveryTime}).
 */
export interface EventHeader {
  readonly format: typeof eventFormat;
  readonly foundryExecutionId: string;
  readonly workflowId: string;
  readonly name: string;
  readonly eventId: string;
  readonly sentAt: string;
  /** Microseconds since the epoch. */
  readonly deliveredAt: number;
}

const eventFormat = "workflowforge-file-event/1";
const textFields = ["foundryExecutionId", "workflowId", "name", "eventId", "sentAt"] as const;

let lastDelivery = 0;

/**
 * The delivery time of a new event, in microseconds: the wall clock's milliseconds, made strictly
 * increasing within this process (every provider object in it shares the sequence), so that one
 * process's deliveries are received in the order it made them, even many per millisecond or after
 * the clock was set back. Deliveries from different processes are ordered by their clocks, which
 * a machine shares: within one millisecond, by the event file's name.
 */
export function nextDeliveryTime(): number {
  lastDelivery = Math.max(Date.now() * 1000, lastDelivery + 1);
  return lastDelivery;
}

/** An event file: the header as one line of JSON (which escapes every newline), then the encoded payload. */
export function formatEvent(event: DeliveredEvent, encodedPayload: string, deliveredAt: number): string {
  const { foundryExecutionId, workflowId, name, eventId, sentAt } = event;
  const header: EventHeader = { format: eventFormat, foundryExecutionId, workflowId, name, eventId, sentAt, deliveredAt };
  return `${JSON.stringify(header)}\n${encodedPayload}`;
}

/** An event file, split. */
export interface EventFile {
  readonly header: EventHeader;
  /** The encoded payload. */
  readonly body: string;
}

function parseHeader(line: string): EventHeader {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error("its first line is not an event header");
  }
  const header = value as Partial<Record<keyof EventHeader, unknown>> | null;
  if (typeof header !== "object" || header === null || header.format !== eventFormat) throw new Error(`its header is not a "${eventFormat}" header`);
  if (!Number.isSafeInteger(header.deliveredAt)) throw new Error("its header has no delivery time");
  for (const field of textFields) if (typeof header[field] !== "string") throw new Error(`its header has no ${field}`);
  return header as EventHeader;
}

/** Splits a whole event file into its header and the encoded payload; throws an Error saying what is wrong. */
export function parseEvent(text: string): EventFile {
  const end = text.indexOf("\n");
  if (end === -1) throw new Error(text.length === 0 ? "the file is empty" : "the file has no header line (truncated or not an event)");
  return { header: parseHeader(text.slice(0, end)), body: text.slice(end + 1) };
}

/** Oldest delivery first; equal times (two processes within a millisecond) by file name, the same for every reader. */
export function byDelivery(a: { header: EventHeader; file: string }, b: { header: EventHeader; file: string }): number {
  return a.header.deliveredAt - b.header.deliveredAt || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0);
}
