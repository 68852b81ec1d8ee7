import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const script = fileURLToPath(new URL("./fixtures/close-exits.ts", import.meta.url));

describe("a started coordinator", () => {
  it("lets its process exit once close() resolved, after resuming a run on a delivery", { timeout: 60_000 }, () => {
    // The bound only ends a process that would otherwise never exit; a passing run exits at once.
    const child = spawnSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8", timeout: 50_000 });
    expect(child.stderr).toBe("");
    expect({ status: child.status, signal: child.signal, stdout: child.stdout }).toEqual({ status: 0, signal: null, stdout: "closed\n" });
  });
});
