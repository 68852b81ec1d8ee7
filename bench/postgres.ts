import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { defaultSnapshotCodec } from "../dist/persistence/index.js";
import { PostgresPersistenceProvider, type PostgresClient } from "../dist/persistence/postgres.js";
import { startPostgres } from "../test/support/postgres-server.js";
import { averageLength, checkpointFixture, checkpointOver, checkpointRow, checkpointSides, jsonFloorNote, replayWithText, steps, us, verifySides, type CheckpointFixture, type RawWrite, type SideName } from "./checkpoint-fixture.js";
import { measureSamples, pairedMedian, ratio, summarise, verdict, type MeasureOptions, type Side, type Summary } from "./measure.js";
import type { BenchSection } from "./report.js";

// Per-step checkpoint cost of PostgresPersistenceProvider on a throw-away PostgreSQL server (through
// a pg Pool) and on PGlite: a 200-step workflow with a 10-key property bag, run with and without
// usePersistence, against the floor of the raw driver sending the provider's own statement with
// JSON.stringify of the snapshot, one round trip per step. Ratios only; no absolute time is a pass/fail criterion.

const target = 1.3;

/**
 * The provider's own statements, sent by hand: a provider on a recording wrapper of `client` saves
 * the captured snapshots and deletes them once, and each write sends again the statement it sent
 * (same text, same parameters) with the stored text swapped. So the floor always runs exactly what
 * the provider runs, whatever columns a later version adds.
 */
async function providerStatements(client: PostgresClient, fixture: CheckpointFixture): Promise<RawWrite> {
  type Call = { readonly text: string; readonly values: unknown[] };
  const calls: Call[] = [];
  const recording: PostgresClient = { query: (text, values) => (calls.push({ text, values: values ?? [] }), client.query(text, values)) };
  const provider = new PostgresPersistenceProvider({ client: recording });
  await provider.migrate();
  const only = async (made: () => Promise<void>): Promise<Call> => {
    calls.length = 0;
    await made();
    if (calls.length !== 1) throw new Error(`the provider sent ${calls.length} statements for one call, expected 1`);
    return calls[0] as Call;
  };
  const writes: Array<{ readonly text: string; readonly values: (text: string) => unknown[] }> = [];
  for (const snapshot of fixture.snapshots) {
    const { text, values } = await only(() => provider.save(snapshot));
    writes.push({ text, values: replayWithText(values, defaultSnapshotCodec.encode(snapshot)) });
  }
  const { foundryExecutionId, workflowId } = fixture.snapshots[0] as CheckpointFixture["snapshots"][number];
  const removal = await only(() => provider.delete(foundryExecutionId, workflowId));
  return {
    write: async (snapshot, stored) => {
      const { text, values } = writes[snapshot.revision - 1] as (typeof writes)[number];
      const result = await client.query(text, values(stored));
      if ((result.rowCount ?? result.affectedRows) !== 1) throw new Error(`the raw write of revision ${snapshot.revision} was refused`);
    },
    end: () => client.query(removal.text, removal.values),
  };
}

type CaseSide = SideName | "call" | "rawShort" | "rawEncoded";

/**
 * The sides of one client, interleaved. `breakdown` adds two sides that tell where a raw statement's
 * time goes: `call`, one `SELECT 1` per step (what any query costs through the client), and
 * `rawShort`, the raw statement with `{}` as the text (all but moving the text), and `rawEncoded`,
 * the raw statement with the text encoded in the loop, as the provider makes it.
 */
async function measure(client: PostgresClient, fixture: CheckpointFixture, options: MeasureOptions, breakdown = false): Promise<Record<CaseSide, number[]>> {
  const raw = await providerStatements(client, fixture);
  const sides: Partial<Record<CaseSide, Side>> = checkpointSides(fixture, new PostgresPersistenceProvider({ client }), raw);
  await verifySides(sides as Record<SideName, Side>, async () => {
    const { rows } = await client.query("SELECT count(*)::int AS left FROM workflowforge_snapshots");
    const left = (rows[0] as { left: number }).left;
    return left === 0 ? [] : [`${left} rows`];
  });
  if (breakdown) {
    sides.call = {
      run: async () => {
        for (let i = 0; i < steps; i++) await client.query("SELECT 1");
      },
      units: steps,
    };
    sides.rawShort = {
      run: async () => {
        for (const snapshot of fixture.snapshots) await raw.write(snapshot, "{}");
        await raw.end();
      },
      units: steps,
    };
    sides.rawEncoded = {
      run: async () => {
        for (const snapshot of fixture.snapshots) await raw.write(snapshot, defaultSnapshotCodec.encode(snapshot));
        await raw.end();
      },
      units: steps,
    };
  }
  const [result] = await measureSamples([sides as Record<CaseSide, Side>], options);
  return result as Record<CaseSide, number[]>;
}

