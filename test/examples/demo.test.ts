import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// `npm run demo` is the README's first promise: it builds, then runs examples/demo.mjs on dist/.
const root = fileURLToPath(new URL("../..", import.meta.url));
if (!existsSync(join(root, "dist", "index.js"))) {
  throw new Error("dist/ is missing: run npm run build first (npm test builds before it runs vitest)");
}

describe("the demo", () => {
  it("kills the order worker mid-run, resumes it with the completed steps skipped, and matches an uninterrupted run", () => {
    const run = spawnSync(process.execPath, [join(root, "examples", "demo.mjs")], { cwd: root, encoding: "utf8", timeout: 60_000 });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const out = run.stdout;
    expect(out).toContain('checkpoint after "charge-payment"');
    expect(out).toContain("SIGKILL");
    for (const step of ["validate-order", "reserve-stock", "charge-payment"]) expect(out).toContain(`↷ ${step} (completed before the crash, skipped)`);
    expect(out).toContain("✔ the resumed order equals an uninterrupted run.");
    expect(out).toContain("✔ its snapshot was deleted on completion.");
  }, 90_000);
});
