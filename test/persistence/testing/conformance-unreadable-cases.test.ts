import { describe, expect, it, vi } from "vitest";
import type { SnapshotKeys } from "../../../src/persistence/errors.js";
import { defaultSnapshotCodec, type WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { pairKey } from "../../../src/persistence/keys.js";
import { listedReader } from "../../../src/persistence/list-options.js";
import { conformanceCases, describeProviderConformance, runConformanceCase, type ProviderTestInitializer } from "../../../src/persistence/testing/index.js";
import { markingContext, recordingFramework } from "./recording-framework.js";

// The `unreadable` group runs only with the initializer's corrupt(keys, provider) hook, and must
// tell a list() that goes on past an unreadable record from ones that do not.

type ListStyle = "honours onUnreadable" | "ignores onUnreadable" | "drops it silently" | "fails to parse it";

/** A store of codec text, whose `corrupt` overwrites a record's text with junk, listing in `style`. */
function textStore(style: ListStyle = "honours onUnreadable") {
  const rows = new Map<string, { keys: SnapshotKeys; text: string }>();
  const provider: WorkflowPersistenceProvider & { corrupt(keys: SnapshotKeys): void } = {
    capabilities: { list: true },
    save: (snapshot) => void rows.set(pairKey(snapshot), { keys: snapshot, text: defaultSnapshotCodec.encode(snapshot) }),
    tryLoad: (instance, workflow) => {
      const row = rows.get(pairKey({ foundryExecutionId: instance, workflowId: workflow }));
      return row === undefined ? undefined : defaultSnapshotCodec.decode(row.text, row.keys);
    },
    delete: (instance, workflow) => void rows.delete(pairKey({ foundryExecutionId: instance, workflowId: workflow })),
    list: (filter, _signal, options) => {
      const read = listedReader(filter, style === "honours onUnreadable" ? options : undefined, "TextStore");
      return Promise.resolve(
        [...rows.values()].flatMap(({ keys, text }) => {
          if (style === "fails to parse it" && text === "junk") throw new SyntaxError("Unexpected token 'j'");
          if (style === "drops it silently" && text === "junk") return [];
          return read(() => defaultSnapshotCodec.decode(text, { foundryExecutionId: keys.foundryExecutionId, workflowId: keys.workflowId })) ?? [];
        }),
      );
    },
    corrupt: (keys) => {
      const row = rows.get(pairKey(keys));
      if (row !== undefined) row.text = "junk";
    },
  };
  return provider;
}

const unreadableCases = conformanceCases.filter((testCase) => testCase.group === "unreadable");
const caseNamed = (start: string) => unreadableCases.find((testCase) => testCase.name.startsWith(start)) ?? expect.unreachable(`no case "${start}…"`);
const run = (start: string, style: ListStyle) => {
  const provider = textStore(style);
  const reopen = () => Promise.reject(new Error("the unreadable cases never reopen"));
  return caseNamed(start).run(provider, { corrupt: (keys) => Promise.resolve(provider.corrupt(keys)), reopen });
};

describe("the conformance kit's unreadable cases", () => {
  it("are skipped without creating a provider, naming the corrupt hook, when the initializer has none", async () => {
    const create = vi.fn(() => textStore());
    expect(unreadableCases.length).toBeGreaterThan(0);
    for (const testCase of unreadableCases) expect(await runConformanceCase({ name: "T", create }, testCase)).toBe("skipped");
    const { framework, registered } = recordingFramework();
    describeProviderConformance({ name: "T", create }, framework);
    const context = markingContext();
    for (const test of registered.filter((registration) => registration.title.startsWith("unreadable: "))) await test.body(context);
    expect(context.notes).toEqual(unreadableCases.map(() => "the initializer has no corrupt(keys, provider) hook to make a stored record unreadable"));
    expect(create).not.toHaveBeenCalled();
  });

  it("hand the hook the keys of a record they saved, and the provider under test, and pass on a list() that honours onUnreadable", async () => {
    const seen: { keys: SnapshotKeys; stored: boolean; same: boolean }[] = [];
    let created: ReturnType<typeof textStore> | undefined;
    const initializer: ProviderTestInitializer<ReturnType<typeof textStore>> = {
      name: "T",
      create: () => (created = textStore()),
      corrupt: async (keys, provider) => {
        seen.push({ keys, stored: (await provider.tryLoad(keys.foundryExecutionId, keys.workflowId)) !== undefined, same: provider === created });
        provider.corrupt(keys);
      },
    };
    expect(unreadableCases.length).toBeGreaterThan(0);
    for (const testCase of unreadableCases) expect(await runConformanceCase(initializer, testCase)).toBe("passed");
    expect(seen).toHaveLength(unreadableCases.length);
    expect(seen.every(({ stored, same }) => stored && same)).toBe(true);
  });

  it("catch a list() that rejects over the unreadable record although onUnreadable was given", async () => {
    await expect(run("an unreadable entry does not stop list()", "ignores onUnreadable")).rejects.toMatchObject({ code: "SNAPSHOT_CORRUPTED" });
  });

  it("catch a list() that leaves the unreadable record out without reporting it", async () => {
    await expect(run("an unreadable entry does not stop list()", "drops it silently")).rejects.toThrow(/^onUnreadable must receive an error naming \{"foundryExecutionId":"conformance-[^"]+","workflowId":"wf-[^"]+"\}; it received \[\]/);
  });

  it("catch a list() that rejects with another error than SnapshotCorruptedError, naming it", async () => {
    await expect(run("without onUnreadable, list() over an unreadable entry rejects", "fails to parse it")).rejects.toThrow(
      "list() must reject with SnapshotCorruptedError (code SNAPSHOT_CORRUPTED), but rejected with SyntaxError: Unexpected token 'j'",
    );
  });

  it("reject a case run directly without the hook with a message naming it", async () => {
    await expect(caseNamed("delete(key) removes an unreadable entry").run(textStore())).rejects.toThrow("this case needs the initializer's corrupt(keys, provider) hook");
  });
});
