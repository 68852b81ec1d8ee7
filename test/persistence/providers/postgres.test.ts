import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { PostgresPersistenceProvider, type PostgresClient, type PostgresQueryResult } from "../../../src/persistence/providers/postgres.js";
import { fullSnapshot, nextRevision } from "../../../src/persistence/testing/fixtures.js";
import { describePostgresCases, freshTable } from "./postgres-cases.js";
import { describePostgresGroupedCases } from "./postgres-grouped-cases.js";
import { describePostgresMailboxCases } from "./postgres-mailbox-cases.js";
import { freshPglite } from "../../support/pglite.js";

// PGlite's first start runs initdb in WebAssembly: seconds, so one instance serves the whole file.
let db: PGlite | undefined;
beforeAll(async () => {
  db = await freshPglite();
}, 120_000);
afterAll(() => db?.close());

describePostgresCases("PGlite", () => db as PGlite);
describePostgresMailboxCases("PGlite", () => db as PGlite);
describePostgresGroupedCases("PGlite", () => db as PGlite);

describe("PostgresPersistenceProvider and rows an earlier version wrote", () => {
  it("a workflow_name stored unescaped (a backslash in the name) still matches list and claim filters by that name", async () => {
    const tableName = freshTable();
    const provider = new PostgresPersistenceProvider({ client: db as PGlite, tableName });
    await provider.migrate();
    const workflowName = "Acme\\Orders";
    const stored: Record<string, unknown> = { ...fullSnapshot({ workflowName, status: "failed", attempts: 0 }) };
    delete stored.leaseExpiresAt;
    await provider.save(stored as never);
    // As the earlier version stored it: the name as it is.
    await (db as PGlite).query(`UPDATE ${tableName} SET workflow_name = $1`, [workflowName]);
    expect(await provider.list({ workflowName })).toHaveLength(1);
    const now = Date.now();
    const claimed = await provider.claim({ owner: "o", now: new Date(now).toISOString(), leaseExpiresAt: new Date(now + 30_000).toISOString(), limit: 10, maxAttempts: 3, filter: { workflowName } });
    expect(claimed.map((snapshot) => snapshot.workflowName)).toEqual([workflowName]);
  });
});

describe("PostgresPersistenceProvider and times an operator wrote", () => {
  it("claims past a row whose lease or update time is infinite, and a claim it gives back restores them as they were", async () => {
    const tableName = freshTable();
    const provider = new PostgresPersistenceProvider({ client: db as PGlite, tableName });
    await provider.migrate();
    for (const instanceId of ["ended", "touched", "junk"]) await provider.save(fullSnapshot({ foundryExecutionId: instanceId, status: "running", attempts: 0 }));
    // A lease ended by hand, an update time set to the end of time.
    await (db as PGlite).query(`UPDATE ${tableName} SET lease_expires_at = '-infinity' WHERE instance_id = 'ended'`);
    await (db as PGlite).query(`UPDATE ${tableName} SET updated_at = 'infinity' WHERE instance_id = 'touched'`);
    await (db as PGlite).query(`UPDATE ${tableName} SET data = 'junk' WHERE instance_id = 'junk'`);
    const now = Date.now();
    const request = { owner: "o", now: new Date(now).toISOString(), leaseExpiresAt: new Date(now + 30_000).toISOString(), limit: 10, maxAttempts: 3 };
    // The junk row fails the claim, which gives back every row it took.
    await expect(provider.claim(request)).rejects.toMatchObject({ code: "SNAPSHOT_CORRUPTED" });
    const times = async () => (await (db as PGlite).query<{ i: string; l: string | null; u: string }>(`SELECT instance_id AS i, lease_expires_at::text AS l, updated_at::text AS u FROM ${tableName} WHERE instance_id <> 'junk' ORDER BY 1`)).rows;
    expect((await times()).map((row) => [row.i, row.l === "-infinity", row.u === "infinity"])).toEqual([["ended", true, false], ["touched", false, true]]);
    const claimed = await provider.claim(request, undefined, { onUnreadable: () => undefined });
    expect(claimed.map((snapshot) => snapshot.foundryExecutionId).sort()).toEqual(["ended", "touched"]);
  });
});

