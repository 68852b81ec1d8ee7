import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { PostgresPersistenceProvider, type PostgresClient } from "../dist/persistence/postgres.js";
import { startPostgres } from "../test/support/postgres-server.js";
import { averageLength, checkpointFixture, checkpointOf, checkpointRow, checkpointSides, jsonFloorNote, steps, verifySides, type CheckpointFixture, type RawWrite, type SideName } from "./checkpoint-fixture.js";
import { measureInterleaved, ratio, verdict, type MeasureOptions, type Summary } from "./measure.js";
import type { BenchSection } from "./report.js";

// Per-step checkpoint cost of PostgresPersistenceProvider on a throw-away PostgreSQL server (through
// a pg Pool) and on PGlite: a 200-step workflow with a 10-key property bag, run with and without
// usePersistence, against the floor of the raw driver sending the provider's own statement with the
// same encoded text, one round trip per step. Ratios only; no absolute time is a pass/fail criterion.

const target = 1.3;

// The provider's own compare-and-set statements for its default table.
const sql = {
  insert:
    "INSERT INTO workflowforge_snapshots (instance_id, workflow_id, revision, status, workflow_name, updated_at, data) " +
    "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (instance_id, workflow_id) DO NOTHING",
  update:
    "UPDATE workflowforge_snapshots SET revision = $3, status = $4, workflow_name = $5, updated_at = $6, data = $7 " +
    "WHERE instance_id = $1 AND workflow_id = $2 AND revision = $8",
  remove: "DELETE FROM workflowforge_snapshots WHERE instance_id = $1 AND workflow_id = $2",
};

// Sent straight to the driver with the same encoded text. Plain keys: the provider stores them as
// they are, so the raw side passes them unchanged.
function rawStatement(client: PostgresClient, fixture: CheckpointFixture): RawWrite {
  const { foundryExecutionId, workflowId } = fixture.snapshots[0] as CheckpointFixture["snapshots"][number];
  return {
    write: async (snapshot, text) => {
      const values = [foundryExecutionId, workflowId, snapshot.revision, snapshot.status, snapshot.workflowName, snapshot.updatedAt, text];
      const result = snapshot.revision === 1 ? await client.query(sql.insert, values) : await client.query(sql.update, [...values, snapshot.revision - 1]);
      if ((result.rowCount ?? result.affectedRows) !== 1) throw new Error(`the raw write of revision ${snapshot.revision} was refused`);
    },
    end: () => client.query(sql.remove, [foundryExecutionId, workflowId]),
  };
}

async function measure(client: PostgresClient, fixture: CheckpointFixture, options: MeasureOptions): Promise<Record<SideName, Summary>> {
  await new PostgresPersistenceProvider({ client }).migrate();
  const sides = checkpointSides(fixture, new PostgresPersistenceProvider({ client }), rawStatement(client, fixture));
  await verifySides(sides, async () => {
    const { rows } = await client.query("SELECT count(*)::int AS left FROM workflowforge_snapshots");
    const left = (rows[0] as { left: number }).left;
    return left === 0 ? [] : [`${left} rows`];
  });
  const [result] = await measureInterleaved([sides], options);
  return result as Record<SideName, Summary>;
}

// A few one-run samples: a step costs a round trip (and on the server a commit), not nanoseconds.
const options = { unitsPerSample: steps, warmupRounds: 2, rounds: 21 } satisfies MeasureOptions;

async function measureServer(fixture: CheckpointFixture, rows: Record<string, string | number>[], notes: string[]): Promise<void> {
  const server = await startPostgres();
  if ("skipped" in server) {
    notes.push(`Real server not measured: ${server.skipped}.`);
    return;
  }
  try {
    for (const synchronousCommit of ["on", "off"]) {
      const pool = new pg.Pool({ connectionString: server.url, max: 2, options: `-c synchronous_commit=${synchronousCommit}` });
      try {
        const result = await measure(pool, fixture, options);
        rows.push(checkpointRow({ backend: `PostgreSQL (pg Pool), synchronous_commit ${synchronousCommit}` }, "raw statement", result));
        const checkpointRatio = checkpointOf(result) / result.raw.median;
        notes.push(`Target (PostgreSQL, synchronous_commit ${synchronousCommit}): checkpoint within ${target}× of the raw statement: ${verdict(checkpointRatio <= target)} (${ratio(checkpointRatio)}).`);
      } finally {
        await pool.end();
      }
    }
  } finally {
    await server.stop();
  }
}

export async function run(): Promise<BenchSection> {
  const fixture = await checkpointFixture("PostgresBench");
  const rows: Record<string, string | number>[] = [];
  const notes: string[] = [];
  await measureServer(fixture, rows, notes);
  const db = await PGlite.create();
  try {
    const result = await measure(db, fixture, options);
    rows.push(checkpointRow({ backend: "PGlite (in process)" }, "raw statement", result));
    const checkpointRatio = checkpointOf(result) / result.raw.median;
    notes.push(`Target (PGlite): checkpoint within ${target}× of the raw statement: ${verdict(checkpointRatio <= target)} (${ratio(checkpointRatio)}).`);
  } finally {
    await db.close();
  }
  notes.push(
    `A ${steps}-step workflow with a 10-key property bag; encoded snapshots average ${averageLength(fixture)} characters. Every save is one statement, one round trip.`,
    "checkpoint = (forge() with usePersistence − forge() without) / steps: snapshot building, encoding, the compare-and-set statement, plus one tryLoad and one delete per run.",
    "raw statement: the provider's own `UPDATE ... WHERE revision = n - 1` (and `INSERT ... ON CONFLICT DO NOTHING` for revision 1) with the same encoded text, sent with client.query in a loop. provider.save: the captured snapshots saved directly. encode: the codec alone.",
    jsonFloorNote("raw statement"),
    "The server is a throw-away cluster on 127.0.0.1 with fsync on: with synchronous_commit on every commit waits for a WAL flush; off (a session setting) keeps the round trip and loses at most the last few commits in a crash, never consistency.",
    `Median of ${options.rounds} one-run samples (${steps} steps each) after ${options.warmupRounds} warm-up runs, sides interleaved; spread is half the interquartile range of the checkpoint.`,
  );
  return { title: "Postgres provider: per-step checkpoint cost", rows, notes };
}