const summaries = (samples: Record<CaseSide, number[]>): Record<CaseSide, Summary> =>
  Object.fromEntries(Object.entries(samples).map(([side, values]) => [side, summarise(values)])) as Record<CaseSide, Summary>;

// A few one-run samples: a step costs a round trip (and on the server a commit), not nanoseconds.
const options = { unitsPerSample: steps, warmupRounds: 2, rounds: 21 } satisfies MeasureOptions;
// In process, a step costs a few hundred microseconds: more rounds, for a steadier paired ratio.
const pgliteOptions = { unitsPerSample: steps, warmupRounds: 3, rounds: 41 } satisfies MeasureOptions;

// The floor is the provider's own statement sending JSON.stringify of the snapshot made in the loop,
// as the SQLite and Redis targets are: a text made once before the loop is not what any writer
// sends, and PGlite takes a fresh text measurably dearer than one it has seen.
function targetNote(backend: string, samples: Record<CaseSide, number[]>): string {
  const over = checkpointOver(samples, "rawJson");
  return (
    `Target (${backend}): checkpoint within ${target}× of JSON.stringify + the provider's own statement sent alone: ${verdict(over.median <= target)} (${ratio(over.median)}, ±${(over.spread * 100).toFixed(1)}% over rounds); ` +
    `of the same statement sending the codec's text made before the loop it is ${ratio(checkpointOver(samples, "raw").median)}.`
  );
}

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
        const samples = await measure(pool, fixture, options);
        rows.push(checkpointRow({ backend: `PostgreSQL (pg Pool), synchronous_commit ${synchronousCommit}` }, "raw statement", summaries(samples)));
        notes.push(targetNote(`PostgreSQL, synchronous_commit ${synchronousCommit}`, samples));
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
    const samples = await measure(db, fixture, pgliteOptions, true);
    const result = summaries(samples);
    rows.push(checkpointRow({ backend: "PGlite (in process)" }, "raw statement", result));
    notes.push(targetNote("PGlite", samples));
    const checkpoint = result.persisted.median - result.bare.median;
    const share = (ns: number): string => `${us(ns)} µs (${Math.round((ns / checkpoint) * 100)}%)`;
    notes.push(
      `Where a PGlite checkpoint's ${us(checkpoint)} µs go (medians, so the parts only roughly add up): ` +
        `any query through PGlite's query(), measured as \`SELECT 1\`, ${share(result.call.median)}; ` +
        `the compare-and-set statement on top of that, with \`{}\` as the text, ${share(result.rawShort.median - result.call.median)}; ` +
        `moving the ${averageLength(fixture)}-character text into the row (parameter conversion and the write) ${share(result.raw.median - result.rawShort.median)}; ` +
        `encoding it in the loop, as the provider does, rather than sending a text made beforehand ${share(result.rawEncoded.median - result.raw.median)} (of which the encoder alone is ${us(result.encode.median)} µs: the rest is PGlite taking the codec's fresh text dearer than the same text made before the loop; JSON.stringify's text made in the loop makes the raw statement ${ratio(pairedMedian(samples, (at) => at("rawJson") / at("raw")).median)} of itself too); ` +
        `the provider's own work (provider.save − the raw statement with the text encoded in the loop) ${share(result.save.median - result.rawEncoded.median)}; ` +
        `the engine (checkpoint − provider.save: the snapshot, the run's tryLoad and delete) ${share(checkpoint - result.save.median)}.`,
    );
  } finally {
    await db.close();
  }
  notes.push(
    `A ${steps}-step workflow with a 10-key property bag; encoded snapshots average ${averageLength(fixture)} characters. Every save is one statement, one round trip.`,
    "checkpoint = (forge() with usePersistence − forge() without) / steps: snapshot building, encoding, the compare-and-set statement, plus one tryLoad and one delete per run.",
    "raw statement: the provider's own `UPDATE ... WHERE revision = n - 1` (and `INSERT ... ON CONFLICT DO NOTHING` for revision 1, then its DELETE), recorded as the provider sends them through the same client and sent again by hand with the same encoded text, in a loop. provider.save: the captured snapshots saved directly. encode: the codec alone.",
    jsonFloorNote("raw statement"),
    "The server is a throw-away cluster on 127.0.0.1 with fsync on: with synchronous_commit on every commit waits for a WAL flush; off (a session setting) keeps the round trip and loses at most the last few commits in a crash, never consistency.",
    `Median of ${options.rounds} one-run samples (${steps} steps each) after ${options.warmupRounds} warm-up runs (PGlite: ${pgliteOptions.rounds} after ${pgliteOptions.warmupRounds}), sides interleaved; spread is half the interquartile range of the checkpoint. Target ratios are taken per round (the sides measured moments apart), then the median over rounds.`,
  );
  return { title: "Postgres provider: per-step checkpoint cost", against: "JSON.stringify + the provider's own SQL statement sent alone", rows, notes };
}
