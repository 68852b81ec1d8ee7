import { describe, expect, it } from "vitest";
import type { WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";
import { seedWaits } from "../support/wait-snapshots.js";
import { cli, cliJson, instancesOf } from "./run-cli.js";
import type { StoreFixture } from "./store-cases.js";

/**
 * list, show, signal and cancel on durable waits, against one kind of store. The signal cases
 * need the store's provider to declare `capabilities.mailbox`.
 */
export function describeWaitCommands(name: string, fresh: () => Promise<StoreFixture>): void {
  async function seeded(): Promise<StoreFixture & { snapshots: WorkflowExecutionSnapshot[] }> {
    const fixture = await fresh();
    const snapshots = seedWaits();
    for (const snapshot of snapshots) await fixture.provider.save(snapshot);
    return { ...fixture, snapshots };
  }
  const keys = (instance: string) => ({ foundryExecutionId: instance, workflowId: "expense-v1" });

  describe(`workflowforge CLI waits on ${name}`, () => {
    it("list --status waiting --json says what each waits for and until when, and flags a wake time long past as overdue", async () => {
      const { args, snapshots } = await seeded();
      const summaries = await cliJson("list", ...args, "--status", "waiting");
      const [expense, , cool3] = snapshots;
      expect(summaries.map((s: any) => [s.instance, s.waitingFor, s.wakeAt, s.state])).toEqual([
        ["expense-7", "approved", expense?.wakeAt, null],
        ["cool-4", null, expect.any(String), null],
        ["cool-3", null, cool3?.wakeAt, "overdue"],
      ]);
      expect(summaries[2].stateReason).toMatch(/^its wake time passed 2h ago and no worker has resumed it; check that a recovery coordinator/);
    });

    it("list --status waiting prints what each waits for in the table, and a note on the overdue one", async () => {
      const { args } = await seeded();
      const { code, stdout } = await cli("list", ...args, "--status", "waiting");
      expect(code).toBe(0);
      expect(stdout).toMatch(/^INSTANCE\s+WORKFLOW KEY\s+WORKFLOW\s+STATUS\s+STEP\s+REV\s+ATTEMPTS\s+UPDATED\s+WAITING FOR\s+ERROR$/m);
      expect(stdout).toMatch(/^expense-7\s+expense-v1\s+Expense@1\.0\s+waiting\s+1\/3\s+1\s+0\s+9d ago\s+event approved, until \S+Z \(in [56]d\)$/m);
      expect(stdout).toMatch(/^cool-3\s+expense-v1\s+Expense@1\.0\s+waiting \(overdue\)\s+1\/3\s+1\s+0\s+2d ago\s+until \S+Z \(2h ago\)$/m);
      expect(stdout).toMatch(/\n1 snapshot is overdue: waiting, its wake time passed over 5m ago, and no worker has resumed it; /);
      expect(stdout).not.toMatch(/stale/);
    });

    it("list --status cancelled lists the cancelled ones only, and the table has no wait column without a waiting one", async () => {
      const { args } = await seeded();
      expect(instancesOf(await cliJson("list", ...args, "--status", "cancelled"))).toEqual(["gone-1"]);
      const { stdout } = await cli("list", ...args, "--status", "cancelled,completed");
      expect(stdout).toMatch(/^INSTANCE\s+WORKFLOW KEY\s+WORKFLOW\s+STATUS\s+STEP\s+REV\s+ATTEMPTS\s+UPDATED\s+ERROR$/m);
      expect(stdout).toMatch(/^gone-1\s+expense-v1\s+Expense@1\.0\s+cancelled\s/m);
    });

    it("show prints what a waiting instance waits for, its wake time and the events it consumed; and when one was cancelled", async () => {
      const { args } = await seeded();
      const waiting = await cli("show", "expense-7", "expense-v1", ...args);
      expect(waiting.stdout).toMatch(/^status\s+waiting\n/m);
      expect(waiting.stdout).toMatch(/^waiting for\s+event approved\nwake at\s+\S+Z \(in [56]d\)\nconsumed events\s+mail-1, "mail 2"\n/m);
      const cancelled = await cli("show", "gone-1", "expense-v1", ...args);
      expect(cancelled.stdout).toMatch(/^cancelled at\s+\S+Z\n/m);
      expect(cancelled.stdout).not.toMatch(/^waiting for/m);
    });

    it("prune leaves waiting instances alone, however old, unless --status names waiting", async () => {
      const { args, provider } = await seeded();
      const pruned = await cliJson("prune", ...args, "--older-than", "1d");
      expect(pruned).toMatchObject({ matched: 4, deleted: 1, skipped: 3 });
      expect(pruned.items.map((item: any) => [item.instance, item.outcome])).toEqual([["expense-7", "skipped-waiting"], ["cool-4", "skipped-waiting"], ["cool-3", "skipped-waiting"], ["gone-1", "deleted"]]);
      const text = await cli("prune", ...args, "--older-than", "1d", "--dry-run");
      expect(text.stdout).toMatch(/^Skipped instance expense-7 \/ workflow key expense-v1: waiting \(event approved, until \S+Z \(in [56]d\)\); pass --status waiting to prune waiting instances\.$/m);
      expect(await cliJson("prune", ...args, "--older-than", "1d", "--status", "waiting")).toMatchObject({ matched: 3, deleted: 3, skipped: 0 });
      expect((await provider.tryLoad("expense-7", "expense-v1")) ?? undefined).toBeUndefined();
    });

    it("cancel ends a waiting instance cancelled, and a second cancel changes nothing and exits 0", async () => {
      const { args, provider } = await seeded();
      const first = await cli("cancel", "expense-7", "expense-v1", ...args);
      expect(first).toMatchObject({ code: 0, stderr: "", stdout: expect.stringMatching(/^Cancelled instance expense-7 \/ workflow key expense-v1 in .+ \(it was waiting\): it will not run again\.\n$/) });
      const stored = await provider.tryLoad("expense-7", "expense-v1");
      expect(stored).toMatchObject({ status: "cancelled", cancelledAt: expect.any(String) });
      expect(await cliJson("cancel", "expense-7", "expense-v1", ...args)).toEqual({ instance: "expense-7", workflowKey: "expense-v1", result: "finished", previousStatus: "cancelled" });
      expect(await provider.tryLoad("expense-7", "expense-v1")).toEqual(stored);
    });

    it("cancel --compensate leaves the instance compensating, for a coordinator to undo and end cancelled", async () => {
      const { args, provider } = await seeded();
      const printed = await cliJson("cancel", "cool-3", "expense-v1", ...args, "--compensate");
      expect(printed).toEqual({ instance: "cool-3", workflowKey: "expense-v1", result: "compensating", previousStatus: "waiting" });
      // The help names what --json prints.
      expect((await cli("cancel", "--help")).stdout).toContain(`print { ${Object.keys(printed as object).join(", ")} }`);
      expect(await provider.tryLoad("cool-3", "expense-v1")).toMatchObject({ status: "compensating", cancelledAt: expect.any(String) });
    });

    it("cancel exits 1 for a completed instance and for keys with nothing stored, changing nothing", async () => {
      const { args, provider } = await seeded();
      const completed = await cli("cancel", "done-1", "expense-v1", ...args);
      expect(completed).toMatchObject({ code: 1, stdout: "", stderr: expect.stringMatching(/^workflowforge: instance done-1 \/ workflow key expense-v1 in .+ is completed: there is nothing to cancel\n$/) });
      expect(await provider.tryLoad("done-1", "expense-v1")).toMatchObject({ status: "completed", revision: 1 });
      const absent = await cli("cancel", "nobody", "expense-v1", ...args);
      expect(absent).toMatchObject({ code: 1, stdout: "", stderr: expect.stringMatching(/^workflowforge: no snapshot for instance nobody \/ workflow key expense-v1 in /) });
    });

    it("signal stores the event once per event id: a second one with the same id says it was already delivered and exits 0", async () => {
      const { args, provider } = await seeded();
      const first = await cli("signal", "expense-7", "expense-v1", "approved", ...args, "--payload", '{"by":"ann","amount":12.5}', "--event-id", "mail-3");
      expect(first).toMatchObject({ code: 0, stderr: "" });
      expect(first.stdout).toMatch(/^Sent event approved \(event id mail-3\) to instance expense-7 \/ workflow key expense-v1 in .+\.\nThe instance was waiting for it: a recovery coordinator resumes it\.\n$/);
      const again = await cliJson("signal", "expense-7", "expense-v1", "approved", ...args, "--payload", '"other"', "--event-id", "mail-3");
      expect(again).toEqual({ instance: "expense-7", workflowKey: "expense-v1", event: "approved", eventId: "mail-3", stored: false, status: "waiting", waitingFor: "approved", unreadable: null });
      const events = await provider.receive?.(keys("expense-7"), "approved");
      expect(events?.map((event) => [event.eventId, event.payload])).toEqual([["mail-3", { by: "ann", amount: 12.5 }]]);
    });

    it("signal keeps an event for an instance that has no snapshot yet, and gives it a fresh id without --event-id", async () => {
      const { args, provider } = await seeded();
      const sent = await cliJson("signal", "later-1", "expense-v1", "approved", ...args);
      expect(sent).toMatchObject({ stored: true, status: null, eventId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
      const text = await cli("signal", "later-1", "expense-v1", "approved", ...args);
      expect(text.stdout).toMatch(/\nNo snapshot is stored under these keys yet: the event is kept until the instance's run reaches a wait for it\.\n$/);
      const events = await provider.receive?.(keys("later-1"), "approved");
      expect(events?.map((event) => event.payload)).toEqual([undefined, undefined]);
      expect(new Set(events?.map((event) => event.eventId)).size).toBe(2);
    });

    it("signal with a payload too deep to store exits 2 naming --payload, and stores nothing", async () => {
      const { args, provider } = await seeded();
      const deep = `${"[".repeat(150)}1${"]".repeat(150)}`;
      const refused = await cli("signal", "expense-7", "expense-v1", "approved", ...args, "--payload", deep);
      expect(refused).toMatchObject({ code: 2, stderr: expect.stringMatching(/^workflowforge: --payload cannot be stored: /) });
      expect(await provider.receive?.(keys("expense-7"), "approved")).toEqual([]);
    });

    it("delete --force of keys with no snapshot removes the events kept for them; without --force it exits 1", async () => {
      const { args, provider } = await seeded();
      await cliJson("signal", "typo-1", "expense-v1", "approved", ...args);
      expect(await cli("delete", "typo-1", "expense-v1", ...args)).toMatchObject({ code: 1 });
      expect(await provider.receive?.(keys("typo-1"), "approved")).toHaveLength(1);
      expect(await cliJson("delete", "typo-1", "expense-v1", ...args, "--force")).toEqual({ deleted: 0, instance: "typo-1", workflowKey: "expense-v1" });
      // A later instance of those keys would have received it.
      expect(await provider.receive?.(keys("typo-1"), "approved")).toEqual([]);
    });
  });
}
