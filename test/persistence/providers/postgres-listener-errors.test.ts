import type { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresPersistenceProvider } from "../../../src/persistence/providers/postgres.js";
import { freshTable } from "./postgres-cases.js";
import { escaping, throwingListener } from "../../support/throwing-listener.js";
import { eventFor, waitingSnapshot } from "./postgres-mailbox-cases.js";
import { freshPglite } from "../../support/pglite.js";

// subscribe(listener) on PGlite: the listener is a hint to look, called from inside PGlite's
// notification handling, so an error it throws is its own and must not escape from there.

let db: PGlite | undefined;
beforeAll(async () => {
  db = await freshPglite();
}, 120_000);
afterAll(() => db?.close());

describe("PostgresPersistenceProvider.subscribe on PGlite with a listener that throws", () => {
  it("calls the listener for every delivery, and its error escapes neither as uncaught nor into deliver()", async () => {
    const provider = new PostgresPersistenceProvider({ client: db as PGlite, tableName: freshTable() });
    const escaped = escaping();
    const throwing = throwingListener();
    const stop = await provider.subscribe(throwing.listener);
    try {
      for (let round = 0; round < 2; round++) {
        const snapshot = waitingSnapshot("approved");
        await provider.save(snapshot);
        const called = throwing.next();
        await expect(provider.deliver(eventFor(snapshot, "approved"))).resolves.toBe(true);
        await called;
      }
      // Anything thrown out of the callback has surfaced once a later query has answered.
      await (db as PGlite).query("SELECT 1");
    } finally {
      escaped.stop();
    }
    expect({ calls: throwing.calls(), escaped: escaped.errors }).toEqual({ calls: 2, escaped: [] });
    await stop();
  });
});
