// npm run demo (and anything else that needs dist/): builds the package only when dist/ is
// missing a file package.json points at, or when a source (src/, tsup.config.ts, tsconfig.json,
// package.json) changed after the last build. The build prints nothing unless it fails.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const dist = join(root, "dist");

/** Every file under `dir`, recursively; none when it does not exist. */
function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name));
}

/** The files package.json promises: every `exports` target and the bin. */
function promisedFiles() {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const targets = [];
  const collect = (value) => {
    if (typeof value === "string") targets.push(value);
    else if (value !== null && typeof value === "object") Object.values(value).forEach(collect);
  };
  collect(pkg.exports);
  collect(pkg.bin);
  return targets.filter((target) => target.startsWith("./dist/")).map((target) => join(root, target));
}

function staleReason() {
  const missing = promisedFiles().find((file) => !existsSync(file));
  if (missing !== undefined) return `${missing.slice(root.length)} is missing`;
  const builtAt = Math.min(...filesUnder(dist).map((file) => statSync(file).mtimeMs));
  const inputs = [...filesUnder(join(root, "src")), ...["tsup.config.ts", "tsconfig.json", "package.json"].map((file) => join(root, file))];
  const changed = inputs.find((file) => existsSync(file) && statSync(file).mtimeMs > builtAt);
  return changed === undefined ? undefined : `${changed.slice(root.length)} changed`;
}

const reason = staleReason();
if (reason !== undefined) {
  console.log(`Building dist/ (${reason})…`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const build = spawnSync(npm, ["run", "build", "--silent"], { cwd: root, encoding: "utf8", shell: process.platform === "win32" });
  if (build.status !== 0) {
    process.stdout.write(build.stdout ?? "");
    process.stderr.write(build.stderr ?? "");
    console.error(`The build failed (${build.error?.message ?? `exit code ${String(build.status)}`}).`);
    process.exit(build.status ?? 1);
  }
}
