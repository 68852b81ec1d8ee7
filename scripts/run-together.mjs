// `node scripts/run-together.mjs lint typecheck`: runs the npm scripts named at once and fails when
// any of them fails. npm test runs ESLint and tsc this way: each is mostly one thread, so on two
// cores the pair takes about as long as ESLint alone. Each script's output is printed whole when it
// ends, so that the two never interleave.
import { Buffer } from "node:buffer";
import { spawn } from "node:child_process";

const names = process.argv.slice(2);
if (names.length === 0) {
  process.stderr.write("usage: node scripts/run-together.mjs <npm script>...\n");
  process.exit(2);
}

function run(name) {
  return new Promise((resolve) => {
    // npm's own path when npm started us, so that a machine with several npm versions runs this one.
    const npm = process.env.npm_execpath;
    const [command, args] = npm === undefined ? ["npm", ["run", "-s", name]] : [process.execPath, [npm, "run", "-s", name]];
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], shell: npm === undefined && process.platform === "win32" });
    const output = [];
    child.stdout.on("data", (chunk) => output.push(chunk));
    child.stderr.on("data", (chunk) => output.push(chunk));
    child.on("error", (error) => resolve({ name, code: 1, output: [Buffer.from(`${String(error)}\n`)] }));
    child.on("close", (code, signal) => resolve({ name, code: code ?? (signal === null ? 1 : 128), output }));
  });
}

const results = await Promise.all(names.map(run));
for (const { name, code, output } of results) {
  process.stdout.write(`> npm run ${name}: ${code === 0 ? "passed" : `failed (exit code ${code})`}\n`);
  process.stdout.write(Buffer.concat(output));
}
process.exit(results.every(({ code }) => code === 0) ? 0 : 1);
