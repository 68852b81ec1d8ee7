import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { action, createFoundry, createSmith, createWorkflow, isSuspended, waitForEvent } from "../../src/index.js";
import { createRecoveryCoordinator, createSnapshotCodec, MemoryPersistenceProvider, SnapshotSerializationError, SnapshotTooLargeError, usePersistence, type SnapshotCodec, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { FilePersistenceProvider } from "../../src/persistence/providers/file/index.js";
import { SqlitePersistenceProvider } from "../../src/persistence/providers/sqlite.js";
import { rejectionOf } from "../support/promises.js";

// What coordinator.signal accepts is what the instance's wait can consume: checked by the
// provider's own codec, at the depth the payload will have inside the snapshot that stores it.

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

function fileProvider(codec?: SnapshotCodec): FilePersistenceProvider {
  const directory = mkdtempSync(join(tmpdir(), "wf-payloads-"));
  directories.push(directory);
  return new FilePersistenceProvider({ directory, durability: "none", ...(codec === undefined ? {} : { codec }) });
}

const providers: Record<string, (codec?: SnapshotCodec) => WorkflowPersistenceProvider> = {
  memory: (codec) => new MemoryPersistenceProvider(codec === undefined ? {} : { codec }),
  file: fileProvider,
  sqlite: (codec) => new SqlitePersistenceProvider({ database: new Database(":memory:"), ...(codec === undefined ? {} : { codec }) }),
};

/** `levels` arrays, one in the other, around 1. */
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let level = 0; level < levels; level++) value = [value];
  return value;
}

async function waitingInstance(provider: WorkflowPersistenceProvider) {
  const outputs: unknown[] = [];
  const workflow = createWorkflow("order")
    .addOperation(waitForEvent("payment", "paid"))
    .addOperation(action("record", (paid: unknown) => void outputs.push(paid)))
    .build();
  const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow, retry: { attempts: 1 } });
  const foundry = usePersistence(createFoundry("order"), provider, { instanceId: "o-1" });
  expect(isSuspended(await createSmith().forge(workflow, foundry).catch((error: unknown) => error))).toBe(true);
  return { workflow, coordinator, outputs };
}

class Money {
  constructor(readonly cents: number) {}
}

// Stores a Money as a tagged object and makes it again when reading.
const moneyCodec: SnapshotCodec = {
  encode: (snapshot) => JSON.stringify(snapshot, (_key, value: unknown) => (value instanceof Money ? { $money: value.cents } : value)),
  decode: (text) => JSON.parse(text, (_key, value: unknown) => (typeof value === "object" && value !== null && "$money" in value ? new Money(value.$money as number) : value)) as never,
};

