import { describe, expect, it } from "vitest";
import type { SnapshotCodec } from "../../src/persistence/codec/codec.js";
import type { WorkflowPersistenceProvider } from "../../src/persistence/provider.js";
import type { WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";
import { unreadableCodec } from "../support/custom-codec.js";
import { cli, cliJson, instancesOf, seedSnapshots } from "./run-cli.js";

/** A fresh, empty store: the flags that select it, and a provider on it to seed and check with. */
export interface StoreFixture {
  readonly args: readonly string[];
  readonly provider: WorkflowPersistenceProvider;
  /** A provider on the same store that writes with `codec`: how a case stores a record the CLI cannot read. */
  readonly writer: (codec: SnapshotCodec) => WorkflowPersistenceProvider;
}

/**
 * The commands against one kind of store. Every case gets its own store (directory, file, table
 * or key prefix) seeded with {@link seedSnapshots}.
 */
export function describeStoreCommands(name: string, fresh: () => Promise<StoreFixture>): void {
  async function seeded(): Promise<StoreFixture & { snapshots: WorkflowExecutionSnapshot[] }> {
    const fixture = await fresh();
    const snapshots = seedSnapshots();
    for (const snapshot of snapshots) await fixture.provider.save(snapshot);
    return { ...fixture, snapshots };
  }
  const stored = async (provider: WorkflowPersistenceProvider, s: WorkflowExecutionSnapshot): Promise<boolean> =>
    ((await provider.tryLoad(s.foundryExecutionId, s.workflowId)) ?? undefined) !== undefined;

  describe(`workflowforge CLI on ${name}`, () => {
    it("list --json prints a summary of every snapshot, oldest first, attempts included", async () => {
      const { args, snapshots } = await seeded();
      const summaries = await cliJson("list", ...args);
      expect(instancesOf(summaries)).toEqual(["invoice-7", "order-42", "ship-9", "ship-10"]);
      expect(summaries[1]).toEqual({
        instance: "order-42",
        workflowKey: "billing-v1",
        workflowName: "Billing",
        version: "1.0",
        status: "failed",
        state: null,
        stateReason: null,
        nextOperationIndex: 2,
        operationCount: 5,
        revision: 1,
        owner: "worker-1",
        leaseExpiresAt: snapshots[1]?.leaseExpiresAt,
        attempts: 2,
        error: { name: "Error", message: "card declined", operationIndex: 2, operationName: "charge" },
        waitingFor: null,
        wakeAt: null,
        cancelledAt: null,
        createdAt: "2026-01-01T00:00:00.000Z",
        updatedAt: snapshots[1]?.updatedAt,
      });
      expect(summaries[0]).toMatchObject({ attempts: 0, error: null });
    });

    it("list --json says which snapshots are stale (a lease expired while running or compensating) and which are claimed", async () => {
      const { args } = await seeded();
      const states = (await cliJson("list", ...args)).map((summary: any) => [summary.instance, summary.status, summary.state]);
      expect(states).toEqual([["invoice-7", "completed", null], ["order-42", "failed", null], ["ship-9", "compensating", "stale"], ["ship-10", "running", "claimed"]]);
    });

    it("list --status takes a comma list or a repeated flag", async () => {
      const { args } = await seeded();
      expect(instancesOf(await cliJson("list", ...args, "--status", "failed,compensating"))).toEqual(["order-42", "ship-9"]);
      expect(instancesOf(await cliJson("list", ...args, "--status", "compensating", "--status", "failed"))).toEqual(["order-42", "ship-9"]);
      expect(instancesOf(await cliJson("list", ...args, "--status=running"))).toEqual(["ship-10"]);
    });

    it("list --workflow matches the workflow's name or its workflow key", async () => {
      const { args } = await seeded();
      expect(instancesOf(await cliJson("list", ...args, "--workflow", "Billing"))).toEqual(["invoice-7", "order-42", "ship-9"]);
      expect(instancesOf(await cliJson("list", ...args, "--workflow", "shipping-v2"))).toEqual(["ship-10"]);
      expect(instancesOf(await cliJson("list", ...args, "--workflow", "Billing", "--status", "failed"))).toEqual(["order-42"]);
    });

    it("list --older-than leaves out snapshots updated since", async () => {
      const { args } = await seeded();
      expect(instancesOf(await cliJson("list", ...args, "--older-than", "1h"))).toEqual(["invoice-7", "order-42", "ship-9"]);
      expect(instancesOf(await cliJson("list", ...args, "--older-than", "7d"))).toEqual(["invoice-7"]);
      expect(await cliJson("list", ...args, "--older-than", "2w")).toEqual([]);
    });

    it("list prints a table row per snapshot, and says so when nothing matches", async () => {
      const { args } = await seeded();
      const { code, stdout } = await cli("list", ...args);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^INSTANCE\s+WORKFLOW KEY\s+WORKFLOW\s+STATUS\s+STEP\s+REV\s+ATTEMPTS\s+UPDATED\s+ERROR$/m);
      expect(stdout).toMatch(/^order-42\s+billing-v1\s+Billing@1\.0\s+failed\s+2\/5\s+1\s+2\s+3d ago\s+charge: card declined$/m);
      expect(stdout).toMatch(/^ship-9\s+Billing\s+Shipping@1\.0\s+compensating \(stale\)\s+3\/5\s/m);
      expect(stdout).toMatch(/^ship-10\s+shipping-v2\s+Shipping@1\.0\s+running\s+3\/5\s/m);
      expect(stdout).toMatch(/^4 snapshots in .*\n1 snapshot is stale: no process works on it any more .* a worker's recovery coordinator \(resumeAll\) takes it over\./m);
      const empty = await cli("list", ...args, "--status", "completed", "--older-than", "30d");
      expect(empty).toMatchObject({ code: 0, stderr: "" });
      expect(empty.stdout).toMatch(/^No snapshots \(status completed, not updated for 30d\) in \S/);
    });

    it("show prints the header fields, then the error and the properties as node:util shows them", async () => {
      const { args } = await seeded();
      const { code, stdout } = await cli("show", "order-42", "billing-v1", ...args);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^instance\s+order-42\nworkflow key\s+billing-v1\nworkflow\s+Billing@1\.0\nstatus\s+failed\n/);
      expect(stdout).toMatch(/^progress\s+2 of 5 operations complete \(next: #2\)$/m);
      expect(stdout).toMatch(/^attempts\s+2$/m);
      expect(stdout).toContain('error\n  Error: card declined\n  at operation #2 "charge"\n  caused by HttpError: 402 from the issuer\n  stack:\n  Error: card declined\n      at charge (billing.js:12:7)\n');
      expect(stdout).toContain("  order: { id: 'A-1', lines: Map(1) { 'sku-1' => 2n } }");
      expect(stdout).toContain("  placedAt: 2026-01-02T03:04:05.000Z");
      expect(stdout).toContain("  tags: Set(1) { 'vip' }");
      expect(stdout).toContain("  bytes: Uint8Array(2) [ 1, 2 ]");
      expect(stdout).toContain("outputs\n  #0: { reservation: 'r-1' }\n  #2: [ 1, 2, 3 ]");
    });

    it("show --json prints valid JSON with Maps, BigInts, Dates, Sets and typed arrays in plain form", async () => {
      const { args } = await seeded();
      const snapshot = await cliJson("show", "order-42", "billing-v1", ...args);
      expect(snapshot).toMatchObject({ foundryExecutionId: "order-42", workflowId: "billing-v1", status: "failed", attempts: 2 });
      expect(snapshot.properties).toEqual({
        order: { id: "A-1", lines: [["sku-1", "2"]] },
        placedAt: "2026-01-02T03:04:05.000Z",
        tags: ["vip"],
        bytes: [1, 2],
        missing: null,
      });
    });

    it("show exits 1 naming the keys when nothing is stored under them", async () => {
      const { args } = await seeded();
      const { code, stdout, stderr } = await cli("show", "order-42", "no-such-key", ...args);
      expect(code).toBe(1);
      expect(stdout).toBe("");
      expect(stderr).toMatch(/^workflowforge: no snapshot for instance order-42 \/ workflow key no-such-key in \S.*\n$/);
    });

    it("delete removes exactly that snapshot and prints the count", async () => {
      const { args, provider, snapshots } = await seeded();
      expect(await cliJson("delete", "order-42", "billing-v1", ...args)).toEqual({ deleted: 1, instance: "order-42", workflowKey: "billing-v1" });
      const left = await Promise.all(snapshots.map((s) => stored(provider, s)));
      expect(left).toEqual([true, false, true, true]);
      expect(await cli("delete", "order-42", "billing-v1", ...args)).toMatchObject({ code: 1, stderr: expect.stringContaining("no snapshot for instance order-42") });
    });

    it("delete refuses a snapshot a process holds a live lease on, unless --force", async () => {
      const { args, provider, snapshots } = await seeded();
      const refused = await cli("delete", "ship-10", "shipping-v2", ...args);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/is running and claimed by "worker-7" until .*; pass --force/);
      expect(await stored(provider, snapshots[3] as WorkflowExecutionSnapshot)).toBe(true);
      const forced = await cli("delete", "ship-10", "shipping-v2", ...args, "--force");
      expect(forced).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Deleted the snapshot of instance ship-10 \/ workflow key shipping-v2 from /) });
      expect(await stored(provider, snapshots[3] as WorkflowExecutionSnapshot)).toBe(false);
    });

    it("delete refuses a record it cannot read, whose lease it cannot check, unless --force", async () => {
      const { args, provider, writer, snapshots } = await seeded();
      await writer(unreadableCodec).save({ ...(snapshots[0] as WorkflowExecutionSnapshot), foundryExecutionId: "broken-1" });
      const load = () => provider.tryLoad("broken-1", "billing-v1");

      const refused = await cli("delete", "broken-1", "billing-v1", ...args);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^workflowforge: instance broken-1 \/ workflow key billing-v1 is stored but cannot be read, so whether a process is running it cannot be told; pass --force to delete it anyway \(\[workflowforge:persistence\] stored snapshot for .* is corrupted: .+\)\n$/);
      await expect(load()).rejects.toMatchObject({ code: "SNAPSHOT_CORRUPTED" });

      const forced = await cliJson("delete", "broken-1", "billing-v1", ...args, "--force");
      expect(forced).toEqual({ deleted: 1, instance: "broken-1", workflowKey: "billing-v1" });
      expect((await load()) ?? undefined).toBeUndefined();
      expect(await Promise.all(snapshots.map((s) => stored(provider, s)))).toEqual([true, true, true, true]);
    });

    it("list and prune go past a record they cannot read: the rest as usual, the record named on stderr, exit 1", async () => {
      const { args, provider, writer, snapshots } = await seeded();
      await writer(unreadableCodec).save({ ...(snapshots[0] as WorkflowExecutionSnapshot), foundryExecutionId: "broken-1" });
      const named =
        /^workflowforge: 1 record could not be read and was left out:\n {2}\[workflowforge:persistence\] stored snapshot for .*broken-1.* is corrupted: .+\nworkflowforge: `workflowforge delete --force <instanceId> <workflowKey>` \(with the same store options\) removes one whose keys are named; add --json-keys to give each as quoted above\.\n$/;

      const listed = await cli("list", ...args, "--json");
      expect([listed.code, instancesOf(JSON.parse(listed.stdout))]).toEqual([1, ["invoice-7", "order-42", "ship-9", "ship-10"]]);
      expect(listed.stderr).toMatch(named);

      // Older than a day: invoice-7, order-42 and the unreadable copy of invoice-7, which is left alone.
      const pruned = await cli("prune", ...args, "--older-than", "1d", "--json");
      expect([pruned.code, JSON.parse(pruned.stdout)]).toMatchObject([1, { matched: 2, deleted: 2 }]);
      expect(pruned.stderr).toMatch(named);
      await expect(provider.tryLoad("broken-1", "billing-v1")).rejects.toMatchObject({ code: "SNAPSHOT_CORRUPTED" });
    });

    it("prune --dry-run reports what it would delete and deletes nothing", async () => {
      const { args, provider, snapshots } = await seeded();
      const report = await cliJson("prune", ...args, "--older-than", "1d", "--dry-run");
      expect(report).toMatchObject({ dryRun: true, matched: 2, deleted: 0, wouldDelete: 2, skipped: 0 });
      expect(report.items.map((item: any) => [item.instance, item.outcome])).toEqual([["invoice-7", "would-delete"], ["order-42", "would-delete"]]);
      expect(await Promise.all(snapshots.map((s) => stored(provider, s)))).toEqual([true, true, true, true]);
    });

    it("prune deletes the matching snapshots, skips live leases and prints how many", async () => {
      const { args, provider, snapshots } = await seeded();
      const { code, stdout } = await cli("prune", ...args, "--older-than", "1d", "--status", "failed,completed");
      expect(code).toBe(0);
      expect(stdout).toMatch(/^Deleted 2 snapshots \(status failed or completed, not updated for 1d\) from \S/);
      expect(await Promise.all(snapshots.map((s) => stored(provider, s)))).toEqual([false, false, true, true]);
      const rest = await cliJson("prune", ...args, "--older-than", "0s");
      expect(rest).toMatchObject({ dryRun: false, matched: 2, deleted: 1, skipped: 1 });
      expect(rest.items.map((item: any) => [item.instance, item.outcome])).toEqual([["ship-9", "deleted"], ["ship-10", "skipped-live-lease"]]);
      expect(await Promise.all(snapshots.map((s) => stored(provider, s)))).toEqual([false, false, false, true]);
    });
  });
}
