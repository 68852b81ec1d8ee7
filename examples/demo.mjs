// npm run demo: an order workflow whose worker process is killed with SIGKILL in the middle of a
// step, then resumed from its last checkpoint by a new process, on the embedded file store.
// Nothing to set up. The worker is examples/order-worker.mjs.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FilePersistenceProvider } from "workflowforge/persistence/file";

const worker = fileURLToPath(new URL("./order-worker.mjs", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "workflowforge-demo-"));
const say = (line = "") => console.log(line);

/**
 * Runs the worker for order-42 on `store`, echoing its lines. With `killAt`, the process is killed
 * with SIGKILL right after the first line that matches it, and nothing it printed later is shown.
 * Resolves with how the process ended, its result and the lines it printed.
 */
function runWorker(store, { killAt, paymentDelayMs, echo = true } = {}) {
  const args = [worker, join(root, store), "order-42", ...(paymentDelayMs === undefined ? [] : [String(paymentDelayMs)])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    const lines = [];
    let result;
    let partial = "";
    let killed = false;
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      const complete = (partial + chunk).split("\n");
      partial = complete.pop();
      for (const line of complete) {
        if (killed || line === "") continue;
        if (line.startsWith("RESULT ")) {
          result = JSON.parse(line.slice("RESULT ".length));
          continue;
        }
        lines.push(line);
        if (echo) say(`   ${line}`);
        if (killAt?.test(line)) {
          killed = true;
          child.kill("SIGKILL");
          say(`   💥 SIGKILL: the worker (pid ${child.pid}) is killed while this step runs, before its checkpoint is saved`);
        }
      }
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, result, lines }));
  });
}

/** The steps a run started, as { number, name }, numbered from 1 as the worker prints them. */
const stepsStarted = (run) => run.lines.map((line) => /^▶ step (\d+)\/\d+ (\S+)/.exec(line)).filter(Boolean).map(([, number, name]) => ({ number: Number(number), name }));
const checkpointed = (run) => new Set(run.lines.map((line) => /checkpoint saved after step (\d+)/.exec(line)?.[1]).filter(Boolean).map(Number));
const idempotencyKeys = (run) => run.lines.map((line) => /idempotency key (\S+)/.exec(line)?.[1]).filter(Boolean);

try {
  say("── Run 1: a worker process starts order-42; the demo kills it in the middle of the payment step");
  // The payment call takes an hour on this run: the process is killed long before it answers.
  const crashed = await runWorker("store", { killAt: /idempotency key/, paymentDelayMs: 3_600_000 });
  if (crashed.signal !== "SIGKILL") throw new Error(`expected the worker to be killed, it exited with ${crashed.code}`);

  say();
  say("── Run 2: a new process resumes order-42 from its last checkpoint");
  const resumed = await runWorker("store");
  if (resumed.code !== 0) throw new Error(`the resumed worker exited with ${resumed.code}`);

  const saved = checkpointed(crashed);
  const unfinished = stepsStarted(crashed).filter((step) => !saved.has(step.number));
  const twice = stepsStarted(resumed).filter((step) => unfinished.some((other) => other.number === step.number));
  const keys = [...idempotencyKeys(crashed), ...idempotencyKeys(resumed)];
  say();
  for (const step of twice) {
    say(`Step ${step.number} (${step.name}) ran twice, once in each process: the first process was killed after the`);
    say("step began and before its checkpoint was saved, so the new process could not know it had finished and");
    say("ran it again. Steps run at least once. This one passes foundry.idempotencyKey() to the payment service,");
    say(`the same on both runs (${keys[0]}), so a service that deduplicates by it charges once.`);
  }
  const sameKey = keys.length === 2 && keys[0] === keys[1];

  say();
  say("── Reference: order-42 without a crash, on a separate store");
  const clean = await runWorker("reference-store", { echo: false });
  if (clean.code !== 0) throw new Error(`the reference worker exited with ${clean.code}`);
  const same = JSON.stringify(resumed.result) === JSON.stringify(clean.result);
  const left = await new FilePersistenceProvider({ directory: join(root, "store") }).list();
  say(`   Resumed result:   ${JSON.stringify(resumed.result.output)}`);
  say(`   Reference result: ${JSON.stringify(clean.result.output)}`);
  say();
  say(same ? "✔ the resumed order equals an uninterrupted run." : "✘ the results differ.");
  say(left.length === 0 ? "✔ its snapshot was deleted on completion." : `✘ ${left.length} snapshot(s) left in the store.`);
  say(twice.length === 1 && sameKey ? "✔ the step that ran twice used the same idempotency key both times." : "✘ expected one step to run twice with one idempotency key.");
  say();
  say("Next: read examples/order-worker.mjs, the worker both processes ran: its workflow, checkpoints and idempotency key.");
  process.exitCode = same && left.length === 0 && twice.length === 1 && sameKey ? 0 : 1;
} finally {
  rmSync(root, { recursive: true, force: true });
}
