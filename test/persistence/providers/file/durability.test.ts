import type * as fsPromises from "node:fs/promises";
import { basename } from "node:path";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { FilePersistenceProvider } from "../../../../src/persistence/providers/file/index.js";
import { fullSnapshot, nextRevision } from "../../../../src/persistence/testing/fixtures.js";
import { useFileStore } from "../../../support/file-store.js";

// A crash test cannot tell a missing flush (SIGKILL leaves the page cache intact), so the flushes
// are observed here: node:fs/promises is wrapped to log every sync, link, rename and unlink by file name.
const calls = vi.hoisted(() => [] as string[]);

vi.mock("node:fs/promises", async (importOriginal) => {
  const fs = await importOriginal<typeof fsPromises>();
  const name = (path: unknown): string => basename(String(path));
  return {
    ...fs,
    open: async (...args: Parameters<typeof fs.open>) => {
      const handle = await fs.open(...args);
      const sync = handle.sync.bind(handle);
      handle.sync = () => (calls.push(`sync ${name(args[0])}`), sync());
      return handle;
    },
    link: (from: string, to: string) => (calls.push(`link ${name(from)} ${name(to)}`), fs.link(from, to)),
    // A mailbox's, not the store directory's (made with its parents, its flushes logged already).
    mkdir: (...args: Parameters<typeof fs.mkdir>) => (args[1] === undefined && calls.push(`mkdir ${name(args[0])}`), fs.mkdir(...args)),
    rename: (from: string, to: string) => (calls.push(`rename ${name(from)} ${name(to)}`), fs.rename(from, to)),
    unlink: (path: string) => (calls.push(`unlink ${name(path)}`), fs.unlink(path)),
  };
});

const files = useFileStore("file-durability");

beforeEach(() => {
  calls.length = 0;
});

/** The calls logged while `body` ran, naming the record, its lock, the writer's own file, the store directory and its parent by role. */
async function logged(record: string, body: () => Promise<unknown>): Promise<string[]> {
  calls.length = 0;
  await body();
  const roles = new Map([
    [record, "record"],
    [record.replace(/\.snapshot$/, ".lock"), "lock"],
    [record.replace(/\.snapshot$/, ".events"), "mailbox"],
    [basename(files.directory), "directory"],
    [basename(files.root), "parent"],
  ]);
  const role = (part: string) => roles.get(part) ?? (/^t-[0-9]+-.*\.tmp$/.test(part) ? "own" : /^e-[a-z2-7]+\.event$/.test(part) ? "event" : part);
  return calls.map((call) => call.split(" ").map(role).join(" "));
}

describe("FilePersistenceProvider durability", () => {
  const snapshot = fullSnapshot();
  const record = FilePersistenceProvider.fileNameFor(snapshot.foundryExecutionId, snapshot.workflowId);

  it('"fsync" flushes the new record before it becomes the lock and the rename publishes it, the directory after, and the parent of a directory it created', async () => {
    const provider = files.provider({ durability: "fsync" });
    const save = ["sync own", "link own lock", "rename own record", "unlink lock", "sync directory"];
    expect(await logged(record, () => provider.save(snapshot))).toEqual(["sync parent", ...save]);
    expect(await logged(record, () => provider.save(nextRevision(snapshot)))).toEqual(save);
  });

  it('"fsync" flushes the directory after a delete removes the record', async () => {
    const provider = files.provider({ durability: "fsync" });
    await provider.save(snapshot);
    expect(await logged(record, () => provider.delete(snapshot.foundryExecutionId, snapshot.workflowId))).toEqual(["link own lock", "rename mailbox own", "unlink record", "unlink lock", "unlink own", "sync directory"]);
  });

  it('"none" never flushes', async () => {
    const provider = files.provider();
    expect(await logged(record, () => provider.save(snapshot))).toEqual(["link own lock", "rename own record", "unlink lock"]);
    expect(await logged(record, () => provider.delete(snapshot.foundryExecutionId, snapshot.workflowId))).toEqual(["link own lock", "rename mailbox own", "unlink record", "unlink lock", "unlink own"]);
  });

  describe("of the mailbox", () => {
    const event = (eventId: string) => ({ ...snapshot, name: "approved", eventId, payload: 1, sentAt: snapshot.updatedAt });

    it('"fsync" flushes an event before it is linked into the mailbox, the mailbox after, and the directory once it made the mailbox; a duplicate flushes nothing more', async () => {
      const provider = files.provider({ durability: "fsync" });
      await provider.save(snapshot);
      const link = ["sync own", "link own event"];
      expect(await logged(record, () => provider.deliver(event("first")))).toEqual([...link, "mkdir mailbox", "sync directory", "link own event", "sync mailbox", "unlink own"]);
      expect(await logged(record, () => provider.deliver(event("second")))).toEqual([...link, "sync mailbox", "unlink own"]);
      expect(await logged(record, () => provider.deliver(event("second")))).toEqual([...link, "unlink own"]);
    });

    it('"fsync" flushes the directory after a delete removes the mailbox, once the record is gone, before the lock is released', async () => {
      const provider = files.provider({ durability: "fsync" });
      await provider.save(snapshot);
      await provider.deliver(event("first"));
      expect(await logged(record, () => provider.delete(snapshot.foundryExecutionId, snapshot.workflowId))).toEqual(["link own lock", "rename mailbox own", "unlink record", "sync directory", "unlink lock", "unlink own", "sync directory"]);
    });

    it('"none" never flushes an event', async () => {
      const provider = files.provider();
      expect(await logged(record, () => provider.deliver(event("first")))).toEqual(["link own event", "mkdir mailbox", "link own event", "unlink own"]);
    });
  });
});
