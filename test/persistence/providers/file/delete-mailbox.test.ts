import type * as fsPromises from "node:fs/promises";
import { describe, expect, it, vi } from "vitest";
import type { SnapshotKeys } from "../../../../src/persistence/errors.js";
import type { FilePersistenceProvider } from "../../../../src/persistence/providers/file/index.js";
import { fullSnapshot } from "../../../../src/persistence/testing/fixtures.js";
import { useFileStore } from "../../../support/file-store.js";
import { deferred, settledWithin } from "../../../support/promises.js";

// A delete moves the mailbox aside, removes the record, then removes the moved mailbox, all under
// the instance's lock: a new run of the same keys, whose first save needs that lock, waits for all
// of it, and an event delivered once the mailbox was moved aside is kept for the next instance.

// Holds a delete at its removal of the moved-aside mailbox (a writer's own name, t-….tmp) until
// released; `afterLink` runs once an event is linked into its mailbox, before the delivery goes on.
const gate: { paused?: Promise<void> | undefined; reached?: () => void; afterLink?: (() => Promise<void>) | undefined } = {};
vi.mock("node:fs/promises", async (importOriginal) => {
  const fs = await importOriginal<typeof fsPromises>();
  const rm = (async (path: string, ...rest: unknown[]) => {
    const paused = gate.paused;
    if (paused !== undefined && /\/t-[^/]*\.tmp$/.test(String(path))) {
      gate.paused = undefined;
      gate.reached?.();
      await paused;
    }
    return (fs.rm as (...args: unknown[]) => unknown)(path, ...rest);
  }) as typeof fs.rm;
  const link = (async (from: string, to: string) => {
    await fs.link(from, to);
    const afterLink = gate.afterLink;
    gate.afterLink = undefined;
    await afterLink?.();
  }) as typeof fs.link;
  return { ...fs, default: { ...fs, rm, link }, rm, link };
});

const files = useFileStore("delete-mailbox");

/** Starts `deleter.delete(keys)` and resolves once it is held at its removal of the moved-aside mailbox, the record gone. */
async function deleteHeldAtRemoval(deleter: FilePersistenceProvider, keys: SnapshotKeys): Promise<{ deleting: Promise<void>; release: () => void }> {
  const release = deferred();
  const reached = deferred();
  gate.paused = release.promise;
  gate.reached = reached.resolve;
  const deleting = deleter.delete(keys.foundryExecutionId, keys.workflowId);
  await reached.promise;
  return { deleting, release: release.resolve };
}

describe("FilePersistenceProvider.delete() beside a new run of the same keys", () => {
  it("keeps the new run out until the mailbox is gone, so an event delivered to the new run stays", async () => {
    const [deleter, runner] = [files.provider(), files.provider()];
    const keys = { foundryExecutionId: "order-1", workflowId: "ship" };
    await deleter.save(fullSnapshot({ ...keys, revision: 1, status: "completed" }));
    expect(await deleter.deliver({ ...keys, name: "approved", eventId: "e-0", sentAt: new Date().toISOString(), payload: { ok: false } })).toBe(true);
    const { deleting, release } = await deleteHeldAtRemoval(deleter, keys);
    // The record is gone, its old mailbox not yet: the new run's first save waits for the delete.
    const saving = runner.save(fullSnapshot({ ...keys, revision: 1, status: "running" }));
    expect(await settledWithin(saving, 100)).toBe("pending");
    release();
    await deleting;
    await saving;
    expect(await runner.deliver({ ...keys, name: "approved", eventId: "e-1", sentAt: new Date().toISOString(), payload: { ok: true } })).toBe(true);
    expect(await runner.receive(keys, "approved")).toHaveLength(1);
    expect(await runner.tryLoad(keys.foundryExecutionId, keys.workflowId)).toMatchObject({ revision: 1, status: "running" });
  });

  it("keeps an event delivered after the record is gone while the old mailbox is still being removed", async () => {
    const [deleter, sender] = [files.provider(), files.provider()];
    const keys = { foundryExecutionId: "order-1", workflowId: "ship" };
    await deleter.save(fullSnapshot({ ...keys, revision: 1, status: "completed" }));
    const event = (eventId: string) => ({ ...keys, name: "approved", eventId, sentAt: new Date().toISOString(), payload: { eventId } });
    expect(await sender.deliver(event("old"))).toBe(true);
    const { deleting, release } = await deleteHeldAtRemoval(deleter, keys);
    // The instance is finished for all to see; the next one's event arrives before the delete ends.
    expect(await sender.tryLoad(keys.foundryExecutionId, keys.workflowId)).toBeUndefined();
    expect(await sender.deliver(event("new"))).toBe(true);
    release();
    await deleting;
    expect((await sender.receive(keys, "approved")).map(({ eventId }) => eventId)).toEqual(["new"]);
    // Stored once: delivered again, it is already there.
    expect(await sender.deliver(event("new"))).toBe(false);
  });

  it("with fsync, reports an event stored when a delete moved its mailbox aside between its link and its flush", async () => {
    const [deleter, sender] = [files.provider(), files.provider({ durability: "fsync" })];
    const keys = { foundryExecutionId: "order-2", workflowId: "ship" };
    await deleter.save(fullSnapshot({ ...keys, revision: 1, status: "completed" }));
    gate.afterLink = () => deleter.delete(keys.foundryExecutionId, keys.workflowId);
    expect(await sender.deliver({ ...keys, name: "approved", eventId: "e-1", sentAt: new Date().toISOString(), payload: {} })).toBe(true);
    // Delivered before the delete, it went with it.
    expect(await sender.receive(keys, "approved")).toEqual([]);
  });
});
