// signal and cancel: the two commands that act on an instance through the library's own
// signalInstance and cancelInstance, so that the CLI sends and cancels exactly as a coordinator does.

import { randomUUID } from "node:crypto";
import type { SnapshotKeys } from "../persistence/errors.js";
import type { WorkflowExecutionSnapshot } from "../persistence/snapshot.js";
import type { CommandContext } from "./commands.js";
import { CliError, describeCause } from "./errors.js";
import type { EventToSend } from "./event-args.js";
import { describeKeys, displayKey } from "./format.js";
import type { CancelOutcome } from "./instance-actions.js";
import { toJson } from "./json.js";
import { quotedKeyHint } from "./key-args.js";

/**
 * `signal`: delivers the event (at most once per event id), then says what the instance will do
 * with it. A duplicate id is not an error: the event was delivered before, and stays as it was.
 */
export async function signalCommand(context: CommandContext, keys: SnapshotKeys, event: EventToSend): Promise<number> {
  // The id is chosen here, not by the library, so that a timeout can name it: sent again with
  // that id, the event is delivered once however many of the attempts reached the store.
  const eventId = event.eventId ?? randomUUID();
  const sent = await context.store.instances.signal(keys, { ...event, eventId }).catch((error: unknown) => {
    if (!(error instanceof CliError && error.code === "TIMEOUT")) throw error;
    const again = `whether the event was stored is unknown: send it again with --event-id ${displayKey(eventId)}, which delivers it at most once`;
    throw new CliError("TIMEOUT", `${error.message}; ${again}`, { cause: error });
  });
  const found = await readAfter(context, keys);
  const json = { instance: keys.foundryExecutionId, workflowKey: keys.workflowId, event: event.name, eventId, stored: sent.stored, status: found.snapshot?.status ?? null, waitingFor: found.snapshot?.waitingFor ?? null, unreadable: found.text ?? null };
  if (context.json) context.stdout.write(`${toJson(json)}\n`);
  else context.stdout.write(`${sentText(context, keys, event.name, eventId, sent.stored)}\n${found.text ?? fateOf(found.snapshot, event.name, keys, sent.stored ? undefined : eventId)}\n`);
  return 0;
}

function sentText(context: CommandContext, keys: SnapshotKeys, name: string, eventId: string, stored: boolean): string {
  if (!stored) return `Event id ${displayKey(eventId)} was already delivered to ${describeKeys(keys)} in ${context.store.label}: nothing changed (the first delivery's payload stands).`;
  return `Sent event ${displayKey(name)} (event id ${displayKey(eventId)}) to ${describeKeys(keys)} in ${context.store.label}.`;
}

// What becomes of the event, from the record as it is now. Only a report: the event is stored
// whatever the record says, so a record that cannot be read does not fail the command.
async function readAfter(context: CommandContext, keys: SnapshotKeys): Promise<{ snapshot?: WorkflowExecutionSnapshot; text?: string }> {
  try {
    const snapshot = await context.store.provider.tryLoad(keys.foundryExecutionId, keys.workflowId);
    return snapshot === undefined ? {} : { snapshot };
  } catch (error) {
    return { text: `Its snapshot could not be read (${describeCause(error)}).` };
  }
}

// `deliveredBefore`: the id of an event that was already there, which a wait may have consumed.
function fateOf(snapshot: WorkflowExecutionSnapshot | undefined, name: string, keys: SnapshotKeys, deliveredBefore?: string): string {
  if (snapshot === undefined) return `No snapshot is stored under these keys yet: the event is kept until the instance's run reaches a wait for it${quotedKeyHint(keys)}.`;
  if (deliveredBefore !== undefined && snapshot.consumedEvents?.includes(deliveredBefore) === true) return "A wait of the instance consumed that event already: none will receive it again.";
  const { status, waitingFor } = snapshot;
  if (status === "cancelled") return "The instance is cancelled: no wait of it will receive the event.";
  // A kept completed record runs again from its first operation (rerunCompleted, by default), whose waits take what is stored.
  if (status === "completed") return `The instance is completed: the event stays stored, and a wait for ${name} receives it if these keys run again (unless rerunCompleted is false).`;
  if (status === "waiting" && waitingFor === name) return "The instance was waiting for it: a recovery coordinator resumes it.";
  return `The instance is ${status}${waitingFor === undefined ? "" : ` (waiting for ${displayKey(waitingFor)})`}: the event is kept until it waits for ${displayKey(name)}.`;
}

/**
 * `cancel`: a waiting, failed or running instance ends `cancelled` (with `--compensate`, after its
 * completed steps are undone). Cancelling a cancelled instance changes nothing and is not an error;
 * a completed one, or none, exits 1.
 */
export async function cancelCommand(context: CommandContext, keys: SnapshotKeys, compensate: boolean): Promise<number> {
  const outcome = await context.store.instances.cancel(keys, compensate).catch((error: unknown) => {
    if (!(error instanceof CliError && error.code === "TIMEOUT")) throw error;
    throw new CliError("TIMEOUT", `${error.message}; whether it was cancelled is unknown: run the command again, which is harmless`, { cause: error });
  });
  const where = `${describeKeys(keys)} in ${context.store.label}`;
  if (outcome.result === "absent") throw new CliError("NOT_FOUND", `no snapshot for ${where}${quotedKeyHint(keys)}`);
  if (outcome.result === "finished" && outcome.status !== "cancelled") throw new CliError("REFUSED", `${where} is ${outcome.status ?? "finished"}: there is nothing to cancel`);
  // The library reports the status stored before the cancellation.
  const json = { instance: keys.foundryExecutionId, workflowKey: keys.workflowId, result: outcome.result, previousStatus: outcome.status ?? null };
  context.stdout.write(context.json ? `${toJson(json)}\n` : `${cancelText(outcome, where)}\n`);
  return 0;
}

function cancelText({ result, status }: CancelOutcome, where: string): string {
  const was = status === undefined ? "" : ` (it was ${status})`;
  switch (result) {
    case "cancelled":
      return `Cancelled ${where}${was}: it will not run again${status === "running" ? "; the worker running it stops at its next checkpoint" : ""}.`;
    case "compensating":
      if (status === "compensating") return `Cancelled ${where}${was}: it finishes undoing its completed steps, then ends cancelled.`;
      return `Cancelling ${where}${was}: a recovery coordinator undoes its completed steps, then it ends cancelled.`;
    case "finished":
    case "absent":
      return `${where} is already cancelled: nothing changed.`;
  }
}
