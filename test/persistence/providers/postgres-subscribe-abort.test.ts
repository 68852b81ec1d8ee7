import type { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresPersistenceProvider } from "../../../src/persistence/providers/postgres.js";
import { freshTable } from "./postgres-cases.js";
import { eventFor, waitingSnapshot } from "./postgres-mailbox-cases.js";
import { freshPglite } from "../../support/pglite.js";

// subscribe(listener, signal) on PGlite: a signal that aborts while PGlite is still setting up its
// listen() ends the subscription, as it does on a pg Pool, rather than leave it listening for good.

let db: PGlite | undefined;
beforeAll(async () => {
  db = await freshPglite();
}, 120_000);
afterAll(() => db?.close());

describe("PostgresPersistenceProvider.subscribe on PGlite with a signal", () => {
  it("rejects when the signal aborts while subscribing, and never calls the listener after a later delivery", async () => {
    const provider = new PostgresPersistenceProvider({ client: db as PGlite, tableName: freshTable() });
    const snapshot = waitingSnapshot("approved");
    await provider.save(snapshot);
    let calls = 0;
    const controller = new AbortController();
    const subscribing = provider.subscribe(() => calls++, controller.signal);
    controller.abort(new Error("shutting down"));
    await expect(subscribing).rejects.toThrow(/shutting down/);
    await provider.deliver(eventFor(snapshot, "approved"));
    // A notification would have reached a live listener by the time a later query answers.
    await (db as PGlite).query("SELECT 1");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toBe(0);
  });

  it("hears a delivery while subscribed, and nothing once the signal aborts", async () => {
    const provider = new PostgresPersistenceProvider({ client: db as PGlite, tableName: freshTable() });
    const snapshot = waitingSnapshot("approved");
    await provider.save(snapshot);
    let calls = 0;
    let heard!: () => void;
    const heardOnce = new Promise<void>((resolve) => (heard = resolve));
    const controller = new AbortController();
    await provider.subscribe(() => (calls++, heard()), controller.signal);
    await provider.deliver(eventFor(snapshot, "approved"));
    await heardOnce;
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const other = waitingSnapshot("approved");
    await provider.save(other);
    await provider.deliver(eventFor(other, "approved"));
    await (db as PGlite).query("SELECT 1");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toBe(1);
  });
});
