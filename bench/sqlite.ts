import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultSnapshotCodec, type SnapshotCodec, type WorkflowExecutionSnapshot } from "../dist/persistence/index.js";
import { SqlitePersistenceProvider } from "../dist/persistence/sqlite.js";
import { averageLength, checkpointFixture, checkpointOf, checkpointRow, checkpointSides, jsonFloorNote, steps, verifySides, type CheckpointFixture, type RawWrite, type SideName } from "./checkpoint-fixture.js";
import { measureInterleaved, ratio, verdict, type MeasureOptions, type Summary } from "./measure.js";
import type { BenchSection } from "./report.js";

// Per-step checkpoint cost of SqlitePersistenceProvider on a WAL file database: a 200-step workflow
// with a 10-key property bag, run with and without usePersistence, against the floor of the raw
// driver writing the same encoded text with one prepared upsert per step. Ratios only.

const target = 1.3;
const normalOptions = { unitsPerSample: 2_000, warmupRounds: 3, rounds: 21 } satisfies MeasureOptions;

function rawUpsert(database: Database.Database, fixture: CheckpointFixture): RawWrite {
  const upsert = database.prepare(
    "INSERT INTO workflowforge_snapshots (instance_id, workflow_id, revision, status, workflow_name, updated_at, data) VALUES (?, ?, ?, ?, ?, ?, ?) " +
      "ON CONFLICT (instance_id, workflow_id) DO UPDATE SET revision = excluded.revision, status = excluded.status, " +
      "workflow_name = excluded.workflow_name, updated_at = excluded.updated_at, data = excluded.data",
  );
  const remove = database.prepare("DELETE FROM workflowforge_snapshots WHERE instance_id = ? AND workflow_id = ?");
  const { foundryExecutionId, workflowId } = fixture.snapshots[0] as WorkflowExecutionSnapshot;
  return {
    write: (snapshot, text) => upsert.run(foundryExecutionId, workflowId, snapshot.revision, snapshot.status, snapshot.workflowName, snapshot.updatedAt, text),
    end: () => remove.run(foundryExecutionId, workflowId),
  };
}

// Bare JSON as the codec: no envelope, checksum, type tags or checks. The provider and the engine
// on top of the cheapest encoding there is, to tell their share from the codec's.
const bareJsonCodec: SnapshotCodec = {
  encode: (snapshot) => JSON.stringify(snapshot),
  decode: (text) => JSON.parse(text) as WorkflowExecutionSnapshot,
};

/** One case per codec, on one database, interleaved. */
async function measure(directory: string, synchronous: string, fixture: CheckpointFixture, options: MeasureOptions, codecs: readonly SnapshotCodec[]): Promise<Record<SideName, Summary>[]> {
  const database = new Database(join(directory, `${synchronous.toLowerCase()}.db`));
  try {
    database.pragma(`synchronous = ${synchronous}`);
    await new SqlitePersistenceProvider({ database }).migrate();
    const cases = codecs.map((codec) => checkpointSides(fixture, new SqlitePersistenceProvider({ database, codec }), rawUpsert(database, fixture), (snapshot) => codec.encode(snapshot)));
    const count = database.prepare("SELECT count(*) FROM workflowforge_snapshots").pluck();
    for (const sides of cases) await verifySides(sides, () => (count.get() === 0 ? [] : [`${String(count.get())} rows`]));
    return await measureInterleaved(cases, options);
  } finally {
    database.close();
  }
}

export async function run(): Promise<BenchSection> {
  const directory = mkdtempSync(join(tmpdir(), "workflowforge-bench-sqlite-"));
  try {
    const fixture = await checkpointFixture("SqliteBench");
    const [normal, bareJson] = (await measure(directory, "NORMAL", fixture, normalOptions, [defaultSnapshotCodec, bareJsonCodec])) as [Record<SideName, Summary>, Record<SideName, Summary>];
    // FULL pays an fsync per commit (milliseconds on most disks), so it gets a few one-run samples.
    const [full] = (await measure(directory, "FULL", fixture, { unitsPerSample: steps, warmupRounds: 1, rounds: 3 }, [defaultSnapshotCodec])) as [Record<SideName, Summary>];
    const checkpointRatio = checkpointOf(normal) / normal.raw.median;
    const bareJsonRatio = checkpointOf(bareJson) / normal.raw.median;
    return {
      title: "SQLite provider: per-step checkpoint cost (WAL file database)",
      rows: [
        checkpointRow({ synchronous: "NORMAL" }, "raw upsert", normal),
        checkpointRow({ synchronous: "NORMAL, bare JSON as codec" }, "raw upsert", bareJson),
        checkpointRow({ synchronous: "FULL" }, "raw upsert", full),
      ],
      notes: [
        `Target: checkpoint within ${target}× of the raw upsert (synchronous = NORMAL, the default): ${verdict(checkpointRatio <= target)} (${ratio(checkpointRatio)}); the raw upsert of JSON text stringified in the loop, the floor of any provider storing JSON, is ${ratio(normal.rawJson.median / normal.raw.median)}, and a checkpoint with bare JSON as the codec ${ratio(bareJsonRatio)} of the same raw upsert.`,
        `A ${steps}-step workflow with a 10-key property bag; encoded snapshots average ${averageLength(fixture)} characters.`,
        "checkpoint = (forge() with usePersistence − forge() without) / steps: snapshot building, encoding, the compare-and-set statement, plus one tryLoad and one delete per run.",
        "engine = checkpoint − provider.save: building the snapshot in the middleware and the run's tryLoad and delete. provider.save − encode − raw upsert is the provider's own work.",
        "raw upsert: one prepared `INSERT ... ON CONFLICT DO UPDATE` of the same encoded text per step, in a loop. provider.save: the captured snapshots saved directly. encode: the codec alone.",
        jsonFloorNote("raw upsert"),
        "bare JSON as codec: the same provider given `{ encode: JSON.stringify, decode: JSON.parse }` (no envelope, no checksum, no type tags, no checks), measured interleaved with the first row: what the provider and the engine cost on top of the cheapest encoding there is. Its own raw upsert writes that shorter JSON text, so its ratio columns are against that write (and its two raw columns differ only by stringifying in the loop); the target note compares its checkpoint with the first row's raw upsert.",
        "synchronous: NORMAL is what better-sqlite3 runs a WAL database with unless told otherwise (the provider leaves it as set); FULL, for checkpoints that survive power loss, makes every commit wait for an fsync of the WAL, which dominates both sides.",
        `NORMAL: median of ${normalOptions.rounds} samples of ${normalOptions.unitsPerSample.toLocaleString("en")} steps after ${normalOptions.warmupRounds} warm-up rounds, sides interleaved. FULL: median of 3 one-run samples.`,
      ],
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