/** A client that answers every statement with `answer(text)`; no database behind it. */
function fakeClient(answer: (text: string) => PostgresQueryResult | Promise<PostgresQueryResult>) {
  const texts: string[] = [];
  const client: PostgresClient = {
    query: (text) => {
      texts.push(text);
      return Promise.resolve().then(() => answer(text));
    },
  };
  return { client, texts };
}

const done: PostgresQueryResult = { rows: [], rowCount: 1 };
const isDdl = (text: string): boolean => text.startsWith("DO ");

describe("PostgresPersistenceProvider options", () => {
  const client = fakeClient(() => done).client;

  it("rejects a missing client or one without query() with a TypeError naming options.client", () => {
    expect(() => new PostgresPersistenceProvider({} as never)).toThrow(new TypeError("PostgresPersistenceProvider(options): options.client must be a pg Pool, Client or PoolClient or a PGlite instance, got undefined"));
    expect(() => new PostgresPersistenceProvider({ client: { execute() {} } } as never)).toThrow(/options\.client/);
  });

  it.each(["", "1table", "bad name", 'x"; DROP TABLE y; --', "a-b", "é", "t".repeat(64), 42])("rejects %j as tableName and as schema with a TypeError naming the option", (name) => {
    expect(() => new PostgresPersistenceProvider({ client, tableName: name as string })).toThrow(TypeError);
    expect(() => new PostgresPersistenceProvider({ client, tableName: name as string })).toThrow(/options\.tableName must match/);
    expect(() => new PostgresPersistenceProvider({ client, schema: name as string })).toThrow(/options\.schema must match/);
  });

  it.each(["pg_snapshots", "pg_"])("refuses %j, a prefix Postgres reserves, as tableName and as schema with a TypeError naming the option", (name) => {
    expect(() => new PostgresPersistenceProvider({ client, tableName: name })).toThrow(TypeError);
    expect(() => new PostgresPersistenceProvider({ client, tableName: name })).toThrow(/options\.tableName must not start with "pg_"/);
    expect(() => new PostgresPersistenceProvider({ client, schema: name })).toThrow(/options\.schema must not start with "pg_"/);
  });

  it.each([
    ["orders_mailbox", "_mailbox", "the events table"],
    ["orders_claimable", "_claimable", "the index of claims by status"],
    ["orders_claim_keys", "_claim_keys", "the index of claims by key"],
    ["orders_due", "_due", "the index of due waiting rows"],
  ])("refuses tableName %j, a name it derives from another table's, with a TypeError naming the suffix", (name, suffix, what) => {
    expect(() => new PostgresPersistenceProvider({ client, tableName: name })).toThrow(
      new TypeError(`PostgresPersistenceProvider(options): options.tableName must not end in "${suffix}", which names ${what} of tableName "orders", got "${name}"`),
    );
  });

  it("accepts table names that only contain a suffix it derives, or end in it in another case (quoted names are case-sensitive)", () => {
    for (const name of ["mailbox", "_due", "orders_mailboxes", "orders_due_dates", "orders_Mailbox"]) expect(new PostgresPersistenceProvider({ client, tableName: name }).tableName).toBe(name);
  });

  it("accepts names in which pg_ is not the prefix, or is in another case (quoted names are case-sensitive)", () => {
    for (const name of ["my_pg_snapshots", "PG_snapshots", "pgsnapshots"]) expect(new PostgresPersistenceProvider({ client, tableName: name, schema: name }).tableName).toBe(name);
  });

  it("accepts identifiers of up to 63 characters and defaults the table to workflowforge_snapshots", () => {
    expect(new PostgresPersistenceProvider({ client, tableName: `_T${"x".repeat(61)}`, schema: "Tenant_1" }).tableName).toHaveLength(63);
    const provider = new PostgresPersistenceProvider({ client });
    expect([provider.tableName, provider.schema]).toEqual(["workflowforge_snapshots", undefined]);
  });

  it("rejects an invalid codec and unknown options with a TypeError", () => {
    expect(() => new PostgresPersistenceProvider({ client, codec: { encode: () => "" } as never })).toThrow(/options\.codec/);
    expect(() => new PostgresPersistenceProvider({ client, table: "x" } as never)).toThrow(/unknown option "table"/);
  });

  it("declares compare-and-set, list, claim and mailbox, and push only for a client that can listen", () => {
    expect(new PostgresPersistenceProvider({ client }).capabilities).toEqual({ compareAndSet: true, list: true, claim: true, mailbox: true, push: false });
  });
});

