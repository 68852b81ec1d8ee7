import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { displayKey, formatSnapshot, formatTable, visible } from "../../src/cli/format.js";
import { SqlitePersistenceProvider } from "../../src/persistence/providers/sqlite.js";
import { fullSnapshot } from "../../src/persistence/testing/fixtures.js";
import { cli } from "./run-cli.js";

// What a store holds is written by workflows and upstream services, not by the operator: nothing
// in it may reach a terminal as an escape sequence (clear the screen, set the window title, move
// the cursor) or as a bidirectional override that shows text other than what is stored.
const hostile = fullSnapshot({
  foundryExecutionId: "order-\u202e24",
  workflowName: "Flow\u001b[2J",
  owner: "worker\u001b]0;owned\u0007",
  status: "failed",
  error: { name: "Error", message: "upstream said \u001b[31mred\u001b[0m", operationIndex: 1, operationName: "charge\u0007", stack: "Error: upstream\n    at charge (\u001b[2Jx.js:1:1)" },
});
// Any control character but a line break, or a bidirectional override or isolate, left raw.
const raw = /(?!\n)\p{Cc}|[\u202a-\u202e\u2066-\u2069]/u;

describe("the CLI's human output", () => {
  it("escapes control and format characters in every stored field of list's table", () => {
    const table = formatTable([hostile], Date.now());
    expect(table).not.toMatch(raw);
    expect(table).toContain("Flow\\u001b[2J");
    expect(table).toContain("charge\\u0007: upstream said \\u001b[31mred");
    expect(table).toContain('"order-\\u202e24"');
  });

  it("escapes them in show's fields and error, and keeps the stack's line breaks", () => {
    const shown = formatSnapshot(hostile, Date.now());
    expect(shown).not.toMatch(raw);
    expect(shown).toContain("worker\\u001b]0;owned\\u0007");
    expect(shown).toMatch(/\n +at charge \(\\u001b\[2Jx\.js:1:1\)/);
  });

  it("leaves ordinary text, line breaks it is told to keep, and astral characters as they are", () => {
    expect(visible("order 42 ✓ 🚀")).toBe("order 42 ✓ 🚀");
    expect(visible("a\nb", true)).toBe("a\nb");
    expect(visible("a\nb")).toBe("a\\u000ab");
    expect(visible("\u{e0001}")).toBe("\\u{e0001}");
    expect(displayKey("plain-key")).toBe("plain-key");
  });

  it("reaches the terminal escaped through every command and message: a refusal naming an owner, a lease, a property", async () => {
    const root = mkdtempSync(join(tmpdir(), "workflowforge-cli-format-"));
    const file = join(root, "store.db");
    const database = new Database(file);
    try {
      const provider = new SqlitePersistenceProvider({ database });
      await provider.migrate();
      await provider.save(fullSnapshot({ foundryExecutionId: "held-1", workflowId: "k", status: "running", owner: "worker\u001b]0;owned\u0007", leaseExpiresAt: new Date(Date.now() + 600_000).toISOString() }));
      await provider.save(fullSnapshot({ foundryExecutionId: "odd-1", workflowId: "k", status: "failed", leaseExpiresAt: "\u001b[2J\u001b[H", properties: { note: "paid \u202e0001$" } }));
      const refused = await cli("delete", "held-1", "k", "--sqlite", file);
      const shown = await cli("show", "odd-1", "k", "--sqlite", file);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("worker\\u001b]0;owned\\u0007");
      expect(shown.stdout).toContain("\\u202e0001$");
      for (const output of [refused.stderr, shown.stdout]) expect(output).not.toMatch(raw);
    } finally {
      database.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
