// A 6-step workflow, instrumented and persisted, run in its own process by crash.test.ts. Every
// span is written to SPANS_FILE as it starts and as it ends. KILL_AT stops the process with
// SIGKILL: "op:K" inside operation K after its side effect; "save:K" while operation K's
// checkpoint is being written (its span has ended by then). RESUME=coordinator resumes the
// stored instance through an instrumented recovery coordinator instead of running it.
import { appendFileSync, writeFileSync } from "node:fs";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { createFoundry, createWorkflow } from "../../src/index.js";
import { instrument } from "../../src/otel/index.js";
import { createRecoveryCoordinator, usePersistence, type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";
import { CasFileProvider } from "./cas-file-provider.js";
import { SpanFileProcessor } from "./span-file.js";

const { STORE_DIR, LOG_FILE, SPANS_FILE, RESULT_FILE, KILL_AT = "", RESUME = "" } = process.env;
if (STORE_DIR === undefined || LOG_FILE === undefined || SPANS_FILE === undefined || RESULT_FILE === undefined) {
  throw new Error("STORE_DIR, LOG_FILE, SPANS_FILE and RESULT_FILE are required");
}
const STEPS = 6;
const [killPoint, killIndex] = KILL_AT.split(":");
const die = (): never => {
  process.kill(process.pid, "SIGKILL");
  throw new Error("unreachable");
};

class KillingProvider extends CasFileProvider {
  override save(snapshot: WorkflowExecutionSnapshot): void {
    if (killPoint === "save" && snapshot.nextOperationIndex === Number(killIndex) + 1) die();
    super.save(snapshot);
  }
}

const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SpanFileProcessor(SPANS_FILE)] });
const builder = createWorkflow<Record<string, number>>("CrashTrace");
for (let i = 0; i < STEPS; i++) {
  builder.withOperation(`step-${i}`, (input: number | undefined, f) => {
    appendFileSync(LOG_FILE, `${i}\n`);
    f.properties.total = (f.properties.total ?? 0) + (input ?? 1);
    if (killPoint === "op" && Number(killIndex) === i) die();
    return (input ?? 1) + i;
  });
}
const workflow = builder.build();
const provider = new KillingProvider(STORE_DIR);

if (RESUME === "coordinator") {
  const coordinator = createRecoveryCoordinator(instrument({ provider, resolveWorkflow: () => workflow, owner: "worker-b" }, { tracerProvider }));
  const report = await coordinator.resumeAll();
  await coordinator.close();
  if (report.resumed.length !== 1) throw new Error(`expected one resumed instance, got ${JSON.stringify(report)}`);
  writeFileSync(RESULT_FILE, JSON.stringify({ output: report.resumed[0]?.output }));
} else {
  const foundry = createFoundry<Record<string, number>>("CrashTrace", { executionId: "trace-1", properties: { total: 0 } });
  for (const operation of workflow.operations) foundry.addOperation(operation);
  // Persistence first: each operation's span ends before its checkpoint is written.
  usePersistence(foundry, provider, { instanceId: "trace-1", workflowKey: workflow.id });
  instrument(foundry, { tracerProvider });
  const output = await foundry.forge<number>();
  writeFileSync(RESULT_FILE, JSON.stringify({ output, properties: foundry.properties }));
}