describe.each(Object.keys(providers))("signal payloads on the %s provider", (name) => {
  const open = providers[name] as (codec?: SnapshotCodec) => WorkflowPersistenceProvider;

  it("refuses a payload one level too deep for the snapshot that would store it, storing nothing; one level less is consumed", async () => {
    const provider = open();
    const { workflow, coordinator, outputs } = await waitingInstance(provider);
    // A snapshot holds 100 levels; it is one of them, so its lastOutput may nest 99.
    const refused = await rejectionOf<SnapshotSerializationError>(coordinator.signal("o-1", workflow.id, "paid", nested(100)));
    expect(refused).toBeInstanceOf(SnapshotSerializationError);
    expect(refused.message).toMatch(/payload(\[0\]){99}/);
    expect(await provider.receive?.({ foundryExecutionId: "o-1", workflowId: workflow.id }, "paid")).toEqual([]);
    await coordinator.signal("o-1", workflow.id, "paid", nested(99));
    expect((await coordinator.resumeAll()).failed).toEqual([]);
    expect(outputs).toEqual([nested(99)]);
  });

  it("refuses an eventId longer than 1,000 characters at the call, storing nothing; one of 1,000 is consumed", async () => {
    const provider = open();
    const { workflow, coordinator, outputs } = await waitingInstance(provider);
    expect(() => coordinator.signal("o-1", workflow.id, "paid", "too long", { eventId: "i".repeat(1_001) })).toThrow(
      new TypeError("signal(instanceId, workflowKey, event, payload, options): options.eventId must be at most 1000 characters, got 1001: an id kept in every later snapshot of the instance"),
    );
    expect(await provider.receive?.({ foundryExecutionId: "o-1", workflowId: workflow.id }, "paid")).toEqual([]);
    expect(await coordinator.signal("o-1", workflow.id, "paid", "just right", { eventId: "i".repeat(1_000) })).toEqual({ eventId: "i".repeat(1_000), stored: true });
    expect((await coordinator.resumeAll()).failed).toEqual([]);
    expect(outputs).toEqual(["just right"]);
  });

  it("refuses a payload larger than a snapshot may hold with SnapshotTooLargeError, storing nothing; a smaller one is consumed", async () => {
    const provider = open();
    const { workflow, coordinator, outputs } = await waitingInstance(provider);
    // The default codec's limit is 4 MiB: the wait would put this into the run's snapshot, which
    // could then never be saved again.
    const refused = await rejectionOf<SnapshotTooLargeError>(coordinator.signal("o-1", workflow.id, "paid", { blob: "x".repeat(5 * 1024 * 1024) }));
    expect(refused).toBeInstanceOf(SnapshotTooLargeError);
    expect(refused.code).toBe("SNAPSHOT_TOO_LARGE");
    expect(refused.maxBytes).toBe(4 * 1024 * 1024);
    expect(refused.message).toContain('"o-1"');
    expect(await provider.receive?.({ foundryExecutionId: "o-1", workflowId: workflow.id }, "paid")).toEqual([]);
    await coordinator.signal("o-1", workflow.id, "paid", { blob: "x".repeat(1024 * 1024) });
    expect((await coordinator.resumeAll()).failed).toEqual([]);
    expect(outputs).toEqual([{ blob: "x".repeat(1024 * 1024) }]);
  });

  it("names the payload, never a last output, when a payload is too large or cannot be stored, whatever the codec", async () => {
    for (const codec of [undefined, createSnapshotCodec({ maxSnapshotBytes: 4 * 1024 * 1024 })]) {
      const provider = open(codec);
      const { workflow, coordinator } = await waitingInstance(provider);
      const tooLarge = await rejectionOf<SnapshotTooLargeError>(coordinator.signal("o-1", workflow.id, "paid", "x".repeat(5 * 1024 * 1024)));
      expect(tooLarge.message).toMatch(/; the event's payload: \d+ bytes$/);
      expect(tooLarge.payloadBytes).toBeGreaterThan(5 * 1024 * 1024);
      expect(tooLarge.outputBytes).toBeUndefined();
      const refused = await rejectionOf<SnapshotSerializationError>(coordinator.signal("o-1", workflow.id, "paid", { amount: new Money(5) }));
      expect([refused.code, refused.path]).toEqual(["SNAPSHOT_SERIALIZATION", "payload.amount"]);
      expect(refused.message).not.toContain("save failed");
    }
  });

  it("refuses a payload whose UTF-8 bytes, not its characters, are over the limit", async () => {
    const provider = open();
    const { workflow, coordinator } = await waitingInstance(provider);
    // 1.5 million characters of three UTF-8 bytes each: 4.5 MB stored.
    const refused = await rejectionOf(coordinator.signal("o-1", workflow.id, "paid", "€".repeat(1_500_000)));
    expect(refused).toBeInstanceOf(SnapshotTooLargeError);
    expect(await provider.receive?.({ foundryExecutionId: "o-1", workflowId: workflow.id }, "paid")).toEqual([]);
  });

  it("accepts what the provider's custom codec stores, and the wait outputs it as that codec reads it", async () => {
    const provider = open(moneyCodec);
    const { workflow, coordinator, outputs } = await waitingInstance(provider);
    await coordinator.signal("o-1", workflow.id, "paid", { amount: new Money(500) });
    expect((await coordinator.resumeAll()).failed).toEqual([]);
    expect(outputs).toEqual([{ amount: new Money(500) }]);
    expect((outputs[0] as { amount: unknown }).amount).toBeInstanceOf(Money);
  });
});
