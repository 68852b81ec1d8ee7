import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { SnapshotCodec } from "../../src/persistence/codec.js";
import { FilePersistenceProvider } from "../../src/persistence/providers/file.js";
import { cli, instancesOf, seedSnapshots } from "./run-cli.js";
import { describeStoreCommands } from "./store-cases.js";

const root = mkdtempSync(join(tmpdir(), "workflowforge-cli-file-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describeStoreCommands("a file directory (--dir)", () => {
  const directory = mkdtempSync(join(root, "store-"));
  // No fsync while seeding: these tests are about the CLI, not the provider's durability.
  const provider = (codec?: SnapshotCodec) => new FilePersistenceProvider({ directory, durability: "none", ...(codec === undefined ? {} : { codec }) });
  return Promise.resolve({ args: ["--dir", directory], provider: provider(), writer: provider });
});

describe("workflowforge CLI --dir", () => {
  it("exits 1 naming a directory that does not exist, and does not create it", async () => {
    const missing = join(root, "no-such-dir");
    const { code, stderr } = await cli("list", "--dir", missing);
    expect(code).toBe(1);
    expect(stderr).toBe(`workflowforge: directory ${missing} does not exist\n`);
    expect(existsSync(missing)).toBe(false);
  });

  it("gives up on a delete another process's lock holds back after --timeout, saying what to check, and exits 1", async () => {
    const directory = mkdtempSync(join(root, "locked-"));
    const provider = new FilePersistenceProvider({ directory, durability: "none" });
    for (const snapshot of seedSnapshots()) await provider.save(snapshot);
    // The lock of a save in progress in another process (this one's parent, alive as long as it is).
    const record = FilePersistenceProvider.fileNameFor("order-42", "billing-v1");
    writeFileSync(join(directory, record.replace(/\.snapshot$/, ".lock")), `${process.ppid} alive\n`);
    const { code, stderr } = await cli("delete", "order-42", "billing-v1", "--dir", directory, "--timeout", "200ms");
    expect({ code, stderr }).toEqual({
      code: 1,
      stderr: `workflowforge: directory ${directory}: delete did not finish within 200ms; check that its file system answers and that no other process holds the record's lock, or raise --timeout\n`,
    });
    expect(await provider.tryLoad("order-42", "billing-v1")).toMatchObject({ foundryExecutionId: "order-42" });
  });

  it("lists and prunes past an entry it cannot read at all, naming it on stderr, and exits 1", async () => {
    const directory = mkdtempSync(join(root, "junk-"));
    const provider = new FilePersistenceProvider({ directory, durability: "none" });
    for (const snapshot of seedSnapshots()) await provider.save(snapshot);
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

  it("exits 1 when --dir names a file", async () => {
    const file = join(root, "a-file");
    writeFileSync(file, "");
    expect(await cli("list", "--dir", file)).toMatchObject({ code: 1, stderr: `workflowforge: directory ${file} is not a directory\n` });
  });
});
