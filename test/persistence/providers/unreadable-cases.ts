import { describe, expect, it } from "vitest";
import type { ListOptions } from "../../../src/persistence/list-options.js";
import type { SnapshotCodec, SnapshotFilter, WorkflowExecutionSnapshot } from "../../../src/persistence/index.js";
import { PersistenceError, SnapshotCorruptedError } from "../../../src/persistence/errors.js";
import { fullSnapshot } from "../../../src/persistence/testing/fixtures.js";
import { unreadableCodec } from "../../support/custom-codec.js";
import { rejectionOf } from "../../support/promises.js";

/** A provider with `list`, as every shipped one is. */
export interface ListingProvider {
  save(snapshot: WorkflowExecutionSnapshot): Promise<void>;
  list(filter?: SnapshotFilter, signal?: AbortSignal, options?: ListOptions): Promise<WorkflowExecutionSnapshot[]>;
}

export interface UnreadableFixture {
  /** A provider on an empty store. */
  readonly provider: ListingProvider;
  /** A provider on the same store that writes with `codec`: how a case stores a record `provider` cannot read. */
  readonly writer: (codec: SnapshotCodec) => { save(snapshot: WorkflowExecutionSnapshot): Promise<void> };
}

/** `list` past a record it cannot read, for one kind of store. Every case gets a fresh store. */
export function describeUnreadableListing(fresh: () => Promise<UnreadableFixture>): void {
  describe("list() and a record it cannot read", () => {
    async function seeded() {
      const fixture = await fresh();
      const readable = [fullSnapshot({ status: "running" }), fullSnapshot({ status: "failed" })];
      for (const snapshot of readable) await fixture.provider.save(snapshot);
      const broken = fullSnapshot({ status: "running" });
      await fixture.writer(unreadableCodec).save(broken);
      return { ...fixture, readable, broken };
    }
    const keysOf = (s: WorkflowExecutionSnapshot) => ({ foundryExecutionId: s.foundryExecutionId, workflowId: s.workflowId });
    const byInstance = (a: WorkflowExecutionSnapshot, b: WorkflowExecutionSnapshot) => a.foundryExecutionId.localeCompare(b.foundryExecutionId);

    it("rejects as a whole with SnapshotCorruptedError naming its keys when no onUnreadable is given", async () => {
      const { provider, broken } = await seeded();
      const error = await rejectionOf(provider.list());
      expect(error).toBeInstanceOf(SnapshotCorruptedError);
      expect((error as SnapshotCorruptedError).keys).toEqual(keysOf(broken));
    });

    it("with onUnreadable, hands it that error once and returns every readable match", async () => {
      const { provider, readable, broken } = await seeded();
      const unreadable: SnapshotCorruptedError[] = [];
      const listed = await provider.list({}, undefined, { onUnreadable: (error) => unreadable.push(error) });
      expect(listed.sort(byInstance)).toEqual([...readable].sort(byInstance));
      expect(unreadable).toHaveLength(1);
      expect(unreadable[0]).toBeInstanceOf(SnapshotCorruptedError);
      expect(unreadable[0]?.keys).toEqual(keysOf(broken));
    });

    it("reports only records the filter selects by their stored fields", async () => {
      const { provider, readable } = await seeded();
      const unreadable: SnapshotCorruptedError[] = [];
      const listed = await provider.list({ status: "failed" }, undefined, { onUnreadable: (error) => unreadable.push(error) });
      expect(listed).toEqual([readable[1]]);
      expect(unreadable).toEqual([]);
    });

    it("rejects with what onUnreadable throws, as is or as the cause of a PersistenceError", async () => {
      const { provider } = await seeded();
      const stop = new Error("stop listing");
      const error = await rejectionOf(provider.list({}, undefined, { onUnreadable: () => { throw stop; } }));
      expect(error === stop || (error instanceof PersistenceError && error.cause === stop)).toBe(true);
    });

    it("rejects options it does not know with a TypeError naming them, before reading anything", async () => {
      const { provider } = await fresh();
      await expect(provider.list({}, undefined, { onUnreadable: "skip" } as never)).rejects.toThrow(/list\(filter, signal, options\): options\.onUnreadable must be a function, got "skip"/);
      await expect(provider.list({}, undefined, { onUnreadble: () => undefined } as never)).rejects.toThrow(/unknown option "onUnreadble"/);
      await expect(provider.list({}, undefined, "skip" as never)).rejects.toThrow(TypeError);
    });
  });
}
