import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { SnapshotCodec } from "../../src/persistence/codec.js";
import { FilePersistenceProvider } from "../../src/persistence/providers/file.js";
import { cli } from "./run-cli.js";
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

  it("exits 1 when --dir names a file", async () => {
    const file = join(root, "a-file");
    writeFileSync(file, "");
    expect(await cli("list", "--dir", file)).toMatchObject({ code: 1, stderr: `workflowforge: directory ${file} is not a directory\n` });
  });
});
