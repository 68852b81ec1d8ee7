import type * as fsPromises from "node:fs/promises";
import { describe, expect, it, vi } from "vitest";
import { fullSnapshot } from "../../../../src/persistence/testing/fixtures.js";
import { useFileStore } from "../../../support/file-store.js";
import { deferred, settledWithin } from "../../../support/promises.js";

// A delete removes the record and then its mailbox, both under the instance's lock: a new run of
// the same keys, whose first save needs that lock, cannot receive an event that the delete's
// removal of the mailbox then throws away.

// Holds a delete inside its removal of the mailbox (at its first look at the mailbox) until released.
const gate: { paused?: Promise<void> | undefined; reached?: () => void } = {};
vi.mock("node:fs/promises", async (importOriginal) => {
  const fs = await importOriginal<typeof fsPromises>();
  const lstat = (async (path: string, ...rest: unknown[]) => {
    const paused = gate.paused;
    if (paused !== undefined && String(path).endsWith(".events")) {
      gate.paused = undefined;
      gate.reached?.();
      await paused;
    }
    return (fs.lstat as (...args: unknown[]) => unknown)(path, ...rest);
  }) as typeof fs.lstat;
  return { ...fs, default: { ...fs, lstat }, lstat };
});

const files = useFileStore("delete-mailbox");

describe("FilePersistenceProvider.delete() beside a new run of the same keys", () => {
  it("keeps the new run out until the mailbox is gone, so an event delivered to the new run stays", async () => {
    const [deleter, runner] = [files.provider(), files.provider()];
    const keys = { foundryExecutionId: "order-1", workflowId: "ship" };
    await deleter.save(fullSnapshot({ ...keys, revision: 1, status: "completed" }));
    const release = deferred();
    const reached = deferred();
    gate.paused = release.promise;
    gate.reached = reached.resolve;
    const deleting = deleter.delete(keys.foundryExecutionId, keys.workflowId);
    await reached.promise;
    // The record is gone, its mailbox not yet: the new run's first save waits for the delete.
    const saving = runner.save(fullSnapshot({ ...keys, revision: 1, status: "running" }));
    expect(await settledWithin(saving, 100)).toBe("pending");
    release.resolve();
    await deleting;
    await saving;
    expect(await runner.deliver({ ...keys, name: "approved", eventId: "e-1", sentAt: new Date().toISOString(), payload: { ok: true } })).toBe(true);
    expect(await runner.receive(keys, "approved")).toHaveLength(1);
    expect(await runner.tryLoad(keys.foundryExecutionId, keys.workflowId)).toMatchObject({ revision: 1, status: "running" });
  });
});
