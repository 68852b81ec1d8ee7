import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// `npm run demo:approval` tells a durable human approval: suspended, the worker SIGKILLed, the
// approval sent from another process, a new worker finishing. Its lines are the story, in order.
const root = fileURLToPath(new URL("../..", import.meta.url));
if (!existsSync(join(root, "dist", "index.js"))) {
  throw new Error("dist/ is missing: run npm run build first (npm test builds before it runs vitest)");
}

describe("the approval demo", () => {
  const run = spawnSync(process.execPath, [join(root, "examples", "approval-demo.mjs")], { cwd: root, encoding: "utf8", timeout: 60_000 });
  const lines = run.stdout.split("\n");
  const index = (pattern: RegExp): number => lines.findIndex((line) => pattern.test(line));

  it("exits 0 and prints nothing on stderr", () => {
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
  });

  it("reserves, suspends, is killed, is approved from outside, and pays out once, in that order", () => {
    const story = [/reserve-budget: 120 EUR held/, /⏸ suspended: expense-7 waits for "approved"/, /killed with SIGKILL/, /approval stored as event approval-mail-1/, /pay-out: 120 EUR, approved by ann/, /✓ expense-7 completed/];
    const at = story.map(index);
    expect(at.every((position) => position >= 0), `missing lines in:\n${run.stdout}`).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(lines.filter((line) => /reserve-budget/.test(line))).toHaveLength(1);
    expect(lines.filter((line) => /pay-out/.test(line))).toHaveLength(1);
  });
});
