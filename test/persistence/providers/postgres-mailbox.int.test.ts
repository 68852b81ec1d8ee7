import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it, vi } from "vitest";
import { PostgresPersistenceProvider, type PostgresClient } from "../../../src/persistence/providers/postgres.js";
import { postgresStatements } from "../../../src/persistence/providers/postgres-sql.js";
import { randomKeys } from "../../../src/persistence/testing/fixtures.js";
import { bundleForChild } from "../../support/bundle.js";
import { describeWithServer } from "../../support/describe-with-server.js";
import { startPostgres } from "../../support/postgres-server.js";
import { usePostgresPools } from "../../support/postgres-pool.js";
import { freshTable } from "./postgres-cases.js";
import { claimOf, describePostgresMailboxCases, eventFor, unleased, waitingSnapshot } from "./postgres-mailbox-cases.js";

// The mailbox on a real server: what PGlite's single connection cannot show (other connections,
// other processes, row locks, the planner on a large table).
const server = await startPostgres();

describeWithServer("PostgresPersistenceProvider's mailbox on a real PostgreSQL server", server, (started) => {
  const newPool = usePostgresPools(started);
  const shared = newPool();
  describePostgresMailboxCases("a real server through a pg Pool", () => shared);

  describe("across connections and processes", () => {
    it("declares push for a pg Pool of two or more connections, not for a pool of one", () => {
      expect(new PostgresPersistenceProvider({ client: shared }).capabilities.push).toBe(true);
      expect(new PostgresPersistenceProvider({ client: newPool(1) }).capabilities.push).toBe(false);
    });

    it("20 concurrent deliveries of one eventId through two providers on two pools store it once", async () => {
      const tableName = freshTable();
      const [first, second] = [newPool(10), newPool(10)].map((client) => new PostgresPersistenceProvider({ client, tableName }));
      await first!.migrate();
      const keys = randomKeys();
      const results = await Promise.all(Array.from({ length: 20 }, (_, index) => (index % 2 === 0 ? first! : second!).deliver(eventFor(keys, "approved", index, "same"))));
      expect(results.filter(Boolean)).toHaveLength(1);
      const received = await second!.receive(keys, "approved");
      expect(received.map((event) => event.payload)).toEqual([results.indexOf(true)]);
    });

    /**
     * `first` in a transaction of its own connection, held uncommitted while `second` (through the
     * shared pool) starts and blocks on the row lock it holds; then the commit, and `second`'s result.
     */
    async function whileHeld<T>(tableName: string, first: (held: PostgresPersistenceProvider) => Promise<unknown>, second: () => Promise<T>, what: string): Promise<T> {
      const holder = await shared.connect();
      try {
        await holder.query("BEGIN");
        await first(new PostgresPersistenceProvider({ client: holder, tableName }));
        let settled = false;
        const racing = second().finally(() => (settled = true));
        const blocked = async (): Promise<boolean> => ((await shared.query("SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted")).rows[0] as { n: number }).n > 0;
        while (!settled && !(await blocked())) await new Promise((resolve) => setImmediate(resolve));
        expect(settled, `${what} finished while the first write was still uncommitted`).toBe(false);
        await holder.query("COMMIT");
        return await racing;
      } finally {
        holder.release();
      }
    }

    /** A fresh table holding a running record, and the waiting save that record's run makes next. */
    async function runningRecord() {
      const tableName = freshTable();
      const provider = new PostgresPersistenceProvider({ client: shared, tableName });
      const running = unleased({ status: "running" });
      await provider.save(running);
      return { tableName, provider, running, waiting: { ...waitingSnapshot("approved", undefined, running), revision: 2 } };
    }

    it("a delivery waits for a waiting save in flight on the row, then marks it due: never a lost wake-up", async () => {
      const { tableName, provider, running, waiting } = await runningRecord();
      // The delivery blocks on the row lock the uncommitted save holds, rather than reading the
      // row as running and marking nothing while the save's session finds no event yet.
      expect(await whileHeld(tableName, (held) => held.save(waiting), () => provider.deliver(eventFor(running, "approved")), "the delivery")).toBe(true);
      expect((await provider.claim(claimOf(running.workflowName))).map((item) => item.foundryExecutionId)).toEqual([running.foundryExecutionId]);
    });

    it("a waiting save that waits for a delivery's row lock is stored due: the run may die before its re-read of the mailbox", async () => {
      const { tableName, provider, running, waiting } = await runningRecord();
      // The delivery found the row running and marked nothing; the save began before the event
      // committed, so its own read of the mailbox cannot see it.
      const deliver = async (held: PostgresPersistenceProvider) => expect(await held.deliver(eventFor(running, "approved"))).toBe(true);
      await whileHeld(tableName, deliver, () => provider.save(waiting), "the waiting save");
      expect((await provider.claim(claimOf(running.workflowName))).map((item) => item.foundryExecutionId)).toEqual([running.foundryExecutionId]);
    });

    it("a delivery that found no row marks one whose first save, waiting, committed while the delivery ran", async () => {
      const tableName = freshTable();
      await new PostgresPersistenceProvider({ client: shared, tableName }).migrate();
      const snapshot = { ...waitingSnapshot("approved"), revision: 1 };
      const saver = await shared.connect();
      try {
        await saver.query("BEGIN");
        await new PostgresPersistenceProvider({ client: saver, tableName }).save(snapshot);
        // The run's first save commits after the delivery's statement read no row.
        const client: PostgresClient = {
          query: async (text, values) => {
            const result = await shared.query(text, values);
            if (text.startsWith("WITH stored AS")) await saver.query("COMMIT");
            return result;
          },
        };
        expect(await new PostgresPersistenceProvider({ client, tableName }).deliver(eventFor(snapshot, "approved"))).toBe(true);
      } finally {
        saver.release();
      }
      const provider = new PostgresPersistenceProvider({ client: shared, tableName });
      expect((await provider.claim(claimOf(snapshot.workflowName))).map((item) => item.foundryExecutionId)).toEqual([snapshot.foundryExecutionId]);
    });

    it("tells a subscriber on one pool of a delivery another process makes, and stop() gives its connection back", async () => {
      const tableName = freshTable();
      const pool = newPool(2);
      const provider = new PostgresPersistenceProvider({ client: pool, tableName });
      const snapshot = waitingSnapshot("approved");
      await provider.save(snapshot);
      let heard: () => void = () => undefined;
      const told = new Promise<void>((resolve) => (heard = resolve));
      const stop = await provider.subscribe(() => heard());
      expect(pool.totalCount - pool.idleCount).toBe(1);
      const child = bundleForChild(fileURLToPath(new URL("./postgres-deliver-child.ts", import.meta.url)));
      const env = { ...process.env, WORKFLOWFORGE_PG_URL: started.url, WORKFLOWFORGE_TABLE: tableName };
      const { stdout } = await promisify(execFile)(process.execPath, [child, JSON.stringify(eventFor(snapshot, "approved"))], { env });
      expect(stdout).toBe("true");
      await told;
      await stop();
      expect(pool.totalCount - pool.idleCount).toBe(0);
    });

    it("a subscription whose connection is killed tells its listener to look, listens again on a new one, and hears later deliveries", async () => {
      const tableName = freshTable();
      const pool = newPool(2);
      const provider = new PostgresPersistenceProvider({ client: pool, tableName });
      const listening = async (): Promise<number[]> =>
        ((await shared.query("SELECT pid FROM pg_stat_activity WHERE query = $1 AND state = 'idle'", [`LISTEN "${postgresStatements(tableName, undefined).channel}"`])).rows as { pid: number }[]).map((row) => row.pid);
      let calls = 0;
      let next: () => void = () => undefined;
      const called = (): Promise<void> => new Promise<void>((resolve) => (next = resolve));
      const first = called();
      const stop = await provider.subscribe(() => (calls++, next()));
      const [killed] = await listening();
      await shared.query("SELECT pg_terminate_backend($1)", [killed]);
      await first;
      // Told to look once more when it listens again, on a new connection.
      await called();
      const again = await listening();
      expect(again).toHaveLength(1);
      expect(again).not.toContain(killed);
      const snapshot = waitingSnapshot("approved");
      await provider.save(snapshot);
      const heard = called();
      await provider.deliver(eventFor(snapshot, "approved"));
      await heard;
      expect(calls).toBe(3);
      await stop();
      expect(await listening()).toEqual([]);
    });

    it("tells no subscriber of a delivery that marked nothing", async () => {
      const tableName = freshTable();
      const provider = new PostgresPersistenceProvider({ client: newPool(2), tableName });
      const other = new PostgresPersistenceProvider({ client: newPool(2), tableName });
      const snapshot = waitingSnapshot("approved");
      await provider.save(snapshot);
      const heard: string[] = [];
      const stop = await provider.subscribe(() => heard.push("told"));
      await other.deliver(eventFor(snapshot, "another name"));
      await other.deliver(eventFor(randomKeys(), "approved"));
      // A marking delivery after them: once it is heard, the earlier ones would have been too.
      let marked: () => void = () => undefined;
      const told = new Promise<void>((resolve) => (marked = resolve));
      const stopSecond = await provider.subscribe(() => marked());
      await other.deliver(eventFor(snapshot, "approved"));
      await told;
      // Each subscription listens on a connection of its own: the first may hear the marking
      // delivery a moment after the second. The earlier deliveries were sent before it, so had they
      // told anyone, the first would have heard them by the time it hears this one.
      await vi.waitFor(() => expect(heard.length).toBeGreaterThan(0), { timeout: 10_000, interval: 10 });
      await stopSecond();
      await stop();
      expect(heard).toEqual(["told"]);
    });

    it("finds due records through the partial index on wake_ms, with 10,000 waiting records not yet due", async () => {
      const tableName = freshTable();
      const provider = new PostgresPersistenceProvider({ client: shared, tableName });
      await provider.migrate();
      const future = Date.parse("2100-01-01T00:00:00.000Z");
      await shared.query(
        `INSERT INTO "${tableName}" (instance_id, workflow_id, revision, status, workflow_name, updated_at, data, wake_ms) ` +
          "SELECT 'i' || n, 'w', 1, 'waiting', 'Timer', now(), 'x', $1::bigint + n FROM generate_series(1, 10000) AS n",
        [future],
      );
      await shared.query(`ANALYZE "${tableName}"`);
      // Every unfinished status, as the coordinator claims: the waiting arm must not read the 10,000.
      const request = { ...claimOf("Timer"), filter: {} };
      const { text, values } = postgresStatements(tableName, undefined).claim(request)!;
      const plan = ((await shared.query(`EXPLAIN ${text}`, values)).rows as { "QUERY PLAN": string }[]).map((row) => row["QUERY PLAN"]).join("\n");
      expect(plan).toContain(`${tableName}_due`);
      expect(plan).not.toMatch(/Seq Scan/);
      expect(await provider.claim(request)).toEqual([]);
    });
  });
});
