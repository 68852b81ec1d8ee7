import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// `npm run demo` is the first thing someone who cloned the repository runs: it builds if needed,
// then runs examples/demo.mjs on dist/. Its output is a story, so the order of its lines is tested.
const root = fileURLToPath(new URL("../..", import.meta.url));
if (!existsSync(join(root, "dist", "index.js"))) {
  throw new Error("dist/ is missing: run npm run build first (npm test builds before it runs vitest)");
}

/** The index of the first line at or after `from` that matches `pattern`; fails the test when none does. */
function lineAt(lines: readonly string[], pattern: RegExp, from = 0): number {
  const index = lines.findIndex((line, i) => i >= from && pattern.test(line));
  expect(index, `no line matching ${String(pattern)} after line ${from}:\n${lines.join("\n")}`).toBeGreaterThanOrEqual(0);
  return index;
}

/** Checks that each pattern matches a line after the line the previous one matched. */
function expectInOrder(lines: readonly string[], patterns: readonly RegExp[]): void {
  let from = 0;
  for (const pattern of patterns) from = lineAt(lines, pattern, from) + 1;
}

const stepLine = /^\s*(?:▶|✓|↷|💾|⟳)/;

describe("the demo", () => {
  const run = spawnSync(process.execPath, [join(root, "examples", "demo.mjs")], { cwd: root, encoding: "utf8", timeout: 60_000 });
  const lines = run.stdout.split("\n");

  it("exits 0 and prints nothing on stderr", () => {
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
  });

  it("tells the crash in order: the steps of the first run, then the kill, then the resumed run", () => {
    const kill = lineAt(lines, /SIGKILL/);
    const resumed = lineAt(lines, /^── Run 2/);
    // The kill comes right after the line of the step it interrupts, and no step line of the killed
    // process follows it.
    expect(lines[kill - 1]).toMatch(/charging .* idempotency key/);
    expect(lines.slice(0, kill).filter((line) => stepLine.test(line)).length).toBeGreaterThan(0);
    expect(lines.slice(kill + 1, resumed).filter((line) => stepLine.test(line))).toEqual([]);
    expectInOrder(lines, [
      /^── Run 1/,
      /▶ step 1\/5 validate-order/,
      /💾 checkpoint saved after step 1$/,
      /💾 checkpoint saved after step 2$/,
      /▶ step 3\/5 charge-payment/,
      /SIGKILL/,
      /^── Run 2/,
      /⟳ checkpoint restored: 2 of 5 steps done, resuming at step 3$/,
      /↷ step 1\/5 validate-order/,
      /↷ step 2\/5 reserve-stock/,
      /▶ step 3\/5 charge-payment/,
      /✓ step 5\/5 send-confirmation/,
    ]);
    expect(lines.slice(0, resumed).some((line) => line.includes("checkpoint saved after step 3"))).toBe(false);
  });

  it("counts steps from 1", () => {
    const numbers = lines.flatMap((line) => [...line.matchAll(/step (\d+)/g)].map((match) => Number(match[1])));
    expect(numbers.length).toBeGreaterThan(0);
    expect(Math.min(...numbers)).toBe(1);
    expect(Math.max(...numbers)).toBe(5);
  });

  it("says which step ran twice and why: its checkpoint was not saved before the kill, and steps run at least once", () => {
    const twice = lineAt(lines, /^Step 3 \(charge-payment\) ran twice/, lineAt(lines, /✓ step 5\/5/));
    const paragraph = lines.slice(twice, lines.indexOf("", twice)).join(" ");
    expect(paragraph).toContain("before its checkpoint was saved");
    expect(paragraph).toContain("at least once");
    expect(paragraph).toContain("idempotencyKey()");
  });

  it("ends with the resumed order equal to an uninterrupted run, its snapshot deleted, and the example file to read next", () => {
    expectInOrder(lines, [
      /✔ the resumed order equals an uninterrupted run\./,
      /✔ its snapshot was deleted on completion\./,
      /✔ the step that ran twice used the same idempotency key both times\./,
    ]);
    const last = lines.filter((line) => line.trim() !== "").at(-1) ?? "";
    expect(last).toMatch(/^Next: read examples\/order-worker\.mjs/);
    expect(existsSync(join(root, "examples", "order-worker.mjs"))).toBe(true);
  });
});
