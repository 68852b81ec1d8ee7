import type { ErrorLocation } from "../errors.js";
import type { SnapshotKeys } from "./errors.js";
import { callProvider } from "./provider-call.js";
import type { WorkflowPersistenceProvider } from "./provider.js";

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
 * The first of `events` (oldest first, as `receive` returns them) that no wait consumed yet and
 * that `accept` (default: any) takes: what the next wait for their name receives.
 */
export function nextEvent(
  events: readonly DeliveredEvent[],
  consumed: readonly string[] | undefined,
  accept?: (event: DeliveredEvent) => boolean,
): DeliveredEvent | undefined {
  if ((consumed === undefined || consumed.length === 0) && accept === undefined) return events[0];
  const taken = new Set(consumed);
  return events.find((event) => !taken.has(event.eventId) && (accept === undefined || accept(event)));
}

/** The instance keys of `event`. */
export function eventKeys(event: DeliveredEvent): SnapshotKeys {
  return { foundryExecutionId: event.foundryExecutionId, workflowId: event.workflowId };
}

/** A provider that can read an instance's events. */
export type ReceivingProvider = WorkflowPersistenceProvider & Required<Pick<WorkflowPersistenceProvider, "receive">>;

/** True when `provider` declares the mailbox capability and has `receive()`: declared, never probed. */
export function receivesEvents(provider: WorkflowPersistenceProvider): provider is ReceivingProvider {
  return provider.capabilities?.mailbox === true && typeof provider.receive === "function";
}

/**
 * What the next wait for `name` of the instance `keys` receives: the first event of that name its
 * waits have not consumed (`consumed`) and `accept` takes, read from the mailbox through the typed
 * provider call.
 */
export async function pendingEvent(
  provider: ReceivingProvider,
  keys: SnapshotKeys,
  name: string,
  consumed: readonly string[] | undefined,
  signal: AbortSignal,
  location?: ErrorLocation,
  accept?: (event: DeliveredEvent) => boolean,
): Promise<DeliveredEvent | undefined> {
  const events = await callProvider({ call: "receive", keys, location }, () => provider.receive(keys, name, signal));
  return nextEvent(events, consumed, accept);
}
