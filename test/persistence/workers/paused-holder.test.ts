import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { createRecoveryCoordinator } from "../../../src/persistence/index.js";
import { processStat } from "../../../src/persistence/providers/file/owner.js";
import { describeWithServer } from "../../support/describe-with-server.js";
import { STEPS, batchWorkflow, readSteps } from "./batch-workflow.js";
import { workerTestSetup } from "./real-servers.js";
import { openStore } from "./stores.js";

// Acceptance 2: worker A claims an instance and is stopped with SIGSTOP past its lease; worker B
// takes over and completes it; A is continued, its next save is refused, and it runs nothing more.
// Long enough that A's own store calls, each bounded by its lease, answer within it on a busy
// machine: a call that does not makes A give up before the test can stop it.
const LEASE_MS = 2_000;
const STEP_MS = 150;

const { child, root, cleanup, servers } = await workerTestSetup("paused");

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `condition()` holds; fails at once, with what A printed, once A has exited. */
async function waitFor(condition: () => boolean | Promise<boolean>, what: string, a: { exited: boolean; output: () => string }): Promise<void> {
  while (!(await condition())) {
    if (a.exited) throw new Error(`A exited before ${what}; it printed: ${a.output()}`);
    await delay(5);
  }
}

for (const kind of ["postgres", "redis"] as const) {
  describeWithServer(`${kind}: a paused holder`, servers[kind], (server) => {
    it("is fenced out by the revision after another worker took over, and runs no further operation", async () => {
      const logFile = join(root, `${kind}.log`);
      writeFileSync(logFile, "");
      const { provider, close } = await openStore(kind, server.url);
      cleanup.push(close);
      const workflowB = batchWorkflow({ logFile, owner: "B", stepMs: () => 5 });
      const b = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflowB, owner: "B", leaseTtlMs: LEASE_MS, onComplete: "keep" });
      const { instanceId } = await b.enqueue(workflowB, { instanceId: `paused-${kind}` });

      const a = spawn(process.execPath, [child], {
        env: { ...process.env, WORKER_MODE: "one", WORKER_INSTANCE: instanceId, WORKER_STORE: kind, WORKER_URL: server.url, WORKER_LOG: logFile, WORKER_OWNER: "A", WORKER_LEASE_MS: String(LEASE_MS), WORKER_STEP_MS: String(STEP_MS), WORKER_STOP_AT_STEP: "1" },
        stdio: ["ignore", "pipe", "inherit"],
      });
      let output = "";
      a.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const watched = { exited: false, output: () => output };
      const exited = new Promise<number | null>((resolve) => a.once("exit", (code) => ((watched.exited = true), resolve(code))));
      const stepsOf = (owner: string) => readSteps(readFileSync(logFile, "utf8")).filter((step) => step.owner === owner);

      // A stops itself inside step 1, its claim and the checkpoint of step 0 saved, however fast it runs
      // (where /proc cannot tell the stop, it lands right after the logged start).
      await waitFor(() => stepsOf("A").some((step) => step.index === 1) && (processStat(a.pid as number)?.state ?? "T") === "T", "stopping in step 1", watched);
      // Until its stored lease has run out: A, stopped, renews nothing.
      const leaseOver = async () => Date.parse((await provider.tryLoad(instanceId, workflowB.id))?.leaseExpiresAt ?? "") < Date.now();
      await waitFor(leaseOver, "its lease ran out", watched);

      const outcomeB = await b.resume(instanceId, workflowB.id);
      expect(outcomeB).toMatchObject({ status: "resumed", output: STEPS });

      a.kill("SIGCONT");
      expect(await exited).toBe(0);
      const outcomeA = JSON.parse(output) as { status: string; reason?: string; detail?: string };
      expect(outcomeA).toMatchObject({ status: "skipped", reason: "claimed" });
      expect(outcomeA.detail).toMatch(/conflict/);

      expect(stepsOf("A").map((step) => step.index)).toEqual([0, 1]);
      expect(stepsOf("B").map((step) => step.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const stored = await provider.tryLoad(instanceId, workflowB.id);
      expect(stored).toMatchObject({ status: "completed", owner: "B", nextOperationIndex: STEPS, lastOutput: STEPS });
    }, 60_000);
  });
}
