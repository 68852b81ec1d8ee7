import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { SnapshotCodec } from "../../src/persistence/codec/codec.js";
import { FilePersistenceProvider } from "../../src/persistence/providers/file/index.js";
import { cli, cliProcess, instancesOf, seedSnapshots } from "./run-cli.js";
import { describeStoreCommands, type StoreFixture } from "./store-cases.js";
import { describeWaitCommands } from "./wait-cases.js";
import { seededFileStore } from "../support/file-store.js";

const root = mkdtempSync(join(tmpdir(), "workflowforge-cli-file-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function freshStore(): Promise<StoreFixture> {
  const directory = mkdtempSync(join(root, "store-"));
  // No fsync while seeding: these tests are about the CLI, not the provider's durability.
  const provider = (codec?: SnapshotCodec) => new FilePersistenceProvider({ directory, durability: "none", ...(codec === undefined ? {} : { codec }) });
  return Promise.resolve({ args: ["--dir", directory], provider: provider(), writer: provider });
}

describeStoreCommands("a file directory (--dir)", freshStore);
describeWaitCommands("a file directory (--dir)", freshStore);

describe("workflowforge CLI --dir", () => {
  it("exits 1 naming a directory that does not exist, and does not create it", async () => {
    const missing = join(root, "no-such-dir");
    const { code, stderr } = await cli("list", "--dir", missing);
    expect(code).toBe(1);
    expect(stderr).toBe(`workflowforge: directory ${missing} does not exist\n`);
    expect(existsSync(missing)).toBe(false);
  });

  it("gives up on a delete another process's lock holds back after --timeout, saying what to check, and exits 1", async () => {
    const { directory, provider } = await seededFileStore(root, seedSnapshots());
    // The lock of a save in progress in another process (this one's parent, alive as long as it is).
    const record = FilePersistenceProvider.fileNameFor("order-42", "billing-v1");
    writeFileSync(join(directory, record.replace(/\.snapshot$/, ".lock")), `${process.ppid} alive\n`);
    const { code, stderr } = await cli("delete", "order-42", "billing-v1", "--dir", directory, "--timeout", "200ms");
    expect({ code, stderr }).toEqual({
      code: 1,
      // The claim that delete saves first is what waits for the lock.
      stderr: `workflowforge: directory ${directory}: save did not finish within 200ms; check that its file system answers and that no other process holds the record's lock, or raise --timeout\n`,
    });
    expect(await provider.tryLoad("order-42", "billing-v1")).toMatchObject({ foundryExecutionId: "order-42" });
  });

  it("says that whether a delete that ran out of --timeout was done is unknown: a store may still apply it", async () => {
    const { directory } = await seededFileStore(root, seedSnapshots());
    // Nothing stored for these keys, so --force deletes at once, and the lock holds that delete back.
    const record = FilePersistenceProvider.fileNameFor("order-9", "billing-v1");
    writeFileSync(join(directory, record.replace(/\.snapshot$/, ".lock")), `${process.ppid} alive\n`);
    const { code, stderr } = await cli("delete", "order-9", "billing-v1", "--force", "--dir", directory, "--timeout", "200ms");
    expect({ code, stderr }).toEqual({
      code: 1,
      stderr: `workflowforge: directory ${directory}: delete did not finish within 200ms; whether it was done is unknown: the store may still apply it (see \`show\`); check that its file system answers and that no other process holds the record's lock, or raise --timeout\n`,
    });
  });

  it("lists and prunes past an entry it cannot read at all, naming it on stderr, and exits 1", async () => {
    const { directory } = await seededFileStore(root, seedSnapshots());
    // Junk under a record's name: a directory, which no read of a file gets through.
    const junk = FilePersistenceProvider.fileNameFor("junk", "billing-v1");
    mkdirSync(join(directory, junk));
    const named = new RegExp(`^workflowforge: 1 record could not be read and was left out:\n {2}\\[workflowforge:persistence\\] .*${junk.replace(/\./g, "\\.")}.*\nworkflowforge: .*\n$`);

    const listed = await cli("list", "--dir", directory, "--json");
    expect(listed.stderr).toMatch(named);
    expect([listed.code, instancesOf(JSON.parse(listed.stdout))]).toEqual([1, ["invoice-7", "order-42", "ship-9", "ship-10"]]);

    const pruned = await cli("prune", "--dir", directory, "--older-than", "1d", "--json");
    expect(pruned.stderr).toMatch(named);
    expect([pruned.code, JSON.parse(pruned.stdout)]).toMatchObject([1, { matched: 2, deleted: 2 }]);
    expect(existsSync(join(directory, junk))).toBe(true);
  });

  it("still reports an entry it cannot read on stderr, and exits 1, when its stdout is closed early (list --json | head -1)", async () => {
    const { directory } = await seededFileStore(root, seedSnapshots());
    mkdirSync(join(directory, FilePersistenceProvider.fileNameFor("junk", "billing-v1")));
    const { code, stdout, stderr } = await cliProcess(["list", "--dir", directory, "--json"], { closeStdout: true });
    expect({ code, stdout }).toEqual({ code: 1, stdout: "" });
    expect(stderr).toMatch(/^workflowforge: 1 record could not be read and was left out:\n/);
  });

  it("list names on stderr a few of the entries that are not records, says how many, and still exits 0", async () => {
    const { directory } = await seededFileStore(root, seedSnapshots());
    for (const name of ["crashed-once", "notes .txt", "order-42.json", "s-abc.snapshot.bak"]) writeFileSync(join(directory, name), "{}");
    mkdirSync(join(directory, "archive"));
    const listed = await cli("list", "--dir", directory, "--json");
    expect(instancesOf(JSON.parse(listed.stdout))).toEqual(["invoice-7", "order-42", "ship-9", "ship-10"]);
    expect([listed.code, listed.stderr]).toEqual([0, `workflowforge: 5 entries in directory ${directory} are not records and were not listed: archive, crashed-once, "notes .txt" and 2 more\n`]);

    rmSync(join(directory, "archive"), { recursive: true });
    for (const name of ["notes .txt", "order-42.json", "s-abc.snapshot.bak"]) rmSync(join(directory, name));
    expect((await cli("list", "--dir", directory)).stderr).toBe(`workflowforge: 1 entry in directory ${directory} is not a record and was not listed: crashed-once\n`);
  });

  it("list says nothing of the provider's own files: records, a lock, a lock breaker's file, a writer's temporary file", async () => {
    const { directory } = await seededFileStore(root, seedSnapshots());
    const base = FilePersistenceProvider.fileNameFor("order-42", "billing-v1").replace(/\.snapshot$/, "");
    // Each as a live process leaves it (this test's parent is alive), so that listing does not clean it up.
    writeFileSync(join(directory, `${base}.lock`), `${process.ppid} alive\n`);
    writeFileSync(join(directory, `${base}.break`), `${process.ppid} alive\n`);
    writeFileSync(join(directory, `t-${process.ppid}-0123abcd.tmp`), "");
    expect(readdirSync(directory)).toHaveLength(7);
    expect(await cli("list", "--dir", directory, "--status", "failed")).toMatchObject({ code: 0, stderr: "" });
  });

  it("exits 1 when --dir names a file", async () => {
    const file = join(root, "a-file");
    writeFileSync(file, "");
    expect(await cli("list", "--dir", file)).toMatchObject({ code: 1, stderr: `workflowforge: directory ${file} is not a directory\n` });
  });
});
