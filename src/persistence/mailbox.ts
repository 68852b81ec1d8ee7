import type { SnapshotKeys } from "./errors.js";

/**
 * One event sent to an instance (`coordinator.signal`), as a provider's mailbox stores it: at most
 * once per `eventId` and instance, whoever delivers it and however often.
 */
export interface DeliveredEvent {
  readonly foundryExecutionId: string;
  readonly workflowId: string;
  /** What `waitForEvent` waits for. */
  readonly name: string;
  /** Unique per instance: a second delivery with the same id is the same event, stored once. */
  readonly eventId: string;
  readonly payload: unknown;
  /** When the first delivery was made (ISO 8601). */
  readonly sentAt: string;
}

/**
 * The first of `events` (oldest first, as `receive` returns them) that no wait consumed yet: what
 * the next wait for their name receives.
 */
export function nextEvent(events: readonly DeliveredEvent[], consumed: readonly string[] | undefined): DeliveredEvent | undefined {
  if (consumed === undefined || consumed.length === 0) return events[0];
  const taken = new Set(consumed);
  return events.find((event) => !taken.has(event.eventId));
}

/** The instance keys of `event`. */
export function eventKeys(event: DeliveredEvent): SnapshotKeys {
  return { foundryExecutionId: event.foundryExecutionId, workflowId: event.workflowId };
}
