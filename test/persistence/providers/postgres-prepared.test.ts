import { describe, expect, it } from "vitest";
import { PostgresPersistenceProvider, type PostgresPreparingClient, type PostgresQueryConfig, type PostgresQueryResult } from "../../../src/persistence/providers/postgres.js";
import { statementName } from "../../../src/persistence/providers/postgres-prepared.js";
import { fullSnapshot, nextRevision } from "../../../src/persistence/testing/fixtures.js";
import { freshPglite } from "../../support/pglite.js";

// preparedStatements: what the provider hands the client. postgres-prepared.int.test.ts runs the
// conformance kit and the server's side of it on a real server.

/** A client that records what each call was sent as (text, or a named config) and answers `answer`. */
function recordingClient(answer: PostgresQueryResult = { rows: [], rowCount: 1 }) {
  const sent: Array<{ text: string; name: string | undefined }> = [];
  const client = {
    query: (textOrConfig: string | PostgresQueryConfig) => {
      sent.push(typeof textOrConfig === "string" ? { text: textOrConfig, name: undefined } : { text: textOrConfig.text, name: textOrConfig.name });
      return Promise.resolve(answer);
    },
  } as PostgresPreparingClient;
  return { client, sent };
}

const claimRequest = { owner: "worker-1", now: "2026-01-01T00:00:00.000Z", leaseExpiresAt: "2026-01-01T00:00:30.000Z", limit: 4, maxAttempts: 3, filter: {} };

async function everyCall(provider: PostgresPersistenceProvider): Promise<void> {
  const first = fullSnapshot();
  const { foundryExecutionId, workflowId } = first;
  await provider.save(first);
  await provider.save(nextRevision(first));
  await provider.tryLoad(foundryExecutionId, workflowId);
  await provider.claim(claimRequest);
  await provider.deliver({ foundryExecutionId, workflowId, name: "approval", eventId: "e-1", payload: { by: "ada" }, sentAt: "2026-01-01T00:00:00.000Z" });
  await provider.receive({ foundryExecutionId, workflowId }, "approval");
  await provider.list({ workflowId });
  await provider.delete(foundryExecutionId, workflowId);
}

describe("PostgresPersistenceProvider option preparedStatements", () => {
  it("rejects a value that is not a boolean with a TypeError naming options.preparedStatements", () => {
    const { client } = recordingClient();
    for (const value of ["yes", 1, null]) {
      expect(() => new PostgresPersistenceProvider({ client, preparedStatements: value } as never)).toThrow(
        /^PostgresPersistenceProvider\(options\): options\.preparedStatements must be a boolean, got /,
      );
    }
  });

  it("refuses PGlite, whose query takes no query config, with a TypeError naming the option", async () => {
    const db = await freshPglite();
    try {
      expect(() => new PostgresPersistenceProvider({ client: db, preparedStatements: true } as never)).toThrow(
        new TypeError("PostgresPersistenceProvider(options): options.preparedStatements needs a client that takes pg's query config { name, text, values }; PGlite does not"),
      );
      expect(new PostgresPersistenceProvider({ client: db, preparedStatements: false }).tableName).toBe("workflowforge_snapshots");
    } finally {
      await db.close();
    }
  }, 120_000);

  it("sends save, tryLoad, delete, deliver and receive as named statements, and the table setup, claim and list as text", async () => {
    const { client, sent } = recordingClient();
    await everyCall(new PostgresPersistenceProvider({ client, preparedStatements: true }));
    const named = sent.filter((call) => call.name !== undefined);
    // In the order of everyCall: setup, save, save, tryLoad, claim, deliver, receive, list, delete.
    expect(sent.map((call) => call.text.split(" ")[0])).toEqual(["DO", "INSERT", "UPDATE", "SELECT", "WITH", "WITH", "SELECT", "SELECT", "WITH"]);
    expect(sent.map((call) => call.name === undefined)).toEqual([true, false, false, false, true, false, false, true, false]);
    // One name per text, derived from the text alone.
    for (const call of named) expect(call.name).toBe(statementName(call.text));
    expect(new Set(named.map((call) => call.name)).size).toBe(named.length);
  });

  it("hands pg a config whose only own property is its values, so pg's copy of it copies one property", async () => {
    const configs: PostgresQueryConfig[] = [];
    const client = {
      query: (textOrConfig: string | PostgresQueryConfig) => {
        if (typeof textOrConfig !== "string") configs.push(textOrConfig);
        return Promise.resolve({ rows: [], rowCount: 1 });
      },
    } as PostgresPreparingClient;
    const provider = new PostgresPersistenceProvider({ client, preparedStatements: true });
    const first = fullSnapshot();
    await provider.save(first);
    await provider.save(nextRevision(first));
    const [insert, update] = configs;
    expect(configs.map((config) => Object.keys(config))).toEqual([["values"], ["values"]]);
    expect(insert).toMatchObject({ name: statementName(insert?.text ?? ""), values: expect.arrayContaining([first.revision]) as unknown });
    expect(insert?.text).toMatch(/^INSERT /);
    // Two configs of two statements: each inherits its own statement's name and text.
    expect(update?.text).toMatch(/^UPDATE /);
    expect(update?.name).toBe(statementName(update?.text ?? ""));
    expect(update?.values).toContain(first.revision);
  });

  it("sends every statement as text by default", async () => {
    const { client, sent } = recordingClient();
    await everyCall(new PostgresPersistenceProvider({ client }));
    expect(sent).toHaveLength(9);
    expect(sent.every((call) => call.name === undefined)).toBe(true);
  });

  it("names a statement by its text: another table's statements get other names, the same table's the same", async () => {
    const names = async (tableName: string, schema?: string): Promise<string[]> => {
      const { client, sent } = recordingClient();
      await everyCall(new PostgresPersistenceProvider({ client, tableName, preparedStatements: true, ...(schema === undefined ? {} : { schema }) }));
      return sent.flatMap((call) => (call.name === undefined ? [] : [call.name]));
    };
    const orders = await names("orders");
    expect(await names("orders")).toEqual(orders);
    for (const other of [await names("invoices"), await names("orders", "tenant_1")]) {
      expect(other.filter((name) => orders.includes(name))).toEqual([]);
    }
    expect(orders.every((name) => /^workflowforge_[0-9a-z]+$/.test(name) && name.length <= 63)).toBe(true);
  });
});
