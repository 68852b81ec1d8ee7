import { spawn } from "node:child_process";
import { once } from "node:events";

// A latency promise ("wakes within a second") is about the library, not about how many other
// processes share the machine's cores. A probe process measures the second: every 100 ms it spins
// for 10 ms of wall time and counts the CPU time it was given meanwhile. On an idle machine the two
// match; with three runnable processes per core it gets about a third. Its slowdown (wall ÷ CPU over
// the window) scales a latency margin, so that a test waits as long as the machine makes it wait,
// and still fails when the library is late on a machine that is not busy.
const probe = `
let wall = 0n, cpu = 0;
const sample = () => {
  const [t0, c0] = [process.hrtime.bigint(), process.cpuUsage()];
  while (process.hrtime.bigint() - t0 < 10_000_000n);
  const used = process.cpuUsage(c0);
  wall += process.hrtime.bigint() - t0;
  cpu += used.user + used.system;
};
const timer = setInterval(sample, 100);
// A test that failed before stop() does not leave it spinning: its parent's end closes stdin, and
// at the latest it gives up after ten minutes.
setTimeout(() => process.exit(1), 600_000).unref();
sample();
process.stdout.write("started\\n");
process.stdin.resume();
process.stdin.on("end", () => {
  clearInterval(timer);
  process.stdout.write(JSON.stringify({ wallUs: Number(wall / 1000n), cpuUs: cpu }) + "\\n");
});
`;

export interface SlowdownProbe {
  /** Ends the probe: how many times slower than an idle machine this one was since it started (at least 1). */
  stop(): Promise<number>;
}

/** Starts measuring; resolves once the probe is measuring. */
export async function probeMachineSlowdown(): Promise<SlowdownProbe> {
  const child = spawn(process.execPath, ["-e", probe], { stdio: ["pipe", "pipe", "inherit"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", () => (output.includes("started\n") ? resolve() : undefined));
    child.once("exit", (code) => reject(new Error(`the slowdown probe exited with code ${String(code)} before it started`)));
  });
  return {
    async stop() {
      // "close", not "exit": the measurement is on stdout, read to its end by then.
      const closed = once(child, "close");
      child.stdin.end();
      await closed;
      const line = output.split("\n").find((text) => text.startsWith("{"));
      if (line === undefined) throw new Error(`the slowdown probe printed no measurement: ${JSON.stringify(output)}`);
      const { wallUs, cpuUs } = JSON.parse(line) as { wallUs: number; cpuUs: number };
      return Math.max(1, wallUs / Math.max(1, cpuUs));
    },
  };
}
