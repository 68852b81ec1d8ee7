import { spawn } from "node:child_process";
import { once } from "node:events";
import { availableParallelism } from "node:os";
import { expect, it } from "vitest";
import { probeMachineSlowdown } from "./machine-slowdown.js";

it("measures a machine made busy: twice as many spinning processes as cores slow the probe down at least 1.5 times", async () => {
  const probe = await probeMachineSlowdown();
  const spinners = Array.from({ length: 2 * availableParallelism() }, () => spawn(process.execPath, ["-e", "const end = Date.now() + 1500; while (Date.now() < end);"], { stdio: "ignore" }));
  await Promise.all(spinners.map((spinner) => once(spinner, "exit")));
  expect(await probe.stop()).toBeGreaterThan(1.5);
}, 30_000);
