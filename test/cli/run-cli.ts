import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { runCli } from "../../src/cli/run.js";
import type { SnapshotStatus, WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";

/** What one in-process run of the CLI printed, and its exit code. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in this process with buffered stdout and stderr. */
export async function cli(...argv: string[]): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) } });
  return { code, stdout, stderr };
}

/** Runs the CLI with --json and parses stdout, failing with stderr when it did not exit 0. */
export async function cliJson(...argv: string[]): Promise<any> {
  const result = await cli(...argv, "--json");
  if (result.code !== 0) throw new Error(`exit ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

const main = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
// By its file: the child's working directory may be one where "tsx" does not resolve.
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/**
 * Runs the CLI from the sources in a process of its own, as plain Node.js imports (no test
 * runner in between); resolves once that process has exited. `timeoutMs` only keeps a child that
 * hangs from outliving the suite: it then gets SIGKILL, and a null code.
 */
export function cliProcess(argv: readonly string[], options: { cwd?: string; timeoutMs?: number; closeStdout?: boolean } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", tsx, main, ...argv], { stdio: ["ignore", "pipe", "pipe"], cwd: options.cwd, timeout: options.timeoutMs ?? 30_000, killSignal: "SIGKILL" });
  // As `| head` does once it has read what it wants: the process's next write to stdout fails (EPIPE).
  if (options.closeStdout === true) child.stdout.destroy();
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((exited, failed) => {
    child.once("error", failed);
    child.once("close", (code) => exited({ code, stdout, stderr }));
  });
}

const ago = (ms: number): string => new Date(Date.now() - ms).toISOString();
const minute = 60_000;
const day = 86_400_000;

// Every field spelled out rather than taken from the shared fixture: the assertions below depend
// on each of them, and the fixture may change for other suites.
function seed(instance: string, workflowKey: string, workflowName: string, status: SnapshotStatus, updatedMsAgo: number, rest: Partial<WorkflowExecutionSnapshot> = {}): WorkflowExecutionSnapshot {
  return {
    formatVersion: 1,
    foundryExecutionId: instance,
    workflowId: workflowKey,
    workflowName,
    workflowVersion: "1.0",
    definitionFingerprint: "fnv1a:0123456789abcdef",
    operationCount: 5,
    nextOperationIndex: 3,
    lastOutput: { charged: 42.5 },
    outputs: { 0: { reservation: "r-1" }, 2: [1, 2, 3] },
    properties: { orderId: instance },
    status,
    revision: 1,
    owner: "worker-1",
    leaseExpiresAt: ago(minute),
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: ago(updatedMsAgo),
    ...rest,
  };
}

/**
 * Four snapshots covering what the commands tell apart. Oldest first, as `list` prints them.
 * "Billing" is the name of two and the workflow key of a third, for `--workflow`.
 */
export function seedSnapshots(): WorkflowExecutionSnapshot[] {
  const properties = { order: { id: "A-1", lines: new Map([["sku-1", 2n]]) }, placedAt: new Date("2026-01-02T03:04:05.000Z"), tags: new Set(["vip"]), bytes: new Uint8Array([1, 2]), missing: undefined };
  return [
    seed("invoice-7", "billing-v1", "Billing", "completed", 10 * day, { operationCount: 3, nextOperationIndex: 3 }),
    seed("order-42", "billing-v1", "Billing", "failed", 3 * day, {
      attempts: 2,
      properties,
      error: {
        name: "Error",
        message: "card declined",
        operationIndex: 2,
        operationName: "charge",
        stack: "Error: card declined\n    at charge (billing.js:12:7)",
        cause: [{ name: "HttpError", message: "402 from the issuer" }],
      },
      nextOperationIndex: 2,
    }),
    seed("ship-9", "Billing", "Shipping", "compensating", 2 * 60 * minute),
    // A process is running this one right now: its lease is live.
    seed("ship-10", "shipping-v2", "Shipping", "running", 5_000, { owner: "worker-7", leaseExpiresAt: new Date(Date.now() + 10 * minute).toISOString() }),
  ];
}

/** The instances of a `list --json` array, in order. */
export const instancesOf = (summaries: readonly { instance: string }[]): string[] => summaries.map((summary) => summary.instance);
