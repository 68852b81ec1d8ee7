import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ClaimRequest } from "../../../src/persistence/provider.js";
import { PostgresPersistenceProvider } from "../../../src/persistence/providers/postgres.js";
import { SqlitePersistenceProvider } from "../../../src/persistence/providers/sqlite.js";
import { action, createFoundry, createSmith, createWorkflow, isSuspended, waitForEvent } from "../../../src/index.js";
import { createRecoveryCoordinator, signalInstance, usePersistence } from "../../../src/persistence/index.js";
import { approvalTrials } from "../../support/approval-trials.js";
import { describeWithServer } from "../../support/describe-with-server.js";
import { startPostgres } from "../../support/postgres-server.js";
import { usePostgresPools } from "../../support/postgres-pool.js";
import { freshTable } from "./postgres-cases.js";

// Durable waits end to end on the SQL stores: runs suspend at their wait through one connection,
// approvals are sent through another, and a coordinator resumes them.

describe("Durable waits on SQLite", () => {
  it("1,000 approvals, each sent before, during or after its run reaches the wait, through a second connection: every event is consumed once and every run completes", async () => {
    const directory = mkdtempSync(join(tmpdir(), "workflowforge-sqlite-waits-"));
    const [runner, sender] = [new Database(join(directory, "waits.db")), new Database(join(directory, "waits.db"))];
    try {
      await approvalTrials(new SqlitePersistenceProvider({ database: runner }), new SqlitePersistenceProvider({ database: sender }));
    } finally {
      runner.close();
      sender.close();
      rmSync(directory, { recursive: true, force: true });
    }
  }, 120_000);
});

const server = await startPostgres();

describeWithServer("Durable waits on a real PostgreSQL server", server, (started) => {
  const newPool = usePostgresPools(started, 10);

  it("1,000 approvals, each sent before, during or after its run reaches the wait, through another pool: every event is consumed once and every run completes", async () => {
    const tableName = freshTable();
    await approvalTrials(new PostgresPersistenceProvider({ client: newPool(), tableName }), new PostgresPersistenceProvider({ client: newPool(), tableName }));
  }, 120_000);

  it("a started coordinator resumes a suspended approval when another pool signals it: woken by LISTEN/NOTIFY, not by its poll", async () => {
    const tableName = freshTable();
    const ran: string[] = [];
    let finished!: (output: string) => void;
    const done = new Promise<string>((resolve) => (finished = resolve));
    const expense = createWorkflow("Expense")
      .addOperation(action("reserve", () => void ran.push("reserve")))
      .addOperation(waitForEvent<{ by: string }>("approval", "approved", { timeoutMs: 7 * 86_400_000 }))
      .addOperation(action("pay-out", (approval: { by: string }) => (ran.push("pay-out"), finished(`paid, approved by ${approval.by}`), "paid")))
      .build();
    const store = new PostgresPersistenceProvider({ client: newPool(), tableName });
    let firstPass!: () => void;
    const firstPassEnded = new Promise<void>((resolve) => (firstPass = resolve));
    const watched = new Proxy(store, {
      get(target, property) {
        if (property === "claim") return (request: ClaimRequest) => target.claim(request).finally(() => firstPass());
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const coordinator = createRecoveryCoordinator({ provider: watched, resolveWorkflow: () => expense });
    try {
      coordinator.start({ pollIntervalMs: 600_000 });
      await firstPassEnded;
      const admin = newPool(1);
      await expect.poll(async () => ((await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'LISTEN %'")).rows[0] as { n: number }).n).toBe(1);

      const runner = new PostgresPersistenceProvider({ client: newPool(), tableName });
      const foundry = usePersistence(createFoundry("Expense"), runner, { instanceId: "expense-7" });
      expect(isSuspended(await createSmith().forge(expense, foundry).catch((error: unknown) => error))).toBe(true);
      expect(await runner.tryLoad("expense-7", "Expense")).toMatchObject({ status: "waiting", waitingFor: "approved" });

      const sender = new PostgresPersistenceProvider({ client: newPool(), tableName });
      expect(await signalInstance(sender, { instanceId: "expense-7", workflowKey: "Expense" }, "approved", { by: "ann" }, { eventId: "mail-1" })).toMatchObject({ stored: true });
      expect(await done).toBe("paid, approved by ann");
      expect(ran).toEqual(["reserve", "pay-out"]);
    } finally {
      await coordinator.close();
    }
  });
});
