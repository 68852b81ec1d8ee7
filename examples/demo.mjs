// npm run demo: an order workflow that is killed with SIGKILL halfway through, then resumed from
// its last checkpoint in a new process, on the embedded file store. Nothing to set up.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FilePersistenceProvider } from "workflowforge/persistence/file";

const worker = fileURLToPath(new URL("./order-worker.mjs", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "workflowforge-demo-"));

/** Runs the worker on `store`; `killAfter` names the step after whose checkpoint the process is killed. */
function runWorker(title, store, killAfter) {
  console.log(`\n── ${title}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [worker, join(root, store), "order-42"], { stdio: ["ignore", "pipe", "inherit"] });
    let result;
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      for (const line of chunk.split("\n").filter(Boolean)) {
        if (line.startsWith("RESULT ")) result = JSON.parse(line.slice(7));
        else console.log(`   ${line}`);
        if (killAfter !== undefined && line.includes(`checkpoint after "${killAfter}"`)) {
          console.log(`   💥 SIGKILL (pid ${child.pid})`);
          child.kill("SIGKILL");
        }
      }
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve({ code, signal, result }));
  });
}

try {
  const crashed = await runWorker("Run 1: order-42 starts; the process is killed in the middle", "store", "charge-payment");
  if (crashed.signal !== "SIGKILL") throw new Error(`expected the worker to be killed, it exited with ${crashed.code}`);

  const resumed = await runWorker("Run 2: a new process resumes order-42 from its last checkpoint", "store");
  const clean = await runWorker("Reference: order-42 without a crash, on a separate store", "reference-store");
  if (resumed.code !== 0 || clean.code !== 0) throw new Error("a worker failed");

  const same = JSON.stringify(resumed.result) === JSON.stringify(clean.result);
  const left = await new FilePersistenceProvider({ directory: join(root, "store") }).list();
  console.log(`\nResumed result:   ${JSON.stringify(resumed.result.output)}`);
  console.log(`Reference result: ${JSON.stringify(clean.result.output)}`);
  console.log(same ? "✔ the resumed order equals an uninterrupted run." : "✘ the results differ.");
  console.log(left.length === 0 ? "✔ its snapshot was deleted on completion." : `✘ ${left.length} snapshot(s) left in the store.`);
  process.exitCode = same && left.length === 0 ? 0 : 1;
} finally {
  rmSync(root, { recursive: true, force: true });
}
