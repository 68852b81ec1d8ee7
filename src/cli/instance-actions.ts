import type { SnapshotKeys } from "../persistence/errors.js";
import type { WorkflowPersistenceProvider } from "../persistence/provider.js";
import { cancelInstance, type CancelOutcome } from "../persistence/recovery/cancel.js";
import { signalInstance } from "../persistence/recovery/signal.js";
import { CliError } from "./errors.js";
import type { EventToSend } from "./event-args.js";

export type { CancelOutcome } from "../persistence/recovery/cancel.js";

/** Whether `signal` stored the event, or found one with its id already there. */
export interface SentEvent {
  readonly eventId: string;
  readonly stored: boolean;
}

/** The two commands that change an instance through the library: `signal` and `cancel`. */
export interface InstanceActions {
  /** The provider keeps events (`capabilities.mailbox`): `signal` can deliver. */
  readonly mailbox: boolean;
  signal(keys: SnapshotKeys, event: EventToSend & { readonly eventId: string }, signal?: AbortSignal): Promise<SentEvent>;
  cancel(keys: SnapshotKeys, compensate: boolean, signal?: AbortSignal): Promise<CancelOutcome>;
}

const instanceOf = (keys: SnapshotKeys) => ({ instanceId: keys.foundryExecutionId, workflowKey: keys.workflowId });

/**
 * `signal` and `cancel` on `provider` through the library's signalInstance and cancelInstance. A
 * provider that cannot do one (no mailbox, no compare-and-set) is refused with a `STORE` CliError
 * naming the store, not the TypeError the library throws for a programmer.
 */
export function instanceActions(provider: WorkflowPersistenceProvider, label: string): InstanceActions {
  const mailbox = provider.capabilities?.mailbox === true;
  return {
    mailbox,
    async signal(keys, event, signal) {
      if (!mailbox) {
        throw new CliError("REFUSED", `${label} keeps no events: its provider does not declare capabilities.mailbox (deliver() and receive()), which signal needs`);
      }
      const options = { eventId: event.eventId, ...(signal === undefined ? {} : { signal }) };
      return unsupported(label, "signal", () => signalInstance(provider, instanceOf(keys), event.name, event.payload, options));
    },
    cancel: (keys, compensate, signal) => unsupported(label, "cancel", () => cancelInstance(provider, instanceOf(keys), { compensate, ...(signal === undefined ? {} : { signal }) })),
  };
}

// The library rejects with a TypeError what the provider cannot do; for the CLI that is the store's shortcoming.
async function unsupported<T>(label: string, command: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof TypeError) throw new CliError("STORE", `${label} cannot ${command}: ${error.message}`, { cause: error });
    throw error;
  }
}
