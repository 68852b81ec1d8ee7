// `node scripts/run-together.mjs [--live <script>] <npm script>...`: runs the npm scripts named at
// once and fails when any of them fails. npm test runs vitest and tsc this way: many test files
// wait on servers and child processes, and tsc fills the cores they leave idle, at a lower priority. The
// `--live` script prints as it goes; the others' output is printed whole when everything ended, so
// that nothing interleaves.
import { Buffer } from "node:buffer";
import { spawn } from "node:child_process";
import { setPriority } from "node:os";

const args = process.argv.slice(2);
const live = args[0] === "--live" ? args[1] : undefined;
const names = live === undefined ? args : args.slice(2);
if (names.length === 0 && live === undefined) {
  process.stderr.write("usage: node scripts/run-together.mjs [--live <npm script>] <npm script>...\n");
  process.exit(2);
}

function run(name, inherit) {
  return new Promise((resolve) => {
    // npm's own path when npm started us, so that a machine with several npm versions runs this one.
    const npm = process.env.npm_execpath;
    const [command, commandArgs] = npm === undefined ? ["npm", ["run", "-s", name]] : [process.execPath, [npm, "run", "-s", name]];
    const stdio = inherit ? ["ignore", "inherit", "inherit"] : ["ignore", "pipe", "pipe"];
    const child = spawn(command, commandArgs, { stdio, shell: npm === undefined && process.platform === "win32" });
    // The others run at a lower priority (inherited by what npm starts): they take the cores the
    // live script leaves idle, not its time. Best effort: a platform that refuses runs them as is.
    if (!inherit && child.pid !== undefined) {
      try {
        setPriority(child.pid, 10);
      } catch {
        // Left at the default priority.
      }
    }
    const output = [];
    child.stdout?.on("data", (chunk) => output.push(chunk));
    child.stderr?.on("data", (chunk) => output.push(chunk));
    child.on("error", (error) => resolve({ name, code: 1, output: [Buffer.from(`${String(error)}\n`)] }));
    child.on("close", (code, signal) => resolve({ name, code: code ?? (signal === null ? 1 : 128), output }));
  });
}

const results = await Promise.all([...(live === undefined ? [] : [run(live, true)]), ...names.map((name) => run(name, false))]);
for (const { name, code, output } of results) {
  process.stdout.write(`> npm run ${name}: ${code === 0 ? "passed" : `failed (exit code ${code})`}\n`);
  process.stdout.write(Buffer.concat(output));
}
process.exit(results.every(({ code }) => code === 0) ? 0 : 1);
