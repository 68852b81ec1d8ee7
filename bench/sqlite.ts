import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { usePersistence, type WorkflowExecutionSnapshot } from "../dist/persistence/index.js";
// From the sources until the build has entries for the codec and the SQLite provider.
import { defaultSnapshotCodec } from "../src/persistence/codec.js";
import { SqlitePersistenceProvider } from "../src/persistence/providers/sqlite.js";
import { measureInterleaved, ratio, verdict, type MeasureOptions, type Side, type Summary } from "./measure.js";
import { checkpointFixture, steps } from "./checkpoint-fixture.js";
import type { BenchSection } from "./report.js";

// Per-step checkpoint cost of SqlitePersistenceProvider on a WAL file database: a 200-step workflow
// with a 10-key property bag, run with and without usePersistence, against the floor of the raw
// driver writing the same encoded text with one prepared upsert per step. Ratios only.

const target = 1.3;
const { orderFoundry, keyOptions, captureSnapshots } = checkpointFixture("SqliteBench");

type SideName = "bare" | "persisted" | "save" | "raw" | "encode";

function createCase(database: Database.Database, snapshots: readonly WorkflowExecutionSnapshot[]): Record<SideName, Side> {
  const provider = new SqlitePersistenceProvider({ database });
  const bare = orderFoundry();
  const persisted = usePersistence(orderFoundry(), provider, keyOptions("bench-persisted"));
  const texts = snapshots.map((snapshot) => defaultSnapshotCodec.encode(snapshot));
  const upsert = database.prepare(
    "INSERT INTO workflowforge_snapshots (instance_id, workflow_id, revision, status, workflow_name, updated_at, data) VALUES (?, ?, ?, ?, ?, ?, ?) " +
      "ON CONFLICT (instance_id, workflow_id) DO UPDATE SET revision = excluded.revision, status = excluded.status, " +
      "workflow_name = excluded.workflow_name, updated_at = excluded.updated_at, data = excluded.data",
  );
  const remove = database.prepare("DELETE FROM workflowforge_snapshots WHERE instance_id = ? AND workflow_id = ?");
  const { foundryExecutionId, workflowId } = snapshots[0] as WorkflowExecutionSnapshot;
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
    raw: {
      run: () => {
        snapshots.forEach((snapshot, i) => upsert.run(foundryExecutionId, workflowId, snapshot.revision, snapshot.status, snapshot.workflowName, snapshot.updatedAt, texts[i]));
        return Promise.resolve(remove.run(foundryExecutionId, workflowId));
      },
      units: steps,
    },
    encode: { run: () => Promise.resolve(snapshots.map((snapshot) => defaultSnapshotCodec.encode(snapshot))), units: steps },
  };
}

// A failed check would make every number meaningless, so the sides are run once and verified first.
async function verify(database: Database.Database, sides: Record<SideName, Side>): Promise<void> {
  for (const name of ["bare", "persisted"] as const) {
    const output = await sides[name].run();
    if (output !== steps) throw new Error(`the ${name} run returned ${String(output)}, expected ${steps}`);
  }
  await sides.save.run();
  await sides.raw.run();
  const left = database.prepare("SELECT count(*) FROM workflowforge_snapshots").pluck().get();
  if (left !== 0) throw new Error(`${String(left)} rows left behind after the verification runs`);
}

const us = (ns: number): number => Math.round(ns / 10) / 100;

function row(synchronous: string, result: Record<SideName, Summary>): Record<string, string | number> {
  const checkpoint = result.persisted.median - result.bare.median;
  return {
    synchronous,
    "raw upsert µs/step": us(result.raw.median),
    "encode µs/step": us(result.encode.median),
    "provider.save µs/step": us(result.save.median),
    "engine µs/step": us(checkpoint - result.save.median),
    "checkpoint µs/step": us(checkpoint),
    "checkpoint spread": `±${((result.persisted.spread * result.persisted.median) / checkpoint * 100).toFixed(1)}%`,
    "save / raw": ratio(result.save.median / result.raw.median),
    "checkpoint / raw": ratio(checkpoint / result.raw.median),
  };
}

async function measure(directory: string, synchronous: string, snapshots: readonly WorkflowExecutionSnapshot[], options: MeasureOptions) {
  const database = new Database(join(directory, `${synchronous.toLowerCase()}.db`));
  try {
    database.pragma(`synchronous = ${synchronous}`);
    await new SqlitePersistenceProvider({ database }).migrate();
    const sides = createCase(database, snapshots);
    await verify(database, sides);
    const [result] = await measureInterleaved([sides], options);
    return result as Record<SideName, Summary>;
  } finally {
    database.close();
  }
}

export async function run(): Promise<BenchSection> {
  const directory = mkdtempSync(join(tmpdir(), "workflowforge-bench-sqlite-"));
  try {
    const snapshots = await captureSnapshots();
    const normal = await measure(directory, "NORMAL", snapshots, { unitsPerSample: 2_000, warmupRounds: 3, rounds: 11 });
    // FULL pays an fsync per commit (milliseconds on most disks), so it gets a few one-run samples.
    const full = await measure(directory, "FULL", snapshots, { unitsPerSample: steps, warmupRounds: 1, rounds: 3 });
    const checkpointRatio = (normal.persisted.median - normal.bare.median) / normal.raw.median;
    const bytes = Math.round(snapshots.reduce((sum, snapshot) => sum + defaultSnapshotCodec.encode(snapshot).length, 0) / snapshots.length);
    return {
      title: "SQLite provider: per-step checkpoint cost (WAL file database)",
      rows: [row("NORMAL", normal), row("FULL", full)],
      notes: [
        `Target: checkpoint within ${target}× of the raw upsert (synchronous = NORMAL): ${verdict(checkpointRatio <= target)} (${ratio(checkpointRatio)}).`,
        `A ${steps}-step workflow with a 10-key property bag; encoded snapshots average ${bytes} characters.`,
        "checkpoint = (forge() with usePersistence − forge() without) / steps: snapshot building, encoding, the compare-and-set statement, plus one tryLoad and one delete per run.",
        "engine = checkpoint − provider.save: building the snapshot in the middleware and the run's tryLoad and delete. provider.save − encode − raw upsert is the provider's own work.",
        "raw upsert: one prepared `INSERT ... ON CONFLICT DO UPDATE` of the same encoded text per step, in a loop. provider.save: the captured snapshots saved directly. encode: the codec alone.",
        "synchronous is better-sqlite3's FULL by default (the provider leaves it as set): every commit waits for an fsync of the WAL, which dominates both sides.",
        "NORMAL: median of 11 samples of 2,000 steps after 3 warm-up rounds, sides interleaved. FULL: median of 3 one-run samples.",
      ],
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
