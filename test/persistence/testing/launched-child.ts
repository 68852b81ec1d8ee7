// One process of crash-harness-launcher.test.ts, started through tsx's launcher, which runs it in a
// process of its own (a grandchild of the harness). It notes its pid, says its run started, and
// hangs, as a workload stuck on a lock would.
import { appendFileSync } from "node:fs";
import { startedLine } from "../../../src/persistence/testing/crash-log.js";

appendFileSync(process.env.PID_FILE ?? "", `${process.pid}\n`);
process.stdout.write(`${startedLine}\n`);
setInterval(() => undefined, 1_000);
