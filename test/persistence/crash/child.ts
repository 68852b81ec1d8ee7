// A 10-step workflow run in its own process by crash-resume.test.ts. It kills itself with SIGKILL
// at the boundary named by KILL_AT ("op:K": inside operation K after its side effect, before the
// checkpoint; "saved:K": right after operation K's checkpoint was saved).
import { appendFileSync, writeFileSync } from "node:fs";
import { createFoundry } from "../../../src/index.js";
import { usePersistence } from "../../../src/persistence/index.js";
import { JsonFileProvider } from "./json-file-provider.js";

const { STORE_DIR, LOG_FILE, RESULT_FILE, KILL_AT = "" } = process.env;
if (STORE_DIR === undefined || LOG_FILE === undefined || RESULT_FILE === undefined) throw new Error("STORE_DIR, LOG_FILE and RESULT_FILE are required");
const STEPS = 10;
const [killPoint, killIndex] = KILL_AT.split(":");
const die = (): never => {
  process.kill(process.pid, "SIGKILL");
  throw new Error("unreachable");
};

const foundry = createFoundry<Record<string, number>>("CrashDemo", { properties: { total: 0 } });
for (let i = 0; i < STEPS; i++) {
  foundry.withOperation(`step-${i}`, (input: number | undefined, f) => {
    appendFileSync(LOG_FILE, `${i}\n`);
    f.properties[`step${i}`] = i * 2;
    f.properties.total = (f.properties.total ?? 0) + (input ?? 1);
    if (killPoint === "op" && Number(killIndex) === i) die();
    return (input ?? 1) + i;
  });
}
usePersistence(foundry, new JsonFileProvider(STORE_DIR), { instanceId: "crash-1", workflowKey: "CrashDemo-v1" });
foundry.on("snapshotSaved", (event) => {
  if (killPoint === "saved" && event.nextOperationIndex === Number(killIndex) + 1) die();
});
const output = await foundry.forge<number>();
writeFileSync(RESULT_FILE, JSON.stringify({ output, properties: foundry.properties }));
