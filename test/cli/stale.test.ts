import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { parseProcessOwner, stateOf } from "../../src/cli/stale.js";
import { processOwner } from "../../src/persistence/options.js";
import type { SnapshotStatus, WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";
import { cli, cliJson } from "./run-cli.js";
import { fullSnapshot } from "../../src/persistence/testing/fixtures.js";
import { seededFileStore } from "../support/file-store.js";

const root = mkdtempSync(join(tmpdir(), "workflowforge-cli-stale-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const minute = 60_000;
const at = (msFromNow: number): string => new Date(Date.now() + msFromNow).toISOString();
const uuid = "0f8b6c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b";

function snapshot(instance: string, status: SnapshotStatus, owner: string, leaseExpiresAt: string | undefined): WorkflowExecutionSnapshot {
  const record: Record<string, unknown> = { ...fullSnapshot({ foundryExecutionId: instance, workflowId: "ProcessOrder-v1", status, owner, updatedAt: at(-5 * minute) }) };
  if (leaseExpiresAt === undefined) delete record.leaseExpiresAt;
  else record.leaseExpiresAt = leaseExpiresAt;
  return record as unknown as WorkflowExecutionSnapshot;
}

async function storeWith(snapshots: readonly WorkflowExecutionSnapshot[]): Promise<string[]> {
  const { directory } = await seededFileStore(root, snapshots);
  return ["--dir", directory];
}

// The default owner of a real process on this host that has exited (and been reaped) by the time this resolves.
async function exitedProcessOwner(): Promise<string> {
  const options = pathToFileURL(fileURLToPath(new URL("../../src/persistence/options.ts", import.meta.url))).href;
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  const script = `import(${JSON.stringify(options)}).then((m) => process.stdout.write(m.processOwner))`;
  const child = spawn(process.execPath, ["--import", tsx, "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  let owner = "";
  child.stdout.on("data", (chunk: Buffer) => (owner += chunk.toString()));
  const code = await new Promise((exited) => child.once("close", exited));
  if (code !== 0 || owner === "") throw new Error(`the child printed no owner (exit ${String(code)})`);
  return owner;
}

describe("processOwner, the default claim owner", () => {
  it("names this host and pid, and the CLI reads them back", () => {
    expect(parseProcessOwner(processOwner)).toEqual({ host: hostname(), pid: process.pid });
  });

  it("is read from the end, so a host name with dashes and digits stays whole", () => {
    expect(parseProcessOwner(`process-web-12-4242-${uuid}`)).toEqual({ host: "web-12", pid: 4242 });
    expect(parseProcessOwner(`process-${uuid}`)).toBeUndefined();
    expect(parseProcessOwner("worker-7")).toBeUndefined();
  });
});

describe("workflowforge CLI stale snapshots", () => {
  it("shows a running snapshot whose owner process on this host has exited as stale, even while its lease is live", async () => {
    const owner = await exitedProcessOwner();
    const { pid } = parseProcessOwner(owner) ?? { pid: 0 };
    const args = await storeWith([snapshot("order-42", "running", owner, at(10 * minute))]);

    const [summary] = await cliJson("list", ...args);
    expect(summary).toMatchObject({ status: "running", state: "stale", owner });
    expect(summary.stateReason).toMatch(new RegExp(`^its owner, process ${pid} on ${hostname()}, has exited; a worker's recovery coordinator \\(resumeAll\\) takes it over once its lease expires at `));

    const shown = await cli("show", "order-42", "ProcessOrder-v1", ...args);
    expect(shown.stdout).toMatch(new RegExp(`^status\\s+running \\(stale: its owner, process ${pid} on ${hostname()}, has exited; `, "m"));
    const table = await cli("list", ...args);
    expect(table.stdout).toMatch(/^order-42\s+\S+\s+\S+\s+running \(stale\)\s/m);
    expect(table.stdout).toMatch(/^1 snapshot is stale: /m);
  });

  it("never calls a snapshot stale for its owner on another host, nor for a live owner on this one", async () => {
    const exited = parseProcessOwner(await exitedProcessOwner())?.pid ?? 0;
    const elsewhere = `process-not-${hostname()}-${exited}-${uuid}`;
    const args = await storeWith([snapshot("a", "running", elsewhere, at(10 * minute)), snapshot("b", "running", elsewhere, undefined), snapshot("c", "running", processOwner, at(10 * minute))]);
    const states = (await cliJson("list", ...args)).map((summary: any) => [summary.instance, summary.state]);
    expect(states).toEqual([["a", "claimed"], ["b", null], ["c", "claimed"]]);
    expect((await cli("list", ...args)).stdout).not.toMatch(/\(stale\)|is stale/);
  });

  it("shows an expired lease as stale only while running or compensating", async () => {
    const expired = at(-3 * minute);
    const statuses: SnapshotStatus[] = ["running", "compensating", "failed", "completed"];
    const args = await storeWith(statuses.map((status) => snapshot(status, status, "worker-9", expired)));
    const states = (await cliJson("list", ...args)).map((summary: any) => [summary.instance, summary.state, summary.stateReason]);
    const reason = "its lease expired 3m ago; a worker's recovery coordinator (resumeAll) takes it over";
    expect(states.sort()).toEqual([["compensating", "stale", reason], ["completed", null, null], ["failed", null, null], ["running", "stale", reason]]);
  });

  it("tells the states apart at one instant: a lease that ends at that instant has expired", () => {
    const now = Date.parse("2026-03-01T12:00:00.000Z");
    const here = { host: "h", isGone: () => false };
    const running = snapshot("x", "running", "worker-9", new Date(now).toISOString());
    expect(stateOf(running, now, here).state).toBe("stale");
    expect(stateOf(running, now - 1, here).state).toBe("claimed");
    const owned = snapshot("y", "running", `process-h-77-${uuid}`, undefined);
    expect(stateOf(owned, now, here)).toEqual({ state: null, reason: null });
    expect(stateOf(owned, now, { host: "h", isGone: (pid) => pid === 77 }).state).toBe("stale");
    expect(stateOf(owned, now, { host: "other", isGone: () => true }).state).toBeNull();
  });
});
