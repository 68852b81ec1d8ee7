import { requireFunction } from "../../internal/validate.js";
import { deepCopy } from "../clone.js";
import type { SnapshotCodec } from "../codec/codec.js";
import { messageOf } from "../../errors.js";
import { SnapshotSerializationError, type SnapshotKeys } from "../errors.js";
import type { DeliveredEvent } from "../mailbox.js";
import { decodePayload, encodePayload } from "./stored.js";

// The memory provider's event mailbox: each instance's events in the order they were first
// delivered, at most one per eventId, and the listeners subscribe() registered.

/** How a payload is kept: the codec's text (see encodePayload), or (live) a deep copy of the object. */
export interface PayloadStorage {
  readonly write: (event: DeliveredEvent) => unknown;
  readonly read: (data: unknown, keys: SnapshotKeys) => unknown;
}

/** Payloads as `codec` stores them: what a durable store with that codec accepts and refuses, a Date or Map coming back as itself. */
export function encodedPayloads(codec: SnapshotCodec): PayloadStorage {
  return { write: (event) => encodePayload(codec, event), read: (data, keys) => decodePayload(codec, data, keys) };
}

/** Payloads as deep copies, for `{ live: true }`: one that cannot be copied (a function) is refused, as a durable store refuses it. */
export const livePayloads: PayloadStorage = { write: liveCopy, read: deepCopy };

function liveCopy({ foundryExecutionId, workflowId, payload }: DeliveredEvent): unknown {
  try {
    return deepCopy(payload);
  } catch (error) {
    throw new SnapshotSerializationError({ keys: { foundryExecutionId, workflowId }, path: "payload", reason: `it cannot be copied: ${messageOf(error)}`, cause: error });
  }
}

interface StoredEvent {
  readonly name: string;
  readonly eventId: string;
  readonly data: unknown;
  readonly sentAt: string;
}

// One instance's events: the ids for first-write-wins, the events in delivery order.
interface Box {
  readonly ids: Set<string>;
  readonly events: StoredEvent[];
}

export class MemoryMailbox {
  // By instance, then by workflow, as the provider keeps its snapshots.
  readonly #boxes = new Map<string, Map<string, Box>>();
  readonly #listeners = new Set<() => void>();
  readonly #payloads: PayloadStorage;

  constructor(payloads: PayloadStorage) {
    this.#payloads = payloads;
  }

  /** Stores `event` unless its instance has its eventId; true when stored. The payload is written first: one it refuses stores nothing. */
  deliver(event: DeliveredEvent): boolean {
    const { foundryExecutionId, workflowId, name, eventId, sentAt } = event;
    const data = this.#payloads.write(event);
    let workflows = this.#boxes.get(foundryExecutionId);
    let box = workflows?.get(workflowId);
    if (box?.ids.has(eventId) === true) return false;
    if (workflows === undefined) this.#boxes.set(foundryExecutionId, (workflows = new Map<string, Box>()));
    if (box === undefined) workflows.set(workflowId, (box = { ids: new Set(), events: [] }));
    box.ids.add(eventId);
    box.events.push({ name, eventId, data, sentAt });
    return true;
  }

  receive(keys: SnapshotKeys, name: string): DeliveredEvent[] {
    const { foundryExecutionId, workflowId } = keys;
    const events = this.#boxes.get(foundryExecutionId)?.get(workflowId)?.events ?? [];
    return events.filter((event) => event.name === name).map(({ eventId, data, sentAt }) => ({ foundryExecutionId, workflowId, name, eventId, payload: this.#payloads.read(data, keys), sentAt }));
  }

  /** True when the instance holds an event named `name` whose id is not in `consumed`: what a wait for it would receive. */
  holdsUnconsumed(keys: SnapshotKeys, name: string, consumed: readonly string[] | undefined): boolean {
    const events = this.#boxes.get(keys.foundryExecutionId)?.get(keys.workflowId)?.events ?? [];
    return events.some((event) => event.name === name && consumed?.includes(event.eventId) !== true);
  }

  delete(keys: SnapshotKeys): void {
    const workflows = this.#boxes.get(keys.foundryExecutionId);
    if (workflows?.delete(keys.workflowId) === true && workflows.size === 0) this.#boxes.delete(keys.foundryExecutionId);
  }

  /** Adds `listener` until the returned function is called. */
  subscribe(listener: () => void): () => Promise<void> {
    requireFunction(listener, "MemoryPersistenceProvider.subscribe(listener): listener");
    // A function of its own per call, so subscribing one listener twice needs two stops.
    const entry = () => listener();
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
      return Promise.resolve();
    };
  }

  /** Tells every listener, after the current call returns, that a record became due. */
  notify(): void {
    for (const entry of this.#listeners) {
      queueMicrotask(() => {
        // Checked again: a listener stopped meanwhile is never called after its stop() resolved.
        if (!this.#listeners.has(entry)) return;
        try {
          entry();
        } catch {
          // A hint to look, never the only way to find due work: a failing listener only misses one.
        }
      });
    }
  }
}