describe("PostgresPersistenceProvider with a failing client", () => {
  it("wraps a driver failure in PersistenceError naming source, call and keys, with the driver's error as cause", async () => {
    const failure = new Error("Connection terminated unexpectedly");
    const { client } = fakeClient((text) => (isDdl(text) ? done : Promise.reject(failure)));
    const provider = new PostgresPersistenceProvider({ client });
    const snapshot = fullSnapshot();
    const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
    const calls = [
      ["save", () => provider.save(snapshot)],
      ["tryLoad", () => provider.tryLoad(keys.foundryExecutionId, keys.workflowId)],
      ["delete", () => provider.delete(keys.foundryExecutionId, keys.workflowId)],
    ] as const;
    for (const [call, attempt] of calls) {
      const error = await attempt().catch((caught: unknown) => caught);
      expect(error).toMatchObject({ name: "PersistenceError", code: "PERSISTENCE", call, keys, cause: failure });
      expect((error as Error).message).toBe(`[workflowforge:postgres] ${call} failed for instance "${keys.foundryExecutionId}" / workflow "${keys.workflowId}": Connection terminated unexpectedly`);
    }
    await expect(provider.list({ workflowId: "w" })).rejects.toMatchObject({ call: "list", keys: { foundryExecutionId: "*", workflowId: "w" }, cause: failure });
  });

  it("keeps a thrown non-Error value as the cause", async () => {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a driver may reject with anything: the case under test
    const { client } = fakeClient((text) => (isDdl(text) ? done : Promise.reject("socket hang up")));
    await expect(new PostgresPersistenceProvider({ client }).tryLoad("i", "w")).rejects.toMatchObject({ code: "PERSISTENCE", cause: "socket hang up" });
  });

  it("does not memoise a failed table creation: the next call creates it and proceeds", async () => {
    let failures = 1;
    const { client, texts } = fakeClient((text) => (isDdl(text) && failures-- > 0 ? Promise.reject(new Error("too many clients")) : done));
    const provider = new PostgresPersistenceProvider({ client });
    const snapshot = fullSnapshot();
    await expect(provider.save(snapshot)).rejects.toMatchObject({ code: "PERSISTENCE", call: "save", message: expect.stringContaining('creating table "workflowforge_snapshots" failed: too many clients') as unknown });
    await provider.save(snapshot);
    await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId);
    expect(texts.filter(isDdl)).toHaveLength(2);
  });

  it("retries table creation once after a concurrent-create race error, and not after other errors", async () => {
    for (const code of ["23505", "42P07", "42710", "42P06"]) {
      let failures = 1;
      const { client, texts } = fakeClient((text) => (isDdl(text) && failures-- > 0 ? Promise.reject(Object.assign(new Error("duplicate key"), { code })) : done));
      await new PostgresPersistenceProvider({ client }).migrate();
      expect(texts, code).toHaveLength(2);
    }
    const denied = Object.assign(new Error("permission denied for schema public"), { code: "42501" });
    const { client, texts } = fakeClient(() => Promise.reject(denied));
    await expect(new PostgresPersistenceProvider({ client }).migrate()).rejects.toBe(denied);
    expect(texts).toHaveLength(1);
  });

  it("a refused save costs one statement: it reads nothing back to explain the refusal", async () => {
    const { client, texts } = fakeClient(() => ({ rows: [], rowCount: 0 }));
    const provider = new PostgresPersistenceProvider({ client });
    await provider.migrate();
    texts.length = 0;
    await expect(provider.save(fullSnapshot({ revision: 4 }))).rejects.toMatchObject({
      code: "SNAPSHOT_CONFLICT",
      message: expect.stringMatching(/revision 4 was refused: the stored revision is not 3$/) as unknown,
    });
    expect(texts).toHaveLength(1);
  });

  it("reads PGlite's affectedRows when there is no rowCount, and rejects a result with neither", async () => {
    const accepted = fakeClient(() => ({ rows: [], affectedRows: 1 }));
    await new PostgresPersistenceProvider({ client: accepted.client }).save(fullSnapshot());
    const refused = fakeClient(() => ({ rows: [], affectedRows: 0 }));
    await expect(new PostgresPersistenceProvider({ client: refused.client }).save(fullSnapshot())).rejects.toMatchObject({ code: "SNAPSHOT_CONFLICT" });
    const silent = fakeClient(() => ({ rows: [], rowCount: null }));
    await expect(new PostgresPersistenceProvider({ client: silent.client }).save(fullSnapshot())).rejects.toThrow(/neither rowCount nor affectedRows/);
  });
});

