import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { encodeValue } from "../../src/persistence/index.js";
import { bundleForChild } from "../support/bundle.js";
import { documentedMaxDepth, nest, nestingKindNames } from "./codec-nesting.js";
import type { SmallStackCase, SmallStackRequest, SmallStackResult } from "./codec-stack-child.js";

const child = bundleForChild(fileURLToPath(new URL("./codec-stack-child.ts", import.meta.url)));

/** The deepest of a few depths, from the limit to far past it, at which encode accepts a value of `kind`. */
function deepestAccepted(kind: (typeof nestingKindNames)[number]): SmallStackCase {
  let deepest: SmallStackCase | undefined;
  for (const levels of [documentedMaxDepth, documentedMaxDepth + 1, 1_000, 1_500]) {
    try {
      deepest = { kind, levels, text: encodeValue(nest(kind, levels)) };
    } catch {
      break;
    }
  }
  if (deepest === undefined) throw new Error(`encode refused ${kind} nested ${documentedMaxDepth} levels`);
  return deepest;
}

async function inSmallWorker(request: SmallStackRequest): Promise<SmallStackResult[]> {
  const worker = new Worker(child, { workerData: request, resourceLimits: { stackSizeMb: 1 } });
  const [results] = (await Promise.race([once(worker, "message"), once(worker, "error").then(([error]) => Promise.reject(error as Error))])) as [SmallStackResult[]];
  await worker.terminate();
  return results;
}

describe("the codec with little stack left", () => {
  it("decodes and encodes the deepest value encode accepts with a sixth of a 1 MB worker's stack, before it has run there", async () => {
    const cases = nestingKindNames.map(deepestAccepted);
    const results = await inSmallWorker({ cases, stackLeft: 1 / 6 });
    expect(results).toEqual(cases.map(({ kind, levels }) => ({ kind, decodedLevels: levels, decodeError: undefined, encodeError: undefined })));
  });

  it("throws a typed error or a RangeError where the stack runs out, and never aborts the process", () => {
    const run = spawnSync(process.execPath, [child, String(documentedMaxDepth)], { encoding: "utf8" });
    expect({ status: run.status, signal: run.signal, stderr: run.stderr }).toEqual({ status: 0, signal: null, stderr: "" });
    const { thrown, encoded, decoded } = JSON.parse(run.stdout) as { thrown: string[]; encoded: boolean; decoded: boolean };
    expect({ encoded, decoded }).toEqual({ encoded: true, decoded: true });
    expect(thrown.filter((name) => !["SNAPSHOT_SERIALIZATION", "SNAPSHOT_CORRUPTED", "RangeError"].includes(name))).toEqual([]);
  });
});
