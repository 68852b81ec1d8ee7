import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultSnapshotCodec, type SnapshotCodec, type WorkflowExecutionSnapshot } from "../dist/persistence/index.js";
import { SqlitePersistenceProvider, type SqliteDatabase } from "../dist/persistence/sqlite.js";
import {
  averageLength,
  checkpointFixture,
  checkpointOf,
  checkpointOver,
  checkpointRow,
  checkpointSides,
  jsonFloorNote,
  jsonSide,
  replayWithText,
  steps,
  us,
  verifySides,
  type CheckpointFixture,
  type RawWrite,
  type SideName,
} from "./checkpoint-fixture.js";
import { measureSamples, ratio, summarise, verdict, type MeasureOptions, type Side, type Summary } from "./measure.js";
import type { BenchSection } from "./report.js";

// Per-step checkpoint cost of SqlitePersistenceProvider on a WAL file database: a 200-step workflow
// with a 10-key property bag, run with and without usePersistence, against the floor of any
// provider that stores JSON with a compare-and-set: JSON.stringify and the provider's own prepared
// statements, run by hand. The raw upsert of the same text is shown beside it. Ratios only.

const target = 1.15;
const normalOptions = { unitsPerSample: 1_000, warmupRounds: 3, rounds: 41 } satisfies MeasureOptions;

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

/**
 * The provider's own compare-and-set statements, run by hand: a provider on a recording wrapper of
 * `database` saves the captured snapshots and deletes them once, and each write replays the statement
 * it ran (one better-sqlite3 statement prepared from the provider's own SQL) with the text swapped.
 */
async function providerStatements(database: Database.Database, fixture: CheckpointFixture): Promise<RawWrite> {
  type Call = { readonly statement: Database.Statement; readonly params: unknown[] };
  const calls: Call[] = [];
  const recording: SqliteDatabase = {
    prepare: (sql) => {
      const statement = database.prepare(sql);
      return { run: (...params) => (calls.push({ statement, params }), statement.run(...params)), get: (...params) => statement.get(...params), all: (...params) => statement.all(...params) };
    },
    exec: (sql) => database.exec(sql),
    pragma: (source) => database.pragma(source),
  };
  const provider = new SqlitePersistenceProvider({ database: recording });
  const only = async (made: () => Promise<void>): Promise<Call> => {
    calls.length = 0;
    await made();
    if (calls.length !== 1) throw new Error(`the provider ran ${calls.length} statements for one call, expected 1`);
    return calls[0] as Call;
  };
  const writes: Array<{ readonly statement: Database.Statement; readonly params: (text: string) => unknown[] }> = [];
  for (const snapshot of fixture.snapshots) {
    const { statement, params } = await only(() => provider.save(snapshot));
    writes.push({ statement, params: replayWithText(params, defaultSnapshotCodec.encode(snapshot)) });
  }
  const { foundryExecutionId, workflowId } = fixture.snapshots[0] as WorkflowExecutionSnapshot;
  const removal = await only(() => provider.delete(foundryExecutionId, workflowId));
  return {
    write: (snapshot, text) => {
      const { statement, params } = writes[snapshot.revision - 1] as (typeof writes)[number];
      if (statement.run(...params(text)).changes !== 1) throw new Error(`the compare-and-set of revision ${snapshot.revision} was refused`);
    },
    end: () => removal.statement.run(...removal.params),
  };
}

// Bare JSON as the codec: no envelope, checksum, type tags or checks. The provider and the engine
// on top of the cheapest encoding there is, to tell their share from the codec's.
const bareJsonCodec: SnapshotCodec = {
  encode: (snapshot) => JSON.stringify(snapshot),
  decode: (text) => JSON.parse(text) as WorkflowExecutionSnapshot,
};

type CaseSide = SideName | "casJson";

/** One case per codec, on one database, interleaved; the first also measures the compare-and-set floor. */
async function measure(directory: string, synchronous: string, fixture: CheckpointFixture, options: MeasureOptions, codecs: readonly SnapshotCodec[]): Promise<Record<CaseSide, number[]>[]> {
  const database = new Database(join(directory, `${synchronous.toLowerCase()}.db`));
  try {
    database.pragma(`synchronous = ${synchronous}`);
    await new SqlitePersistenceProvider({ database }).migrate();
    const casJson = jsonSide(await providerStatements(database, fixture), fixture);
    // The floor first: each round then measures it, bare and persisted one after the other.
    const cases: Array<Partial<Record<CaseSide, Side>>> = codecs.map((codec, i) => ({
      ...(i === 0 ? { casJson } : {}),
      ...checkpointSides(fixture, new SqlitePersistenceProvider({ database, codec }), rawUpsert(database, fixture), (snapshot) => codec.encode(snapshot)),
    }));
    const count = database.prepare("SELECT count(*) FROM workflowforge_snapshots").pluck();
    for (const sides of cases) await verifySides(sides as Record<SideName, Side>, () => (count.get() === 0 ? [] : [`${String(count.get())} rows`]));
    await casJson.run();
    if (count.get() !== 0) throw new Error("the compare-and-set floor left rows behind");
    return await measureSamples(cases as Array<Record<CaseSide, Side>>, options);
  } finally {
    database.close();
  }
}

