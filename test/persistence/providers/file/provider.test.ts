import { execFileSync } from "node:child_process";
import { mkdir, readdir, readFile, stat, symlink, truncate, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { PersistenceError, SnapshotConflictError, SnapshotCorruptedError } from "../../../../src/persistence/errors.js";
import { FilePersistenceProvider } from "../../../../src/persistence/providers/file/index.js";
import { fullSnapshot, nextRevision } from "../../../../src/persistence/testing/fixtures.js";
import type { WorkflowExecutionSnapshot } from "../../../../src/persistence/snapshot.js";
import { taggedJsonCodec } from "../../../support/custom-codec.js";
import { useFileStore } from "../../../support/file-store.js";
import { rejectionOf } from "../../../support/promises.js";

const files = useFileStore("file");
const { provider, recordPath } = files;
describe("FilePersistenceProvider", () => {
  it("validates its options with a TypeError naming the option", () => {
    const make = (options: unknown) => () => new FilePersistenceProvider(options as never);
    expect(make(undefined)).toThrow(TypeError);
    expect(make({})).toThrow(/options\.directory/);
    expect(make({ directory: "" })).toThrow(/options\.directory/);
    expect(make({ directory: "a\0b" })).toThrow(/options\.directory/);
    expect(make({ directory: files.directory, durability: "always" })).toThrow(/options\.durability must be "fsync" or "none"/);
    expect(make({ directory: files.directory, lockTimeoutMs: -1 })).toThrow(/options\.lockTimeoutMs/);
    expect(make({ directory: files.directory, staleLockMs: Number.NaN })).toThrow(/options\.staleLockMs must be a non-negative finite number, got NaN/);
    expect(make({ directory: files.directory, codec: { encode: () => "" } })).toThrow(/options\.codec/);
    expect(make({ directory: files.directory, durabilty: "none" })).toThrow(/unknown option "durabilty"/);
    expect(new FilePersistenceProvider({ directory: files.directory }).durability).toBe("fsync");
  });

  it("creates its directory, with parents, on first use and not before", async () => {
    const nested = join(files.directory, "a", "b");
    const store = new FilePersistenceProvider({ directory: nested });
    await expect(stat(files.directory)).rejects.toThrow(/ENOENT/);
    const snapshot = fullSnapshot();
    await store.save(snapshot);
    expect(await readdir(nested)).toEqual([FilePersistenceProvider.fileNameFor(snapshot.foundryExecutionId, snapshot.workflowId)]);
  });

  it("names files in lowercase [a-z2-7] that differ in more than case, within 143 bytes, for any key", () => {
    const name = (a: string, b = "w") => FilePersistenceProvider.fileNameFor(a, b);
    const keys = ["A", "a", "../x", "/", "..", "nul\0", "é", "\ud800", "\ud801", "x".repeat(1000), ""];
    const names = keys.map((key) => name(key));
    for (const fileName of names) expect(fileName).toMatch(/^[sh]-[a-z2-7]*-[0-9a-z]*\.snapshot$/);
    expect(new Set(names.map((fileName) => fileName.toLowerCase())).size).toBe(keys.length);
    expect(Math.max(...names.map((fileName) => Buffer.byteLength(fileName)))).toBeLessThanOrEqual(143);
    expect(name("a|b", "c")).not.toBe(name("a", "b|c"));
    expect(name("ab", "")).not.toBe(name("a", "b"));
  });

  it("keeps keys with ../ and slashes inside its directory", async () => {
    const store = provider();
    for (const key of ["../escape", "../../escape", "/etc/passwd", "..", "a/../../b", "..\\windows"]) {
      await store.save(fullSnapshot({ foundryExecutionId: key, workflowId: key }));
    }
    expect(await readdir(files.root)).toEqual(["store"]);
    const names = await readdir(files.directory);
    expect(names).toHaveLength(6);
    for (const name of names) expect(name).toMatch(/^s-[a-z2-7]*-[a-z2-7]*\.snapshot$/);
  });

  it("round-trips 1,000-character keys under a hashed name and tells similar long keys apart", async () => {
    const store = provider();
    const long = fullSnapshot({ foundryExecutionId: "k".repeat(1000), workflowId: "w".repeat(1000) });
    const sibling = fullSnapshot({ foundryExecutionId: `${"k".repeat(999)}j`, workflowId: "w".repeat(1000), properties: { sibling: true } });
    await store.save(long);
    await store.save(sibling);
    expect(FilePersistenceProvider.fileNameFor(long.foundryExecutionId, long.workflowId)).toMatch(/^h-[a-z2-7]{32}-[0-9a-f]{64}\.snapshot$/);
    expect(await store.tryLoad(long.foundryExecutionId, long.workflowId)).toEqual(long);
    expect(await store.tryLoad(sibling.foundryExecutionId, sibling.workflowId)).toEqual(sibling);
  });

  it("refuses, in tryLoad and list, a record that carries other keys than the ones its name stands for", async () => {
    const store = provider();
    const stored = fullSnapshot();
    const asked = { foundryExecutionId: "k".repeat(500), workflowId: "other" };
    await store.save(stored);
    await writeFile(recordPath(asked), await readFile(recordPath(stored)));
    const error = await rejectionOf<any>(store.tryLoad(asked.foundryExecutionId, asked.workflowId));
    expect(error).toBeInstanceOf(SnapshotCorruptedError);
    expect(error.keys).toEqual(asked);
    expect(error.message).toContain(`holds the record of instance "${stored.foundryExecutionId}"`);
    const listed = await rejectionOf<any>(store.list());
    expect(listed).toBeInstanceOf(SnapshotCorruptedError);
    expect(listed.message).toContain("is not the file named for its keys");
  });

  describe("a damaged record raises SnapshotCorruptedError naming the keys", () => {
    // What each damage does to the header line, which holds the revision compare-and-set reads.
    const damages: Record<string, { header: "lost" | "intact" | "altered"; apply: (path: string) => Promise<void> }> = {
      "truncated to half": { header: "intact", apply: async (path) => truncate(path, Math.floor((await stat(path)).size / 2)) },
      "a changed character in the snapshot": {
        header: "intact",
        apply: async (path) => writeFile(path, (await readFile(path, "utf8")).replace("card declined", "card accepted")),
      },
      "a header that disagrees with the snapshot": {
        header: "altered",
        apply: async (path) => writeFile(path, (await readFile(path, "utf8")).replace('"revision":1', '"revision":7')),
      },
      "cut inside the header": { header: "lost", apply: (path) => truncate(path, 20) },
      empty: { header: "lost", apply: (path) => writeFile(path, "") },
      garbage: { header: "lost", apply: (path) => writeFile(path, "\u0000\u0001 not a record {") },
    };
    for (const [damage, { header, apply }] of Object.entries(damages)) {
      it(`${damage}: tryLoad and list reject${header === "lost" ? ", save refuses to replace it" : ""}, delete removes it`, async () => {
        const store = provider();
        const snapshot = fullSnapshot();
        const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
        await store.save(snapshot);
        await apply(recordPath(snapshot));
        const loaded = await rejectionOf<any>(store.tryLoad(keys.foundryExecutionId, keys.workflowId));
        expect(loaded).toBeInstanceOf(SnapshotCorruptedError);
        expect(loaded.keys).toEqual(keys);
        expect(loaded.message).toContain(`instance "${keys.foundryExecutionId}" / workflow "${keys.workflowId}"`);
        // list() reads the keys from the header line: without one it can name only the file.
        const listed = await rejectionOf<any>(store.list());
        expect(listed).toBeInstanceOf(SnapshotCorruptedError);
        if (header === "lost") expect([listed.keys, listed.message.includes(recordPath(snapshot))]).toEqual([{ foundryExecutionId: "*", workflowId: "*" }, true]);
        else expect(listed.keys).toEqual(keys);
        const handed: SnapshotCorruptedError[] = [];
        expect(await store.list({}, undefined, { onUnreadable: (error) => handed.push(error) })).toEqual([]);
        expect(handed.map((error) => error.keys)).toEqual([listed.keys]);
        // Without a revision to compare with, compare-and-set cannot decide: nothing is written.
        if (header === "lost") expect(await rejectionOf<any>(store.save(nextRevision(snapshot)))).toBeInstanceOf(SnapshotCorruptedError);
        await store.delete(keys.foundryExecutionId, keys.workflowId);
        expect(await store.tryLoad(keys.foundryExecutionId, keys.workflowId)).toBeUndefined();
      });
    }
  });

  describe("something other than a file under a record's name is an unreadable record, never a hang", () => {
    const notAFile = "it is not a regular file";
    // Windows follows it, into a loop.
    const symbolicLink = process.platform === "win32" ? "ELOOP" : "it is a symbolic link";
    // What to make under the record's name, and why the error says it cannot be read.
    const entries: Record<string, [(path: string) => Promise<unknown> | void, string]> = {
      "a directory, with a file in it": [async (path) => (await mkdir(path), writeFile(join(path, "inside"), "x")), notAFile],
      "a symbolic link to itself": [(path) => symlink(basename(path), path), symbolicLink],
      ...(process.platform === "win32"
        ? {}
        : {
            // Nobody writes to it: a blocking open would wait for ever, holding a libuv thread and, in save, the lock.
            "a FIFO": [(path: string) => void execFileSync("mkfifo", [path]), notAFile] as const,
            // Nor is a symbolic link followed (Windows follows it): a save renames over the link, never its target.
            "a dangling symbolic link": [(path: string) => symlink(join(files.root, "missing"), path), symbolicLink] as const,
            "a symbolic link to a regular file": [async (path: string) => (await writeFile(join(files.root, "elsewhere"), "x"), symlink(join(files.root, "elsewhere"), path)), symbolicLink] as const,
          }),
    };
    for (const [entry, [make, reason]] of Object.entries(entries)) {
      it(`${entry}: tryLoad and save reject with SnapshotCorruptedError, releasing the lock, and delete removes it`, async () => {
        const store = provider({ lockTimeoutMs: 2_000 });
        const snapshot = fullSnapshot({ revision: 1 });
        const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
        await store.list();
        await make(recordPath(snapshot));
        const loaded = await rejectionOf<any>(store.tryLoad(keys.foundryExecutionId, keys.workflowId));
        expect(loaded).toBeInstanceOf(SnapshotCorruptedError);
        expect([loaded.keys, loaded.message]).toEqual([keys, expect.stringContaining(`${recordPath(snapshot)} cannot be read: ${reason}; delete removes it`)]);
        const saved = await rejectionOf<any>(store.save(snapshot));
        expect([saved, saved.message]).toEqual([expect.any(SnapshotCorruptedError), loaded.message]);
        // Another provider object is not kept out by a lock the save left behind.
        await provider({ lockTimeoutMs: 2_000 }).delete(keys.foundryExecutionId, keys.workflowId);
        expect(await store.tryLoad(keys.foundryExecutionId, keys.workflowId)).toBeUndefined();
        await store.save(snapshot);
        expect(await store.tryLoad(keys.foundryExecutionId, keys.workflowId)).toEqual(snapshot);
      });
    }
  });

  it("stores the codec's text after a header line and decodes it with the codec", async () => {
    const codec = taggedJsonCodec;
    const store = provider({ codec });
    const snapshot = fullSnapshot();
    await store.save(snapshot);
    const [header, body] = (await readFile(recordPath(snapshot), "utf8")).split("\n");
    expect(JSON.parse(header as string)).toMatchObject({ foundryExecutionId: snapshot.foundryExecutionId, revision: 1 });
    expect(body).toBe(codec.encode(snapshot));
    expect(await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
  });

  it("turns a failing file system into PersistenceError with source, call, keys and cause", async () => {
    await writeFile(files.directory, "a regular file where the directory should be");
    const store = provider();
    const snapshot = fullSnapshot();
    const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
    const calls = {
      save: () => store.save(snapshot),
      tryLoad: () => store.tryLoad(keys.foundryExecutionId, keys.workflowId),
      delete: () => store.delete(keys.foundryExecutionId, keys.workflowId),
      list: () => store.list(),
    };
    for (const [call, run] of Object.entries(calls)) {
      const error = await rejectionOf<any>(run());
      expect(error).toBeInstanceOf(PersistenceError);
      expect(error.message).toMatch(new RegExp(`^\\[workflowforge:file\\] ${call} failed for instance`));
      expect(error.call).toBe(call);
      expect(error.keys).toEqual(call === "list" ? { foundryExecutionId: "*", workflowId: "*" } : keys);
      expect(error.cause).toMatchObject({ code: expect.stringMatching(/^(EEXIST|ENOTDIR)$/) });
    }
  });

  it("two providers on one directory see each other's writes and compare-and-set holds between them", async () => {
    const [a, b] = [provider(), provider()];
    const first = fullSnapshot();
    await a.save(first);
    expect(await b.tryLoad(first.foundryExecutionId, first.workflowId)).toEqual(first);
    const second = nextRevision(first, { owner: "b" });
    await b.save(second);
    expect(await rejectionOf<any>(a.save(nextRevision(first, { owner: "a" })))).toBeInstanceOf(SnapshotConflictError);
    let current = second;
    for (let round = 0; round < 5; round++) {
      const attempts = Array.from({ length: 8 }, (_, writer) => nextRevision(current, { owner: `writer-${writer}` }));
      const results = await Promise.allSettled(attempts.map((attempt, writer) => (writer % 2 === 0 ? a : b).save(attempt)));
      const winners = attempts.filter((_, writer) => results[writer]?.status === "fulfilled");
      expect(winners).toHaveLength(1);
      current = winners[0] as WorkflowExecutionSnapshot;
      expect(await a.tryLoad(current.foundryExecutionId, current.workflowId)).toEqual(current);
    }
    await b.delete(current.foundryExecutionId, current.workflowId);
    expect(await a.tryLoad(current.foundryExecutionId, current.workflowId)).toBeUndefined();
  });

  it("reads the stored revision from the record again when another writer replaced or deleted it since its own save", async () => {
    const [a, b] = [provider(), provider()];
    const first = fullSnapshot();
    await a.save(first);
    await b.delete(first.foundryExecutionId, first.workflowId);
    expect(await rejectionOf<any>(a.save(nextRevision(first)))).toBeInstanceOf(SnapshotConflictError);
    await b.save(first);
    const byB = nextRevision(first, { owner: "b" });
    await b.save(byB);
    await a.save(first).catch(() => undefined);
    expect(await rejectionOf<any>(a.save(nextRevision(first, { owner: "a" })))).toBeInstanceOf(SnapshotConflictError);
    await a.save(nextRevision(byB, { owner: "a" }));
    expect((await b.tryLoad(first.foundryExecutionId, first.workflowId))?.owner).toBe("a");
  });
});