describe("PostgresPersistenceProvider with a server that stopped answering", () => {
  // A paused server, or one cut off with its connections left open: every statement hangs.
  const hung = (): ReturnType<typeof fakeClient> => fakeClient((text) => (isDdl(text) ? done : new Promise<never>(() => undefined)));
  const snapshot = fullSnapshot();
  const [instance, workflow] = [snapshot.foundryExecutionId, snapshot.workflowId];
  const event = { foundryExecutionId: instance, workflowId: workflow, name: "approved", eventId: "e1", payload: null, sentAt: new Date(0).toISOString() };

  it("rejects each call with its signal's reason as soon as it aborts: save, tryLoad, delete, list, deliver and receive", async () => {
    const provider = new PostgresPersistenceProvider({ client: hung().client });
    await provider.migrate();
    const calls: [string, (signal: AbortSignal) => Promise<unknown>][] = [
      ["save", (signal) => provider.save(snapshot, signal)],
      ["tryLoad", (signal) => provider.tryLoad(instance, workflow, signal)],
      ["delete", (signal) => provider.delete(instance, workflow, signal)],
      ["list", (signal) => provider.list({}, signal)],
      ["deliver", (signal) => provider.deliver(event, signal)],
      ["receive", (signal) => provider.receive({ foundryExecutionId: instance, workflowId: workflow }, "approved", signal)],
    ];
    for (const [call, start] of calls) {
      const controller = new AbortController();
      const reason = new Error(`gave up on ${call}`);
      const outcome = start(controller.signal).then(() => "settled", (error: unknown) => error);
      await new Promise((resolve) => setImmediate(resolve));
      controller.abort(reason);
      expect(await outcome, call).toBe(reason);
    }
  });

  it("a save whose statement hangs rejects with its own signal's reason, and the saves grouped behind it go on waiting", async () => {
    const provider = new PostgresPersistenceProvider({ client: hung().client });
    await provider.migrate();
    const controller = new AbortController();
    const mine = provider.save(snapshot, controller.signal).catch((error: unknown) => error);
    const others = [1, 2].map((n) => provider.save(fullSnapshot({ foundryExecutionId: `other-${n}` })).then(() => "settled", () => "failed"));
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort(new Error("closing"));
    expect(await mine).toMatchObject({ message: "closing" });
    expect(await Promise.race([...others, new Promise((resolve) => setImmediate(resolve, "pending"))])).toBe("pending");
  });

  it("an aborted save still holds back its instance's next write until its statement settles, so a late commit cannot bring a deleted record back", async () => {
    let answer: (result: PostgresQueryResult) => void = () => undefined;
    const { client, texts } = fakeClient((text) => (isDdl(text) || texts.length > 2 ? done : new Promise<PostgresQueryResult>((resolve) => (answer = resolve))));
    const provider = new PostgresPersistenceProvider({ client });
    await provider.migrate();
    const controller = new AbortController();
    const saving = provider.save(snapshot, controller.signal).catch((error: unknown) => error);
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort(new Error("closing"));
    expect(await saving).toMatchObject({ message: "closing" });
    const deleting = provider.delete(instance, workflow);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(texts.filter((text) => !isDdl(text))).toHaveLength(1);
    answer(done);
    await deleting;
    expect(texts.filter((text) => !isDdl(text)).map((text) => text.split(" ")[0])).toEqual(["INSERT", "WITH"]);
  });

  it("calls sharing one signal add one listener to it between them, not one each", async () => {
    const provider = new PostgresPersistenceProvider({ client: hung().client });
    await provider.migrate();
    const controller = new AbortController();
    const added = vi.spyOn(controller.signal, "addEventListener");
    const calls = Array.from({ length: 20 }, (_, index) => provider.tryLoad(`i-${index}`, workflow, controller.signal).catch((error: unknown) => error));
    controller.abort(new Error("shutting down"));
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 20 }, () => expect.objectContaining({ message: "shutting down" })));
    expect(added).toHaveBeenCalledTimes(1);
  });

  it("a call still waiting for the table to be made rejects with its signal's reason, having sent nothing", async () => {
    const { client, texts } = fakeClient(() => new Promise<never>(() => undefined));
    const provider = new PostgresPersistenceProvider({ client });
    const controller = new AbortController();
    const calls = [provider.tryLoad(instance, workflow, controller.signal), provider.list({}, controller.signal), provider.save(snapshot, controller.signal)];
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort(new Error("shutting down"));
    for (const call of calls) await expect(call).rejects.toThrow("shutting down");
    expect(texts.every(isDdl)).toBe(true);
  });

  it("writes queued behind a hung write of their instance add one listener to a shared signal between them", async () => {
    const provider = new PostgresPersistenceProvider({ client: hung().client });
    await provider.migrate();
    const controller = new AbortController();
    const added = vi.spyOn(controller.signal, "addEventListener");
    const instances = Array.from({ length: 15 }, (_, index) => fullSnapshot({ foundryExecutionId: `i-${index}`, workflowId: workflow }));
    const first = instances.map((stored) => provider.save(stored, controller.signal).catch((error: unknown) => error));
    const queued = instances.map((stored) => provider.save(nextRevision(stored), controller.signal).catch((error: unknown) => error));
    controller.abort(new Error("shutting down"));
    expect(await Promise.all([...first, ...queued])).toEqual(Array.from({ length: 30 }, () => expect.objectContaining({ message: "shutting down" })));
    expect(added).toHaveBeenCalledTimes(1);
  });

  it("a claim waits for its statement, so that it never leaves rows claimed that no one runs", async () => {
    const provider = new PostgresPersistenceProvider({ client: hung().client });
    await provider.migrate();
    const controller = new AbortController();
    const now = Date.now();
    const claiming = provider.claim({ owner: "o", now: new Date(now).toISOString(), leaseExpiresAt: new Date(now + 30_000).toISOString(), limit: 1, maxAttempts: 3 }, controller.signal);
    controller.abort();
    expect(await Promise.race([claiming.then(() => "settled", () => "failed"), new Promise((resolve) => setTimeout(resolve, 50, "pending"))])).toBe("pending");
  });
});

describe("PostgresPersistenceProvider on a closed PGlite", () => {
  it("rejects every call with PersistenceError whose cause is PGlite's error", async () => {
    const tableName = freshTable();
    // From a copy of the file's instance: a fresh PGlite would run initdb again.
    const closed = await PGlite.create({ loadDataDir: await (db as PGlite).dumpDataDir("none") });
    const provider = new PostgresPersistenceProvider({ client: closed, tableName });
    await provider.migrate();
    await closed.close();
    const error: unknown = await provider.tryLoad("order-1", "wf").catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "PERSISTENCE", call: "tryLoad", keys: { foundryExecutionId: "order-1", workflowId: "wf" } });
    expect((error as Error).message).toMatch(/^\[workflowforge:postgres\] tryLoad failed for instance "order-1" \/ workflow "wf": .*closed/);
    expect((error as { cause: unknown }).cause).toBeInstanceOf(Error);
  }, 120_000);
});
