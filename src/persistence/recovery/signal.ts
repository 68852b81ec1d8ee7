import { requireInstanceObject, requireName, requireOptionalSignal, requireOptionsObject, rejectUnknownKeys, describe } from "../../internal/validate.js";
import type { Clock } from "../../clock.js";
import type { InstanceIdentity } from "../../types.js";
import { receivesEvents, type DeliveredEvent } from "../mailbox.js";
import { callProvider } from "../provider-call.js";
import type { WorkflowPersistenceProvider } from "../provider.js";

/**
 * The longest `eventId`, in characters. A consumed event's id is kept in every later snapshot of its
 * instance (`consumedEvents`), so one far longer than any real id (a UUID has 36) would make each of
 * them too large to store, and strand the instance at its wait.
 */
export const maxEventIdLength = 1_000;

/** Options of `coordinator.signal` and `signalInstance`. */
export interface SignalOptions {
  /** Names this event: delivering the same id again (a retry, a duplicate webhook) stores nothing more. At most {@link maxEventIdLength} characters. @default a random UUID */
  readonly eventId?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** What a delivery did: the event's id, and whether it was stored (false: that id was delivered before). */
export interface SignalResult {
  readonly eventId: string;
  readonly stored: boolean;
}

/** Throws `TypeError` unless `provider` declares the mailbox capability and has its methods. */
export function requireMailbox(provider: WorkflowPersistenceProvider, where: string): asserts provider is WorkflowPersistenceProvider & Required<Pick<WorkflowPersistenceProvider, "deliver" | "receive">> {
  if (receivesEvents(provider) && typeof provider.deliver === "function") return;
  throw new TypeError(`${where}: the provider does not declare capabilities.mailbox (deliver and receive), so it cannot store events; got ${describe(provider)}`);
}

/**
 * Sends the event `event` to an instance, durably and once per `eventId`: its wait (`waitForEvent`)
 * outputs `payload`. The instance need not have reached its wait, or even started: the event is
 * kept until a wait consumes it or the instance's record is deleted. The provider's `deliver` encodes
 * the payload with its codec before it writes anything (`SnapshotSerializationError` names what
 * cannot be stored), so a custom codec's types are accepted here as they are in a snapshot.
 */
export function signalInstance(
  provider: WorkflowPersistenceProvider,
  instance: InstanceIdentity,
  event: string,
  payload?: unknown,
  options: SignalOptions = {},
  clock?: Clock,
): Promise<SignalResult> {
  const where = "signal(instanceId, workflowKey, event, payload, options)";
  requireInstanceObject(instance, "signalInstance(provider, instance, event, payload, options): instance");
  requireName(instance.instanceId, `${where}: instanceId`);
  requireName(instance.workflowKey, `${where}: workflowKey`);
  requireName(event, `${where}: event`);
  rejectUnknownKeys(requireOptionsObject(options, `${where}: options`), ["eventId", "signal"], `${where}: options`);
  if (options.eventId !== undefined) requireEventId(options.eventId, `${where}: options.eventId`);
  requireOptionalSignal(options.signal, `${where}: options.signal`);
  requireMailbox(provider, where);
  return deliver(provider, instance, event, payload, options, clock);
}

function requireEventId(eventId: string, what: string): void {
  requireName(eventId, what);
  if (eventId.length > maxEventIdLength) throw new TypeError(`${what} must be at most ${maxEventIdLength} characters, got ${eventId.length}: an id kept in every later snapshot of the instance`);
}

// Arguments are checked synchronously, above: misuse throws at the call rather than rejecting.
async function deliver(provider: WorkflowPersistenceProvider & Required<Pick<WorkflowPersistenceProvider, "deliver">>, instance: InstanceIdentity, event: string, payload: unknown, options: SignalOptions, clock: Clock | undefined): Promise<SignalResult> {
  const keys = { foundryExecutionId: instance.instanceId, workflowId: instance.workflowKey };
  const eventId = options.eventId ?? globalThis.crypto.randomUUID();
  const delivered: DeliveredEvent = { ...keys, name: event, eventId, payload, sentAt: new Date(clock?.now() ?? Date.now()).toISOString() };
  const stored = await callProvider({ call: "deliver", keys }, () => provider.deliver(delivered, options.signal));
  return { eventId, stored };
}
