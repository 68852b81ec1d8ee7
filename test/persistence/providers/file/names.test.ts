import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { baseNameFor, classifyEntry, eventFileName, isEventFileName, mailboxDirectoryName } from "../../../../src/persistence/providers/file/names.js";

const sha256Hex = (text: string): string => createHash("sha256").update(text).digest("hex");
const bytes = (name: string): number => new TextEncoder().encode(name).length;

describe("the file provider's names for mailboxes and events", () => {
  it("names a mailbox after its record, as an entry list() and the CLI know as the provider's, within 143 bytes", () => {
    for (const [instance, workflow] of [["order-42", "expense"], ["x".repeat(10_000), "y"], ["\uD800", ".."], ["a".repeat(52), "b".repeat(30)]] as const) {
      const mailbox = mailboxDirectoryName(baseNameFor(instance, workflow, sha256Hex));
      expect(classifyEntry(mailbox)).toEqual({ kind: "mailbox" });
      expect(bytes(mailbox)).toBeLessThanOrEqual(143);
    }
    expect(classifyEntry("s-mfrgg-mfrgg.events.tmp")).toBeUndefined();
  });

  it("gives distinct event ids distinct names of at most 143 bytes, hashing long ones and those holding a lone surrogate", () => {
    const ids = ["", "..", "/", "a|b", "\uD800", "\uDC00", "\uFFFD", "é", "E", "e", "e".repeat(84), "e".repeat(85), "e".repeat(10_000), `${"e".repeat(10_000)}f`];
    const names = ids.map((eventId) => eventFileName(eventId, sha256Hex));
    expect(new Set(names).size).toBe(ids.length);
    for (const name of names) {
      expect(isEventFileName(name)).toBe(true);
      expect(bytes(name)).toBeLessThanOrEqual(143);
      expect(name).toMatch(/^[a-z0-9-]+\.event$/);
    }
    expect(names.filter((name) => name.startsWith("h-"))).toEqual([names[4], names[5], names[11], names[12], names[13]]);
  });

  it("tells event files from anything else in a mailbox", () => {
    for (const name of ["notes.txt", "e-MF.event", "e-mf.event.tmp", "h-abc.event", "t-1-00.tmp"]) expect(isEventFileName(name)).toBe(false);
  });
});
