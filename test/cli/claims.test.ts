import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isClaimedByOther } from "../../src/persistence/claim.js";
import { processOwner } from "../../src/persistence/options.js";
import type { FilePersistenceProvider } from "../../src/persistence/providers/file/index.js";
import { deadLetterSnapshot } from "../../src/persistence/recovery/dead-letter.js";
import type { SnapshotStatus, WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";
import { fullSnapshot } from "../../src/persistence/testing/fixtures.js";
import { cli, cliJson } from "./run-cli.js";
import { seededFileStore } from "../support/file-store.js";

const root = mkdtempSync(join(tmpdir(), "workflowforge-cli-claims-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const minute = 60_000;
const at = (msFromNow: number): string => new Date(Date.now() + msFromNow).toISOString();

async function storeWith(snapshots: readonly WorkflowExecutionSnapshot[]): Promise<{ args: string[]; provider: FilePersistenceProvider }> {
  const { directory, provider } = await seededFileStore(root, snapshots);
  return { args: ["--dir", directory], provider };
}

// A record of every status, with and without an owner, with no lease, an expired one and a live one.
function everyClaim(): WorkflowExecutionSnapshot[] {
  const statuses: SnapshotStatus[] = ["running", "failed", "compensating", "completed"];
  return statuses.flatMap((status) =>
    [undefined, "worker-9"].flatMap((owner) =>
      [undefined, at(-10 * minute), at(10 * minute)].map((leaseExpiresAt, lease) => {
        const snapshot: Record<string, unknown> = { ...fullSnapshot({ status, updatedAt: at(-60 * minute), workflowName: `${status}-${owner ?? "nobody"}-${lease}` }) };
        if (owner === undefined) delete snapshot.owner;
        else snapshot.owner = owner;
        if (leaseExpiresAt === undefined) delete snapshot.leaseExpiresAt;
        else snapshot.leaseExpiresAt = leaseExpiresAt;
        return snapshot as unknown as WorkflowExecutionSnapshot;
      }),
    ),
  );
}

// The CLI owns no lease: it asks as nobody, so whoever holds a live one is "another".
const claimed = (snapshot: WorkflowExecutionSnapshot): boolean => isClaimedByOther(snapshot, undefined);

describe("workflowforge CLI and claims", () => {
  it("prune skips exactly the records the library's isClaimedByOther counts as claimed", async () => {
    const snapshots = everyClaim();
    const { args } = await storeWith(snapshots);
    const report = await cliJson("prune", ...args, "--older-than", "1m", "--dry-run");
    const outcomes = new Map<string, string>(report.items.map((item: { instance: string; outcome: string }) => [item.instance, item.outcome]));
    const expected = new Map(snapshots.map((s) => [s.foundryExecutionId, claimed(s) ? "skipped-live-lease" : "would-delete"]));
    expect(outcomes).toEqual(expected);
  });

  it("delete refuses without --force exactly the records isClaimedByOther counts as claimed", async () => {
    const snapshots = everyClaim();
    const { args, provider } = await storeWith(snapshots);
    for (const snapshot of snapshots) {
      const { code, stderr } = await cli("delete", snapshot.foundryExecutionId, snapshot.workflowId, ...args);
      const left = (await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)) !== undefined;
      expect({ code, refused: /claimed by/.test(stderr), left }, snapshot.workflowName).toEqual({ code: claimed(snapshot) ? 1 : 0, refused: claimed(snapshot), left: claimed(snapshot) });
    }
  });

  it("counts a failed record whose owner holds a live lease as claimed: its worker may still retry or compensate it", async () => {
    const failed = fullSnapshot({ status: "failed", owner: "worker-7", leaseExpiresAt: at(10 * minute), updatedAt: at(-60 * minute) });
    const { args } = await storeWith([failed]);
    const refused = await cli("delete", failed.foundryExecutionId, failed.workflowId, ...args);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`workflowforge: instance ${failed.foundryExecutionId} / workflow key ${failed.workflowId} is failed and claimed by "worker-7" until ${failed.leaseExpiresAt}; pass --force to delete it anyway\n`);
    expect(await cliJson("prune", ...args, "--older-than", "1m")).toMatchObject({ matched: 1, deleted: 0, skipped: 1 });
  });

  it("prune and delete leave a run saved without a lease whose owner, a process on this host, is alive; not one whose owner exited or whose pid names a thread", async () => {
    const exited = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    // One of this process's threads: /proc answers for its id as for a process's.
    const thread = readdirSync("/proc/self/task").map(Number).find((id) => id !== process.pid);
    const owner = (pid: number | string, host = hostname()) => `process-${host}-${pid}-${randomUUID()}`;
    const now = new Date().toISOString();
    const cases: [string, string, string][] = [
      ["alive", owner(process.pid), now],
      ["exited", owner(exited.stdout), now],
      ["thread", owner(thread ?? exited.stdout), now],
      ["elsewhere", owner(process.pid, `not-${hostname()}`), now],
    ];
    const records = cases.map(([name, runOwner, updatedAt]) => {
      const snapshot: Record<string, unknown> = { ...fullSnapshot({ foundryExecutionId: `run-${name}`, status: "running", owner: runOwner, updatedAt }) };
      delete snapshot.leaseExpiresAt;
      return snapshot as unknown as WorkflowExecutionSnapshot;
    });
    const { args, provider } = await storeWith(records);
    const [alive] = records;
    const refused = await cli("delete", alive!.foundryExecutionId, alive!.workflowId, ...args);
    expect(refused).toMatchObject({ code: 1, stderr: `workflowforge: instance run-alive / workflow key ${alive!.workflowId} is running in process ${process.pid} on this host, which is alive (its run holds no lease); pass --force to delete it anyway\n` });
    const report = await cliJson("prune", ...args, "--older-than", "0s");
    const outcomes = Object.fromEntries(report.items.map((item: { instance: string; outcome: string }) => [item.instance, item.outcome]));
    // Another host's process cannot be seen from here: its record is pruned as before.
    expect(outcomes).toEqual({ "run-alive": "skipped-live-owner", "run-exited": "deleted", "run-thread": "deleted", "run-elsewhere": "deleted" });
    expect(await provider.tryLoad(alive!.foundryExecutionId, alive!.workflowId)).toBeDefined();
    expect((await cli("delete", alive!.foundryExecutionId, alive!.workflowId, ...args, "--force")).code).toBe(0);
  });

  it("is never the owner: a live lease of this very process's default owner is another's claim", async () => {
    const running = fullSnapshot({ status: "running", owner: processOwner, leaseExpiresAt: at(10 * minute), updatedAt: at(-60 * minute) });
    const { args, provider } = await storeWith([running]);
    expect(await cli("delete", running.foundryExecutionId, running.workflowId, ...args)).toMatchObject({ code: 1, stderr: expect.stringContaining(`claimed by "${processOwner}"`) });
    expect(await cliJson("prune", ...args, "--older-than", "1m")).toMatchObject({ deleted: 0, skipped: 1 });
    expect(await provider.tryLoad(running.foundryExecutionId, running.workflowId)).toBeDefined();
  });

  it("shows a dead letter as failed with its attempts and no lease, and deletes it without --force", async () => {
    const leased = fullSnapshot({ status: "failed", attempts: 3, owner: "coordinator-1", leaseExpiresAt: at(10 * minute) });
    const dead = deadLetterSnapshot(leased, new Error("card declined"), "coordinator-1");
    const { args, provider } = await storeWith([leased, dead]);
    const [summary] = await cliJson("list", ...args);
    expect(summary).toMatchObject({ status: "failed", attempts: 3, owner: "coordinator-1", leaseExpiresAt: null, error: { message: "card declined" } });
    const shown = await cli("show", dead.foundryExecutionId, dead.workflowId, ...args);
    expect(shown.stdout).toMatch(/^owner\s+coordinator-1$/m);
    expect(shown.stdout).not.toMatch(/^lease expires/m);
    expect(await cli("delete", dead.foundryExecutionId, dead.workflowId, ...args)).toMatchObject({ code: 0 });
    expect(await provider.tryLoad(dead.foundryExecutionId, dead.workflowId)).toBeUndefined();
  });
});