const summaries = (samples: Record<CaseSide, number[]>): Record<CaseSide, Summary> =>
  Object.fromEntries(Object.entries(samples).map(([side, values]) => [side, summarise(values)])) as Record<CaseSide, Summary>;

export async function run(): Promise<BenchSection> {
  const directory = mkdtempSync(join(tmpdir(), "workflowforge-bench-sqlite-"));
  try {
    const fixture = await checkpointFixture("SqliteBench");
    const [normalSamples, bareJsonSamples] = (await measure(directory, "NORMAL", fixture, normalOptions, [defaultSnapshotCodec, bareJsonCodec])) as [Record<CaseSide, number[]>, Record<CaseSide, number[]>];
    // FULL pays an fsync per commit (milliseconds on most disks), so it gets a few one-run samples.
    const [fullSamples] = (await measure(directory, "FULL", fixture, { unitsPerSample: steps, warmupRounds: 1, rounds: 3 }, [defaultSnapshotCodec])) as [Record<CaseSide, number[]>];
    const [normal, bareJson, full] = [normalSamples, bareJsonSamples, fullSamples].map(summaries) as [Record<CaseSide, Summary>, Record<CaseSide, Summary>, Record<CaseSide, Summary>];
    const overCas = checkpointOver(normalSamples, "casJson");
    const bareOverCas = checkpointOf(bareJson) / normal.casJson.median;
    const casColumns = (result: Record<CaseSide, Summary>, over: Summary | undefined) =>
      over === undefined ? {} : { "compare-and-set + JSON.stringify µs/step": us(result.casJson.median), "checkpoint / (compare-and-set + JSON)": ratio(over.median) };
    return {
      title: "SQLite provider: per-step checkpoint cost (WAL file database)",
      against: "JSON.stringify + the provider's own compare-and-set statement, run by hand",
      rows: [
        { ...checkpointRow({ synchronous: "NORMAL" }, "raw upsert", normal), ...casColumns(normal, overCas) },
        checkpointRow({ synchronous: "NORMAL, bare JSON as codec" }, "raw upsert", bareJson),
        { ...checkpointRow({ synchronous: "FULL" }, "raw upsert", full), ...casColumns(full, checkpointOver(fullSamples, "casJson")) },
      ],
      notes: [
        `Target: checkpoint within ${target}× of JSON.stringify + the provider's own compare-and-set statement (synchronous = NORMAL, the default): ${verdict(overCas.median <= target)} (${ratio(overCas.median)}, ±${(overCas.spread * 100).toFixed(1)}% over rounds); of the raw upsert of the same text it is ${ratio(checkpointOver(normalSamples, "raw").median)}, and a checkpoint with bare JSON as the codec ${ratio(bareOverCas)} of the compare-and-set floor.`,
        "compare-and-set + JSON.stringify: the floor of any provider storing JSON with a compare-and-set. The provider's own prepared statements (`INSERT ... ON CONFLICT DO NOTHING` for revision 1, `UPDATE ... WHERE revision = n - 1` after, then its DELETE), recorded as the provider runs them and run by hand with `JSON.stringify(snapshot)` made in the loop; a write that changes no row stops the bench. The ratio is taken per round (the sides measured moments apart), then the median over rounds.",
        `A ${steps}-step workflow with a 10-key property bag; encoded snapshots average ${averageLength(fixture)} characters.`,
        "checkpoint = (forge() with usePersistence − forge() without) / steps: snapshot building, encoding, the compare-and-set statement, plus one tryLoad and one delete per run.",
        "engine = checkpoint − provider.save: building the snapshot in the middleware and the run's tryLoad and delete. provider.save − encode − raw upsert is the provider's own work.",
        "raw upsert: one prepared `INSERT ... ON CONFLICT DO UPDATE` of the same encoded text per step, in a loop. provider.save: the captured snapshots saved directly. encode: the codec alone.",
        jsonFloorNote("raw upsert"),
        "bare JSON as codec: the same provider given `{ encode: JSON.stringify, decode: JSON.parse }` (no envelope, no checksum, no type tags, no checks), measured interleaved with the first row: what the provider and the engine cost on top of the cheapest encoding there is. Its own raw upsert writes that shorter JSON text, so its ratio columns are against that write (and its two raw columns differ only by stringifying in the loop); the target note compares its checkpoint with the first row's compare-and-set floor.",
        "synchronous: NORMAL is what better-sqlite3 runs a WAL database with unless told otherwise (the provider leaves it as set); FULL, for checkpoints that survive power loss, makes every commit wait for an fsync of the WAL, which dominates both sides.",
        `NORMAL: median of ${normalOptions.rounds} samples of ${normalOptions.unitsPerSample.toLocaleString("en")} steps after ${normalOptions.warmupRounds} warm-up rounds, sides interleaved. FULL: median of 3 one-run samples.`,
      ],
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
