import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseCommand } from "../../src/cli/args.js";
import { displayKey } from "../../src/cli/format.js";
import { FilePersistenceProvider } from "../../src/persistence/providers/file/index.js";
import { fullSnapshot } from "../../src/persistence/testing/fixtures.js";
import { unreadableCodec } from "../support/custom-codec.js";
import { cli, cliProcess } from "./run-cli.js";

const root = mkdtempSync(join(tmpdir(), "workflowforge-cli-json-keys-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const keysOf = (argv: readonly string[]): unknown => (parseCommand(argv) as { keys?: unknown }).keys;
// A key as one names it with --json-keys: as list prints it when it quotes it, else in double quotes.
const asArgument = (key: string): string => (displayKey(key) === key ? `"${key}"` : displayKey(key));
const lone = "bad\uD800";

describe("workflowforge CLI --json-keys", () => {
  it("reads <instanceId> and <workflowKey> as JSON strings for show, delete, signal and cancel", () => {
    const keys = { foundryExecutionId: lone, workflowId: "W" };
    for (const command of [["show"], ["delete"], ["signal", "approved"], ["cancel"]]) {
      const [name, ...rest] = command as [string, ...string[]];
      expect(keysOf([name, "--json-keys", '"bad\\ud800"', '"W"', ...rest, "--dir", "d"]), name).toEqual(keys);
    }
    // A key that starts with a dash needs no "--" then: its argument starts with a quote.
    expect(keysOf(["show", "--dir", "d", "--json-keys", '"-odd"', '"two words"'])).toEqual({ foundryExecutionId: "-odd", workflowId: "two words" });
  });

  it("reads back every key exactly as list prints it, \\u{...} of a character beyond U+FFFF included", () => {
    const unit = fc.oneof(
      fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
      fc.constantFrom(" ", "\t", '"', "'", "\\", "u", "{", "}", "-", "\uD800", "\uDFFF", "\u202E", "\u{E0001}", "\u{F0000}", "\u{10FFFF}", "\u{1F680}"),
    );
    const roundTrip = (key: string): boolean => {
      const keys = keysOf(["show", "--json-keys", asArgument(key), asArgument(`${key}-2`), "--dir", "d"]);
      return JSON.stringify(keys) === JSON.stringify({ foundryExecutionId: key, workflowId: `${key}-2` });
    };
    fc.assert(fc.property(fc.string({ unit, maxLength: 12 }), roundTrip), { numRuns: 500 });
    for (const key of ["", lone, "a\u{E0001}b", "\\u{e0001}", "\\\u{E0001}", 'say "hi"']) expect(roundTrip(key), JSON.stringify(key)).toBe(true);
  });

  it("refuses an argument that is not a JSON string as a usage error naming it, and the flag where no keys are taken", async () => {
    const refused = async (...argv: string[]) => {
      const { code, stderr } = await cli(...argv, "--dir", root);
      return [code, stderr.split("\n")[0]];
    };
    const notOne = (name: string, shown: string) => `workflowforge: --json-keys: <${name}> must be a JSON string, such as '"order-42"' in a shell; ${shown} is not one`;
    expect(await refused("show", "--json-keys", '"a"', "W")).toEqual([2, notOne("workflowKey", "W")]);
    expect(await refused("delete", "--json-keys", "1", '"W"')).toEqual([2, notOne("instanceId", "1")]);
    expect(await refused("cancel", "--json-keys", '"unterminated', '"W"')).toEqual([2, notOne("instanceId", '"\\"unterminated"')]);
    expect(await refused("show", "--json-keys", '"a"', '"\\u{110000}"')).toEqual([2, notOne("workflowKey", '"\\"\\\\u{110000}\\""')]);
    expect(await refused("signal", "--json-keys", '" "', '"W"', "approved")).toEqual([2, "workflowforge: signal needs a non-blank <instanceId>"]);
    expect(await refused("list", "--json-keys")).toEqual([2, "workflowforge: --json-keys does not apply to list (only to show and delete and signal and cancel)"]);
  });

  it("names a key no command line can carry, as list prints it, to show and delete: a file store, end to end", async () => {
    const directory = mkdtempSync(join(root, "store-"));
    const provider = new FilePersistenceProvider({ directory, durability: "none" });
    await provider.save(fullSnapshot({ foundryExecutionId: lone, workflowId: "W", leaseExpiresAt: new Date(Date.now() - 60_000).toISOString() }));

    const listed = await cli("list", "--dir", directory);
    expect(listed.code).toBe(0);
    const printed = /^("\S+")\s+W\s/m.exec(listed.stdout)?.[1];
    expect(printed).toBe('"bad\\ud800"');
    expect(listed.stdout).toContain("Keys in double quotes are JSON strings, escaped where a terminal could not show them: name one to show, delete, signal or cancel with --json-keys");

    // In a process of its own: the arguments as a shell passes them, UTF-8.
    const shown = await cliProcess(["show", "--json-keys", printed ?? "", '"W"', "--dir", directory]);
    expect(shown).toMatchObject({ code: 0, stderr: "" });
    expect(shown.stdout).toMatch(/^instance +"bad\\ud800"\nworkflow key +W\n/);

    // Without the flag, the quotes are part of the key: not found, and the message says what to do.
    const unflagged = await cli("show", printed ?? "", "W", "--dir", directory);
    expect(unflagged).toMatchObject({ code: 1, stderr: expect.stringContaining("(a key list prints in double quotes is a JSON string: name it as printed with --json-keys)") });

    expect(await cli("delete", "--json-keys", printed ?? "", '"W"', "--dir", directory)).toEqual({
      code: 0,
      stdout: `Deleted the snapshot of instance "bad\\ud800" / workflow key W from directory ${directory}.\n`,
      stderr: "",
    });
    expect(await provider.tryLoad(lone, "W")).toBeUndefined();
    expect((await cli("show", "--json-keys", printed ?? "", '"W"', "--dir", directory)).code).toBe(1);
  });

  it("advises --json-keys for a quoted key given without it, delete --force included, and never once it was given", async () => {
    const directory = mkdtempSync(join(root, "store-"));
    const hint = "(a key list prints in double quotes is a JSON string: name it as printed with --json-keys)";
    const forced = await cli("delete", "--force", '"bad\\ud800"', "W", "--dir", directory);
    expect(forced).toMatchObject({ code: 0, stdout: expect.stringContaining(hint) });
    const flagged = await cli("show", "--json-keys", '"\\"x\\""', '"nope"', "--dir", directory);
    expect(flagged.code).toBe(1);
    expect(flagged.stderr).toContain('no snapshot for instance "\\"x\\"" / workflow key nope');
    expect(flagged.stderr).not.toContain(hint);
  });

  it("deletes a record that cannot be read, under such a key, with the keys as its message quotes them", async () => {
    const directory = mkdtempSync(join(root, "store-"));
    const writer = new FilePersistenceProvider({ directory, durability: "none", codec: unreadableCodec });
    await writer.save(fullSnapshot({ foundryExecutionId: lone, workflowId: "W" }));

    const listed = await cli("list", "--dir", directory);
    expect(listed.code).toBe(1);
    expect(listed.stderr).toContain("removes one whose keys are named; add --json-keys to give each as quoted above.");
    const [, instance, workflowKey] = /stored snapshot for instance ("[^"]*") \/ workflow ("[^"]*") is corrupted/.exec(listed.stderr) ?? [];
    expect([instance, workflowKey]).toEqual(['"bad\\ud800"', '"W"']);

    const deleted = await cli("delete", "--force", "--json-keys", instance ?? "", workflowKey ?? "", "--dir", directory, "--json");
    expect([deleted.code, JSON.parse(deleted.stdout)]).toEqual([0, { deleted: 1, instance: lone, workflowKey: "W" }]);
    expect((await cli("list", "--dir", directory)).code).toBe(0);
  });

  it("is in the help of every command that takes keys, and in the overview", async () => {
    for (const topic of ["show", "delete", "signal", "cancel"]) {
      const { stdout } = await cli("help", topic);
      expect(stdout.split("\n\n")[0], topic).toMatch(/^Usage: workflowforge [^]*\[--json-keys\]/);
      expect(stdout, topic).toContain(`  --json-keys              read <instanceId> and <workflowKey> as JSON strings`);
    }
    expect((await cli("--help")).stdout).toContain("  --json-keys              read <instanceId> and <workflowKey> as JSON strings");
  });
});
