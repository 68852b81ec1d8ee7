// npm run demo:approval: a human approval that survives a crash. A worker starts an expense, which
// suspends at its wait for approval; the worker is killed with SIGKILL; another process sends the
// approval; a new worker finds the expense due and finishes it. Embedded file store, nothing to set up.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { signalInstance } from "workflowforge/persistence";
import { FilePersistenceProvider } from "workflowforge/persistence/file";

const worker = fileURLToPath(new URL("./approval-worker.mjs", import.meta.url));
const store = mkdtempSync(join(tmpdir(), "workflowforge-approval-"));
const say = (line = "") => console.log(line);

/** Starts a worker, echoing its lines; resolves with it once it printed a line matching `until`. */
function startWorker(args, until) {
  const child = spawn(process.execPath, [worker, store, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let partial = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop();
      for (const line of lines) {
        if (line !== "READY") say(`   ${line}`);
        if (until.test(line)) resolve(child);
      }
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => reject(new Error(`the worker exited (${signal ?? code}) before printing ${until}`)));
  });
}

const exited = (child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", resolve)));

try {
  say("── Worker 1 starts expense-7, which waits up to 7 days for a manager's approval");
  const first = await startWorker(["start", "expense-7"], /^READY$/);
  first.kill("SIGKILL");
  await exited(first);
  say("── Worker 1 killed with SIGKILL while expense-7 waits; nothing is running");
  say("── Another process (an HTTP handler, the CLI) sends the approval");
  const provider = new FilePersistenceProvider({ directory: store });
  const sent = await signalInstance(provider, { instanceId: "expense-7", workflowKey: "Expense@1" }, "approved", { by: "ann" }, { eventId: "approval-mail-1" });
  say(`   approval stored as event ${sent.eventId}`);
  say("── Worker 2 starts, finds expense-7 due and finishes it");
  const second = await startWorker([], /completed$/);
  second.kill("SIGTERM");
  await exited(second);
  say("── Done: reserved once, suspended, survived a SIGKILL, approved from outside, paid out once.");
} finally {
  rmSync(store, { recursive: true, force: true });
}
