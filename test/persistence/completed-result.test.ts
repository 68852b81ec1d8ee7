import { describe, expect, it } from "vitest";
import { usePersistence } from "../../src/persistence/index.js";
import { countedFoundry, runCounts } from "../support/counted-workflow.js";
import { RecordingProvider } from "../support/recording-provider.js";
import { uniqueKeys } from "../support/run-snapshots.js";

describe("rerunCompleted: false returns a completed instance's stored result", () => {
  it("runs nothing the second time, reports every operation skipped and resolves with the stored output", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const first = countedFoundry(3);
    usePersistence(first.foundry, provider, { ...keys, onComplete: "keep", rerunCompleted: false });
    expect(await first.foundry.forge()).toBe("out-2");

    const second = countedFoundry(3);
    const skipped: number[] = [];
    second.foundry.on("operationSkipped", ({ index }) => void skipped.push(index));
    usePersistence(second.foundry, provider, { ...keys, onComplete: "keep", rerunCompleted: false });
    const callsBefore = provider.calls.length;
    expect(await second.foundry.forge()).toBe("out-2");
    expect(runCounts(second.log, 3)).toEqual([0, 0, 0]);
    expect(skipped).toEqual([0, 1, 2]);
    expect(provider.calls.slice(callsBefore).map((call) => call.call)).toEqual(["tryLoad"]);
  });

  it("restores the completed instance's properties", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const first = countedFoundry(1, { onForge: (_index, _attempt, foundry) => void (foundry.properties.total = 42) });
    usePersistence(first.foundry, provider, { ...keys, onComplete: "keep", rerunCompleted: false });
    await first.foundry.forge();
    const second = countedFoundry(1);
    usePersistence(second.foundry, provider, { ...keys, onComplete: "keep", rerunCompleted: false });
    await second.foundry.forge();
    expect(second.foundry.properties).toEqual({ total: 42 });
  });

  it("claims nothing under a lease: no write at all", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const options = { ...keys, onComplete: "keep", rerunCompleted: false, lease: { ttlMs: 60_000 } } as const;
    await usePersistence(countedFoundry(2).foundry, provider, options).forge();
    const saves = provider.count("save");
    expect(await usePersistence(countedFoundry(2).foundry, provider, options).forge()).toBe("out-1");
    expect(provider.count("save")).toBe(saves);
  });

  it("runs a completed instance again by default (rerunCompleted: true), every operation once more", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    await usePersistence(countedFoundry(2).foundry, provider, { ...keys, onComplete: "keep" }).forge();
    const again = countedFoundry(2);
    await usePersistence(again.foundry, provider, { ...keys, onComplete: "keep" }).forge();
    expect(runCounts(again.log, 2)).toEqual([1, 1]);
  });

  it("needs onComplete: \"keep\", else nothing would be stored to return", () => {
    expect(() => usePersistence(countedFoundry(1).foundry, new RecordingProvider(), { rerunCompleted: false })).toThrow(/rerunCompleted: false needs onComplete: "keep"/);
    expect(() => usePersistence(countedFoundry(1).foundry, new RecordingProvider(), { rerunCompleted: "no" as never })).toThrow(/options\.rerunCompleted must be a boolean/);
  });

  it("returns the stored result whatever definition completed it: after a new version is deployed, a second start still runs nothing", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    await usePersistence(countedFoundry(3).foundry, provider, { ...keys, onComplete: "keep" }).forge();
    // Two operations now: neither the default "error" nor "restart" may run the finished instance again.
    for (const onDefinitionMismatch of ["error", "restart"] as const) {
      const second = countedFoundry(2);
      usePersistence(second.foundry, provider, { ...keys, onComplete: "keep", rerunCompleted: false, onDefinitionMismatch });
      expect(await second.foundry.forge()).toBe("out-2");
      expect(runCounts(second.log, 2)).toEqual([0, 0]);
    }
  });
});
