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
  const roles = new Map([[record, "record"], [record.replace(/\.snapshot$/, ".lock"), "lock"], [basename(files.directory), "directory"], [basename(files.root), "parent"]]);
  const role = (part: string) => roles.get(part) ?? (/^t-[0-9]+-.*\.tmp$/.test(part) ? "own" : part);
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
    expect(await logged(record, () => provider.delete(snapshot.foundryExecutionId, snapshot.workflowId))).toEqual(["link own lock", "unlink record", "unlink lock", "unlink own", "sync directory"]);
  });

  it('"none" never flushes', async () => {
    const provider = files.provider();
    expect(await logged(record, () => provider.save(snapshot))).toEqual(["link own lock", "rename own record", "unlink lock"]);
    expect(await logged(record, () => provider.delete(snapshot.foundryExecutionId, snapshot.workflowId))).toEqual(["link own lock", "unlink record", "unlink lock", "unlink own"]);
  });
});
