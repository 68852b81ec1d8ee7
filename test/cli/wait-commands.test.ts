import { describe, expect, it } from "vitest";
import type { CommandContext } from "../../src/cli/commands.js";
import { CliError } from "../../src/cli/errors.js";
import type { CancelOutcome, InstanceActions } from "../../src/cli/instance-actions.js";
import type { InspectedProvider } from "../../src/cli/stores.js";
import { cancelCommand, signalCommand } from "../../src/cli/wait-commands.js";
import { SnapshotCorruptedError } from "../../src/persistence/errors.js";
import type { WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";
import { seedWaits } from "../support/wait-snapshots.js";

const keys = { foundryExecutionId: "expense-7", workflowId: "expense-v1" };
const [waiting, , , cancelled] = seedWaits() as [WorkflowExecutionSnapshot, WorkflowExecutionSnapshot, WorkflowExecutionSnapshot, WorkflowExecutionSnapshot];
const unused = () => expect.unreachable("not called");

function contextFor(instances: Partial<InstanceActions>, stored?: () => Promise<WorkflowExecutionSnapshot | undefined>, json = false): CommandContext & { text: () => string } {
  let text = "";
  const provider: InspectedProvider = { list: unused, tryLoad: stored ?? (() => Promise.resolve(undefined)), delete: unused, save: unused };
  const store = { provider, instances: { mailbox: true, signal: unused, cancel: unused, ...instances }, label: "the test store", close: () => Promise.resolve() };
  const stderr = { write: (chunk: string) => expect.unreachable(`nothing on stderr, got ${chunk}`) };
  return { store, stdout: { write: (chunk: string) => (text += chunk) }, stderr, now: Date.now(), json, text: () => text };
}

const late = new CliError("TIMEOUT", "the test store: signal did not finish within 10s; check it, or raise --timeout");

describe("signalCommand", () => {
  it("sends the event under a new UUID when no id is given, and names that id when the store does not answer in time", async () => {
    let sentId = "";
    const context = contextFor({ signal: (_keys, event) => ((sentId = event.eventId), Promise.reject(late)) });
    const error: unknown = await signalCommand(context, keys, { name: "approved", payload: 1 }).catch((caught: unknown) => caught);
    expect(sentId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(error).toMatchObject({ code: "TIMEOUT", message: `${late.message}; whether the event was stored is unknown: send it again with --event-id ${sentId}, which delivers it at most once` });
  });

  it("passes the given id, name and payload on unchanged", async () => {
    const sent: unknown[] = [];
    const context = contextFor({ signal: (to, event) => (sent.push([to, event]), Promise.resolve({ eventId: event.eventId, stored: true })) });
    expect(await signalCommand(context, keys, { name: "approved", payload: { by: "ann" }, eventId: "mail-1" })).toBe(0);
    expect(sent).toEqual([[keys, { name: "approved", payload: { by: "ann" }, eventId: "mail-1" }]]);
  });

  it("says the event waits for the instance when it is waiting for another, and that none will take it when it completed", async () => {
    const signal = (_: unknown, event: { eventId: string }) => Promise.resolve({ eventId: event.eventId, stored: true });
    const other = contextFor({ signal }, () => Promise.resolve(waiting));
    await signalCommand(other, keys, { name: "rejected", payload: undefined, eventId: "e-1" });
    expect(other.text()).toMatch(/\nThe instance is waiting \(waiting for approved\): the event is kept until it waits for rejected\.\n$/);
    const finished = contextFor({ signal }, () => Promise.resolve(cancelled));
    await signalCommand(finished, keys, { name: "approved", payload: undefined, eventId: "e-1" });
    expect(finished.text()).toMatch(/\nThe instance is cancelled: no wait of it will receive the event\.\n$/);
  });

  it("says of an event id delivered before that a wait consumed it, whatever the instance's status, rather than promise it to a wait", async () => {
    const signal = (_: unknown, event: { eventId: string }) => Promise.resolve({ eventId: event.eventId, stored: false });
    for (const status of ["completed", "waiting"] as const) {
      const context = contextFor({ signal }, () => Promise.resolve({ ...waiting, status, consumedEvents: ["e-1"] }));
      await signalCommand(context, keys, { name: "approved", payload: undefined, eventId: "e-1" });
      expect(context.text()).toMatch(/ was already delivered to .*\nA wait of the instance consumed that event already: none will receive it again\.\n$/);
    }
  });

  it("says of a completed instance that the event stays stored for a run of its keys again, which rerunCompleted allows by default", async () => {
    const signal = (_: unknown, event: { eventId: string }) => Promise.resolve({ eventId: event.eventId, stored: true });
    const completed = contextFor({ signal }, () => Promise.resolve({ ...cancelled, status: "completed" as const }));
    await signalCommand(completed, keys, { name: "approved", payload: undefined, eventId: "e-1" });
    expect(completed.text()).toMatch(/\nThe instance is completed: the event stays stored, and a wait for approved receives it if these keys run again \(unless rerunCompleted is false\)\.\n$/);
  });

  it("still exits 0 when the event was stored but the snapshot cannot be read afterwards", async () => {
    const unreadable = () => Promise.reject(new SnapshotCorruptedError(keys, "bad checksum"));
    const context = contextFor({ signal: (_, event) => Promise.resolve({ eventId: event.eventId, stored: true }) }, unreadable);
    expect(await signalCommand(context, keys, { name: "approved", payload: undefined, eventId: "e-1" })).toBe(0);
    expect(context.text()).toMatch(/^Sent event approved \(event id e-1\) to instance expense-7 \/ workflow key expense-v1 in the test store\.\nIts snapshot could not be read \(.*bad checksum.*\)\.\n$/);
  });

  it("says with --json that the snapshot could not be read, which a script can tell from nothing stored yet", async () => {
    const signal = (_: unknown, event: { eventId: string }) => Promise.resolve({ eventId: event.eventId, stored: true });
    const unreadable = contextFor({ signal }, () => Promise.reject(new SnapshotCorruptedError(keys, "bad checksum")), true);
    expect(await signalCommand(unreadable, keys, { name: "approved", payload: undefined, eventId: "e-1" })).toBe(0);
    expect(JSON.parse(unreadable.text())).toMatchObject({ stored: true, status: null, unreadable: expect.stringMatching(/^Its snapshot could not be read \(.*bad checksum.*\)\.$/) });
    const absent = contextFor({ signal }, undefined, true);
    await signalCommand(absent, keys, { name: "approved", payload: undefined, eventId: "e-1" });
    expect(JSON.parse(absent.text())).toMatchObject({ stored: true, status: null, unreadable: null });
  });

  it("says a repeated event id was delivered before, and exits 0", async () => {
    const context = contextFor({ signal: (_, event) => Promise.resolve({ eventId: event.eventId, stored: false }) }, () => Promise.resolve(waiting));
    expect(await signalCommand(context, keys, { name: "approved", payload: undefined, eventId: "mail 1" })).toBe(0);
    expect(context.text()).toMatch(/^Event id "mail 1" was already delivered to instance expense-7 \/ workflow key expense-v1 in the test store: nothing changed \(the first delivery's payload stands\)\.\n/);
  });
});

describe("cancelCommand", () => {
  const outcome = (result: CancelOutcome["result"], status?: CancelOutcome["status"]): CancelOutcome => ({ instanceId: "expense-7", workflowKey: "expense-v1", result, ...(status === undefined ? {} : { status }) });

  it("passes --compensate on, and prints each outcome", async () => {
    const asked: boolean[] = [];
    const texts: string[] = [];
    for (const [result, status] of [["cancelled", "running"], ["compensating", "waiting"], ["compensating", "compensating"], ["finished", "cancelled"]] as const) {
      const context = contextFor({ cancel: (_, compensate) => (asked.push(compensate), Promise.resolve(outcome(result, status))) });
      expect(await cancelCommand(context, keys, result === "compensating" && status === "waiting")).toBe(0);
      texts.push(context.text());
    }
    expect(asked).toEqual([false, true, false, false]);
    expect(texts).toEqual([
      "Cancelled instance expense-7 / workflow key expense-v1 in the test store (it was running): it will not run again; the worker running it stops at its next checkpoint.\n",
      "Cancelling instance expense-7 / workflow key expense-v1 in the test store (it was waiting): a recovery coordinator undoes its completed steps, then it ends cancelled.\n",
      "Cancelled instance expense-7 / workflow key expense-v1 in the test store (it was compensating): it finishes undoing its completed steps, then ends cancelled.\n",
      "instance expense-7 / workflow key expense-v1 in the test store is already cancelled: nothing changed.\n",
    ]);
  });

  it("refuses a completed instance and reports keys with nothing stored, as CLI errors that exit 1", async () => {
    const completed = contextFor({ cancel: () => Promise.resolve(outcome("finished", "completed")) });
    await expect(cancelCommand(completed, keys, false)).rejects.toMatchObject({ code: "REFUSED", exitCode: 1, message: "instance expense-7 / workflow key expense-v1 in the test store is completed: there is nothing to cancel" });
    const absent = contextFor({ cancel: () => Promise.resolve(outcome("absent")) });
    await expect(cancelCommand(absent, keys, false)).rejects.toMatchObject({ code: "NOT_FOUND", exitCode: 1, message: "no snapshot for instance expense-7 / workflow key expense-v1 in the test store" });
  });

  it("says a cancel that ran out of time may be run again", async () => {
    const context = contextFor({ cancel: () => Promise.reject(late) });
    await expect(cancelCommand(context, keys, false)).rejects.toMatchObject({ code: "TIMEOUT", message: `${late.message}; whether it was cancelled is unknown: run the command again, which is harmless` });
  });
});
