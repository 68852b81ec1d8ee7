import type { PGlite } from "@electric-sql/pglite";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryPersistenceProvider, SnapshotTooLargeError, type DeliveredEvent, type WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { PostgresPersistenceProvider } from "../../../src/persistence/providers/postgres.js";
import { SqlitePersistenceProvider } from "../../../src/persistence/providers/sqlite.js";
import { deliveredEvent, randomKeys } from "../../../src/persistence/testing/fixtures.js";
import { useFileStore } from "../../support/file-store.js";
import { freshTable } from "./postgres-cases.js";
import { freshPglite } from "../../support/pglite.js";

// deliver() of every built-in provider refuses what is not an event, as coordinator.signal does
// before it, rather than store something no wait can read back (Redis's case is in its own suite).

let db: PGlite | undefined;
beforeAll(async () => {
  db = await freshPglite();
}, 120_000);
afterAll(() => db?.close());
const files = useFileStore("deliver-validation");

const providers: [string, () => WorkflowPersistenceProvider][] = [
  ["memory", () => new MemoryPersistenceProvider()],
  ["file", () => files.provider()],
  ["SQLite", () => new SqlitePersistenceProvider({ database: new Database(":memory:") })],
  ["PGlite", () => new PostgresPersistenceProvider({ client: db as PGlite, tableName: freshTable() })],
];

describe.each(providers)("%s deliver()", (_name, create) => {
  it("refuses an event without the string fields of one with a TypeError naming the field, storing nothing", async () => {
    const provider = create();
    const keys = randomKeys();
    const event = deliveredEvent(keys);
    const deliver = (value: unknown): Promise<boolean> => Promise.resolve().then(() => provider.deliver?.(value as DeliveredEvent) as Promise<boolean>);
    await expect(deliver({ ...event, eventId: 42 })).rejects.toThrow(/event\.eventId must be a string, got 42/);
    await expect(deliver({ ...event, eventId: 42 })).rejects.toBeInstanceOf(TypeError);
    await expect(deliver({ ...event, name: undefined })).rejects.toThrow(/event\.name must be a string/);
    await expect(deliver({ ...event, sentAt: "yesterday" })).rejects.toThrow(/event\.sentAt must be an ISO 8601 time, got "yesterday"/);
    await expect(deliver({})).rejects.toBeInstanceOf(TypeError);
    await expect(deliver(null)).rejects.toBeInstanceOf(TypeError);
    expect(await provider.receive?.(keys, event.name)).toEqual([]);
    expect(await deliver(event)).toBe(true);
  });

  it("refuses a payload no snapshot with the default codec can hold (over 4 MiB) with SnapshotTooLargeError, storing nothing", async () => {
    const provider = create();
    const keys = randomKeys();
    const event = { ...deliveredEvent(keys), payload: { blob: "x".repeat(4 * 1024 * 1024) } };
    await expect(Promise.resolve().then(() => provider.deliver?.(event))).rejects.toBeInstanceOf(SnapshotTooLargeError);
    expect(await provider.receive?.(keys, event.name)).toEqual([]);
    expect(await provider.deliver?.({ ...event, payload: { blob: "x".repeat(4 * 1024 * 1024 - 2048) } })).toBe(true);
  });
});
