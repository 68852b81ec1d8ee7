import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { usePersistence, type WorkflowExecutionSnapshot } from "../dist/persistence/index.js";
// From the sources until the build has entries for the codec and the Postgres provider.
import { defaultSnapshotCodec } from "../src/persistence/codec.js";
import { PostgresPersistenceProvider, type PostgresClient } from "../src/persistence/providers/postgres.js";
import { startPostgres } from "../test/support/postgres-server.js";
import { measureInterleaved, ratio, verdict, type MeasureOptions, type Side, type Summary } from "./measure.js";
import { checkpointFixture, steps } from "./checkpoint-fixture.js";
import type { BenchSection } from "./report.js";

// Per-step checkpoint cost of PostgresPersistenceProvider on a throw-away PostgreSQL server (through
// a pg Pool) and on PGlite: a 200-step workflow with a 10-key property bag, run with and without
// usePersistence, against the floor of the raw driver sending the provider's own statement with the
// same encoded text, one round trip per step. Ratios only; no absolute time is a pass/fail criterion.

const target = 1.3;
const { orderFoundry, keyOptions, captureSnapshots } = checkpointFixture("PostgresBench");

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

type SideName = "bare" | "persisted" | "save" | "raw" | "encode";

function createCase(client: PostgresClient, snapshots: readonly WorkflowExecutionSnapshot[]): Record<SideName, Side> {
  const provider = new PostgresPersistenceProvider({ client });
  const bare = orderFoundry();
  const persisted = usePersistence(orderFoundry(), provider, keyOptions("bench-persisted"));
  const texts = snapshots.map((snapshot) => defaultSnapshotCodec.encode(snapshot));
  const { foundryExecutionId, workflowId } = snapshots[0] as WorkflowExecutionSnapshot;
  // Plain keys: the provider stores them as they are, so the raw side passes them unchanged.
  const keys = [foundryExecutionId, workflowId];
  // Sent straight to the driver with the same encoded text.
  const raw = async (): Promise<void> => {
    for (const [i, snapshot] of snapshots.entries()) {
      const values = [...keys, snapshot.revision, snapshot.status, snapshot.workflowName, snapshot.updatedAt, texts[i]];
      const result = snapshot.revision === 1 ? await client.query(sql.insert, values) : await client.query(sql.update, [...values, snapshot.revision - 1]);
      if ((result.rowCount ?? result.affectedRows) !== 1) throw new Error(`the raw write of revision ${snapshot.revision} was refused`);
    }
    await client.query(sql.remove, keys);
  };
  return {
    bare: { run: () => bare.forge(), units: steps },
    persisted: { run: () => persisted.forge(), units: steps },
    save: {
      run: async () => {
        for (const snapshot of snapshots) await provider.save(snapshot);
        await provider.delete(foundryExecutionId, workflowId);
      },
      units: steps,
    },
    raw: { run: raw, units: steps },
    encode: { run: () => Promise.resolve(snapshots.map((snapshot) => defaultSnapshotCodec.encode(snapshot))), units: steps },
  };
}

// A failed check would make every number meaningless, so the sides are run once and verified first.
async function verify(client: PostgresClient, sides: Record<SideName, Side>): Promise<void> {
  for (const name of ["bare", "persisted"] as const) {
    const output = await sides[name].run();
    if (output !== steps) throw new Error(`the ${name} run returned ${String(output)}, expected ${steps}`);
  }
  await sides.save.run();
  await sides.raw.run();
  const { rows } = await client.query("SELECT count(*)::int AS left FROM workflowforge_snapshots");
  const left = (rows[0] as { left: number }).left;
  if (left !== 0) throw new Error(`${left} rows left behind after the verification runs`);
}

const us = (ns: number): number => Math.round(ns / 10) / 100;

function row(backend: string, result: Record<SideName, Summary>): Record<string, string | number> {
  const checkpoint = result.persisted.median - result.bare.median;
  return {
    backend,
    "raw statement µs/step": us(result.raw.median),
    "encode µs/step": us(result.encode.median),
    "provider.save µs/step": us(result.save.median),
    "checkpoint µs/step": us(checkpoint),
    "checkpoint spread": `±${(((result.persisted.spread * result.persisted.median) / checkpoint) * 100).toFixed(1)}%`,
    "save / raw": ratio(result.save.median / result.raw.median),
    "checkpoint / raw": ratio(checkpoint / result.raw.median),
  };
}

async function measure(client: PostgresClient, snapshots: readonly WorkflowExecutionSnapshot[], options: MeasureOptions): Promise<Record<SideName, Summary>> {
  await new PostgresPersistenceProvider({ client }).migrate();
  const sides = createCase(client, snapshots);
  await verify(client, sides);
  const [result] = await measureInterleaved([sides], options);
  return result as Record<SideName, Summary>;
}

// A few one-run samples: a step costs a round trip (and on the server a commit), not nanoseconds.
const options = { unitsPerSample: steps, warmupRounds: 2, rounds: 15 } satisfies MeasureOptions;

async function measureServer(snapshots: readonly WorkflowExecutionSnapshot[], rows: Record<string, string | number>[], notes: string[]): Promise<void> {
  const server = await startPostgres();
  if ("skipped" in server) {
    notes.push(`Real server not measured: ${server.skipped}.`);
    return;
  }
  try {
    for (const synchronousCommit of ["on", "off"]) {
      const pool = new pg.Pool({ connectionString: server.url, max: 2, options: `-c synchronous_commit=${synchronousCommit}` });
      try {
        const result = await measure(pool, snapshots, options);
        rows.push(row(`PostgreSQL (pg Pool), synchronous_commit ${synchronousCommit}`, result));
        const checkpointRatio = (result.persisted.median - result.bare.median) / result.raw.median;
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
  const snapshots = await captureSnapshots();
  const rows: Record<string, string | number>[] = [];
  const notes: string[] = [];
  await measureServer(snapshots, rows, notes);
  const db = await PGlite.create();
  try {
    const result = await measure(db, snapshots, options);
    rows.push(row("PGlite (in process)", result));
    const checkpointRatio = (result.persisted.median - result.bare.median) / result.raw.median;
    notes.push(`Target (PGlite): checkpoint within ${target}× of the raw statement: ${verdict(checkpointRatio <= target)} (${ratio(checkpointRatio)}).`);
  } finally {
    await db.close();
  }
  const bytes = Math.round(snapshots.reduce((sum, snapshot) => sum + defaultSnapshotCodec.encode(snapshot).length, 0) / snapshots.length);
  notes.push(
    `A ${steps}-step workflow with a 10-key property bag; encoded snapshots average ${bytes} characters. Every save is one statement, one round trip.`,
    "checkpoint = (forge() with usePersistence − forge() without) / steps: snapshot building, encoding, the compare-and-set statement, plus one tryLoad and one delete per run.",
    "raw statement: the provider's own `UPDATE ... WHERE revision = n - 1` (and `INSERT ... ON CONFLICT DO NOTHING` for revision 1) with the same encoded text, sent with client.query in a loop. provider.save: the captured snapshots saved directly. encode: the codec alone.",
    "The server is a throw-away cluster on 127.0.0.1 with fsync on: with synchronous_commit on every commit waits for a WAL flush; off (a session setting) keeps the round trip and loses at most the last few commits in a crash, never consistency.",
    `Median of ${options.rounds} one-run samples (${steps} steps each) after ${options.warmupRounds} warm-up runs, sides interleaved; spread is half the interquartile range of the checkpoint.`,
  );
  return { title: "Postgres provider: per-step checkpoint cost", rows, notes };
}
