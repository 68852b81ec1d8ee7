import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { deleteCommand, pruneCommand, type CommandContext } from "../../src/cli/commands.js";
import { cliOwner } from "../../src/cli/delete-as-read.js";
import type { InspectedProvider } from "../../src/cli/stores.js";
import { createSnapshotCodec, defaultMaxSnapshotBytes } from "../../src/persistence/codec/codec.js";
import { MemoryPersistenceProvider } from "../../src/persistence/providers/memory.js";
import type { WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";
import { deliveredEvent, fullSnapshot, waitingSnapshot } from "../../src/persistence/testing/fixtures.js";
import { seededFileStore } from "../support/file-store.js";

const root = mkdtempSync(join(tmpdir(), "workflowforge-cli-delete-as-read-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const day = 86_400_000;
const at = (msFromNow: number): string => new Date(Date.now() + msFromNow).toISOString();
const olderThanADay = { olderThan: { text: "1d", ms: day } };

function contextFor(provider: InspectedProvider): CommandContext {
  const instances = { mailbox: false, signal: () => expect.unreachable("no signal"), cancel: () => expect.unreachable("no cancel") };
  const store = { provider, instances, label: "the test store", close: () => Promise.resolve() };
  const ignore = { write: () => true };
  return { store, stdout: ignore, stderr: ignore, now: Date.now(), json: true };
}

/** `real`, except that its first `delete` fails (the connection drops) without deleting anything. */
function firstDeleteFails(real: InspectedProvider): InspectedProvider {
  let failed = false;
  return {
    capabilities: real.capabilities,
    list: (filter, signal, options) => real.list(filter, signal, options),
    tryLoad: (id, key) => real.tryLoad(id, key),
    delete: (id, key) => {
      if (failed) return real.delete(id, key);
      failed = true;
      return Promise.reject(new Error("connection lost"));
    },
    save: (snapshot) => real.save(snapshot),
  };
}

/** The memory provider through the asynchronous calls the commands make. */
function asInspected(memory: MemoryPersistenceProvider): InspectedProvider {
  return {
    capabilities: memory.capabilities,
    list: (filter, signal, options) => memory.list(filter, signal, options),
    tryLoad: (id, key) => Promise.resolve().then(() => memory.tryLoad(id, key)),
    delete: (id, key) => Promise.resolve().then(() => memory.delete(id, key)),
    save: (snapshot) => Promise.resolve().then(() => memory.save(snapshot)),
  };
}

const keysOf = ({ foundryExecutionId, workflowId }: WorkflowExecutionSnapshot) => ({ foundryExecutionId, workflowId });

/** `real`, except that another process deletes the record just after the first `tryLoad` reads it. */
function deletedAfterFirstRead(real: InspectedProvider): InspectedProvider {
  let raced = false;
  return {
    ...firstDeleteFails(real),
    delete: (id, key) => real.delete(id, key),
    tryLoad: async (id, key) => {
      const read = await real.tryLoad(id, key);
      if (!raced) await real.delete(id, key);
      raced = true;
      return read;
    },
  };
}

/** A context for `provider` whose stdout is kept, in text. */
function textContextFor(provider: InspectedProvider): CommandContext & { readonly printed: () => string } {
  let printed = "";
  return { ...contextFor(provider), json: false, stdout: { write: (text: string) => (printed += text) }, printed: () => printed };
}

describe("deleting a record as it was read", () => {
  it("gives the claim back, keeping the record's age, when the delete fails after the claim", async () => {
    const failed = fullSnapshot({ updatedAt: at(-3 * day), owner: "worker-1", leaseExpiresAt: at(-2 * day) });
    const { provider } = await seededFileStore(root, [failed]);
    const error: unknown = await deleteCommand(contextFor(firstDeleteFails(provider)), keysOf(failed), false).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ message: "connection lost" });
    const left = await provider.tryLoad(failed.foundryExecutionId, failed.workflowId);
    expect(left).toMatchObject({ owner: "worker-1", leaseExpiresAt: failed.leaseExpiresAt, updatedAt: failed.updatedAt, status: "failed" });
    const pruned = contextFor(provider);
    expect(await pruneCommand(pruned, olderThanADay, false)).toBe(0);
    expect(await provider.tryLoad(failed.foundryExecutionId, failed.workflowId)).toBeUndefined();
  });

  it("keeps the record's age in the claim, so that a claim left behind does not hide it from prune --older-than", async () => {
    const failed = fullSnapshot({ updatedAt: at(-3 * day) });
    const { provider } = await seededFileStore(root, [failed]);
    let claimed: WorkflowExecutionSnapshot | undefined;
    const recording: InspectedProvider = { ...firstDeleteFails(provider), save: (snapshot) => ((claimed ??= snapshot), provider.save(snapshot)) };
    await deleteCommand(contextFor(recording), keysOf(failed), false).catch(() => undefined);
    expect(claimed).toMatchObject({ owner: cliOwner, updatedAt: failed.updatedAt });
  });

  it("does not count a live claim of the CLI's own (one that died between the claim and the delete) as another process's", async () => {
    const orphaned = fullSnapshot({ updatedAt: at(-3 * day), owner: cliOwner, leaseExpiresAt: at(30_000) });
    const orphanedToo = fullSnapshot({ updatedAt: at(-3 * day), owner: cliOwner, leaseExpiresAt: at(30_000) });
    const { provider } = await seededFileStore(root, [orphaned, orphanedToo]);
    expect(await deleteCommand(contextFor(provider), keysOf(orphaned), false)).toBe(0);
    expect(await pruneCommand(contextFor(provider), olderThanADay, false)).toBe(0);
    expect(await provider.list({}, undefined, {})).toEqual([]);
  });

  it("does not claim a waiting record, whose delivered event a claim's save would no longer mark due", async () => {
    const memory = new MemoryPersistenceProvider();
    const waiting = waitingSnapshot({ waitingFor: "approved", updatedAt: at(-3 * day) });
    memory.save(waiting);
    await memory.deliver(deliveredEvent(keysOf(waiting)));
    const error: unknown = await deleteCommand(contextFor(firstDeleteFails(asInspected(memory))), keysOf(waiting), false).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ message: "connection lost" });
    const claimed = await memory.claim({ owner: "worker-1", now: at(60_000), leaseExpiresAt: at(90_000), limit: 10, maxAttempts: 3 });
    expect(claimed.map((snapshot) => snapshot.foundryExecutionId)).toEqual([waiting.foundryExecutionId]);
  });

  it("says a record deleted by another since it was read is not there, as for nothing stored, rather than saved again", async () => {
    const failed = fullSnapshot({ updatedAt: at(-3 * day) });
    const { provider } = await seededFileStore(root, [failed]);
    const error: unknown = await deleteCommand(contextFor(deletedAfterFirstRead(provider)), keysOf(failed), false).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "NOT_FOUND", message: expect.stringMatching(/^no snapshot for instance .* in the test store: it was deleted since it was read$/) });
    expect((error as Error).message).not.toContain("saved again");
  });

  it("with --force, does for a record deleted by another since it was read what it does with nothing stored: exit 0", async () => {
    const failed = fullSnapshot({ updatedAt: at(-3 * day) });
    const { provider } = await seededFileStore(root, [failed]);
    const context = textContextFor(deletedAfterFirstRead(provider));
    expect(await deleteCommand(context, keysOf(failed), true)).toBe(0);
    expect(context.printed()).toMatch(/^No snapshot of instance .* in the test store; removed what was kept for those keys/);
  });

  it("prunes a record deleted by another since it was listed as gone, not as saved again", async () => {
    const failed = fullSnapshot({ updatedAt: at(-3 * day) });
    const { provider } = await seededFileStore(root, [failed]);
    const context = textContextFor(deletedAfterFirstRead(provider));
    expect(await pruneCommand({ ...context, json: true }, olderThanADay, false)).toBe(0);
    expect(JSON.parse(context.printed())).toMatchObject({ matched: 1, deleted: 0, skipped: 0, items: [{ outcome: "gone" }] });
  });

  it("deletes a record too close to the size limit to be claimed, without the claim", async () => {
    const near = nearTheSizeLimit();
    const { provider } = await seededFileStore(root, [near, { ...near, foundryExecutionId: `${near.foundryExecutionId}-2` }]);
    expect(await deleteCommand(contextFor(provider), keysOf(near), true)).toBe(0);
    expect(await deleteCommand(contextFor(provider), { ...keysOf(near), foundryExecutionId: `${near.foundryExecutionId}-2` }, false)).toBe(0);
    expect(await provider.list({}, undefined, {})).toEqual([]);
  });

  it("prunes a record too close to the size limit to be claimed", async () => {
    const { provider } = await seededFileStore(root, [nearTheSizeLimit()]);
    const context = contextFor(provider);
    expect(await pruneCommand(context, olderThanADay, false)).toBe(0);
    expect(await provider.list({}, undefined, {})).toEqual([]);
  });
});

// A failed record without owner or lease whose encoding is 10 bytes under the default limit: the
// claim's owner and lease (about 70 bytes) take it over.
function nearTheSizeLimit(): WorkflowExecutionSnapshot {
  const unlimited = createSnapshotCodec({ maxSnapshotBytes: Infinity });
  const record = (padding: number): WorkflowExecutionSnapshot => {
    const snapshot: Record<string, unknown> = { ...fullSnapshot({ updatedAt: at(-3 * day), properties: { padding: "x".repeat(padding) } }) };
    delete snapshot.owner;
    delete snapshot.leaseExpiresAt;
    return snapshot as unknown as WorkflowExecutionSnapshot;
  };
  const target = defaultMaxSnapshotBytes - 10;
  // Twice: the envelope's header names the body's length, whose digits grow with the padding.
  let padding = target - unlimited.encode(record(0)).length;
  padding += target - unlimited.encode(record(padding)).length;
  const near = record(padding);
  expect(unlimited.encode(near).length).toBe(target);
  return near;
}
