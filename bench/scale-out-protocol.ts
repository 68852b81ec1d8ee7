import { createWorkflow, type Workflow } from "../dist/index.js";

// What the scale-out bench (bench/scale-out.ts) and its worker processes (bench/scale-out-worker.ts)
// share: the workflow, the raw floor's statement and record, and the messages between them.

export const steps = 10;

/** Ten no-op steps: what a step costs is the store's work, not the operation's. */
export const workflow: Workflow<{ n: number }> = (() => {
  const builder = createWorkflow<{ n: number }>("ScaleOut").withVersion("1");
  for (let i = 0; i < steps; i++) builder.withOperation(`step-${i}`, (input: unknown) => (typeof input === "number" ? input + 1 : 1));
  return builder.build();
})();

export type Backend = "postgres" | "redis";
/**
 * `raw-prepared`: the raw upsert as a named prepared statement (Postgres only); `raw`, sent as text,
 * is the floor. `raw-cas`: each write refuses a stale revision, as a checkpoint must. `engine`: the
 * coordinator over each worker's own in-process memory provider, no server involved: what the
 * engine costs with a store that costs nothing.
 */
export type SideName = "coordinator" | "plain" | "raw" | "raw-prepared" | "raw-cas" | "engine";
export const rawSides: readonly SideName[] = ["raw", "raw-prepared", "raw-cas"];

export const rawTable = "scale_out_raw";
export const rawUpsert = `INSERT INTO ${rawTable} (instance_id, data) VALUES ($1, $2) ON CONFLICT (instance_id) DO UPDATE SET data = EXCLUDED.data`;
// raw-cas on Postgres, sent as text: revision 1 is inserted unless the row exists, later ones
// replace revision n - 1 only. Each must change one row.
export const rawCasInsert = `INSERT INTO ${rawTable} (instance_id, revision, data) VALUES ($1, 1, $2) ON CONFLICT (instance_id) DO NOTHING`;
export const rawCasUpdate = `UPDATE ${rawTable} SET revision = $3, data = $2 WHERE instance_id = $1 AND revision = $3 - 1`;
/** raw-cas on Redis: sets the hash's revision and data when its revision is ARGV[1] - 1 (none counts as 0); returns 1 when it did. */
export const rawCasScript = `local stored = tonumber(redis.call('HGET', KEYS[1], 'revision') or '0')
if stored ~= tonumber(ARGV[1]) - 1 then return 0 end
redis.call('HSET', KEYS[1], 'revision', ARGV[1], 'data', ARGV[2])
return 1`;
export const redisPrefix = "scale-out:";
export const rawRedisKey = (instanceId: string): string => `scale-out-raw:${instanceId}`;

/**
 * The raw side's record after step `step`: what a hand-written worker storing its progress as JSON
 * keeps per instance (the fields of a snapshot, without the codec's envelope and checksum).
 */
export function rawRecord(instanceId: string, step: number, createdAt: string): string {
  return JSON.stringify({
    formatVersion: 1,
    foundryExecutionId: instanceId,
    workflowId: workflow.id,
    workflowName: workflow.name,
    operationCount: steps,
    nextOperationIndex: step + 1,
    properties: { n: 1 },
    lastOutput: step + 1,
    status: step + 1 === steps ? "completed" : "running",
    revision: step + 1,
    createdAt,
    updatedAt: new Date().toISOString(),
  });
}

export type ToWorker =
  | { readonly type: "init"; readonly backend: Backend; readonly url: string; readonly concurrency: number; readonly preparedStatements: boolean }
  /** The engine side's instances, enqueued into the worker's own memory provider before the timed run. */
  | { readonly type: "prepare"; readonly instanceIds: readonly string[] }
  | { readonly type: "run"; readonly side: SideName; readonly instanceIds: readonly string[] }
  | { readonly type: "exit" };

/** What one worker did in one run. */
export interface WorkerTally {
  /** Workflow steps completed (instances resumed or run × steps). */
  readonly steps: number;
  /** Statements (Postgres) or commands (Redis) sent through this worker's client. */
  readonly queries: number;
  /** User + system CPU of the worker process, microseconds. */
  readonly cpuUs: number;
  /** Coordinator only: instances this worker listed but another worker claimed first. */
  readonly lostClaims: number;
}

export type FromWorker = { readonly type: "ready" } | ({ readonly type: "done" } & WorkerTally) | { readonly type: "error"; readonly message: string };
