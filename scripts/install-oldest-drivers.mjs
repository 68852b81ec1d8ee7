// npm run test:compat:install: installs the oldest version of each peer driver that package.json's
// peer ranges admit, under an `oldest-*` alias, without saving them to package.json or the lockfile.
// test/persistence/providers/oldest-drivers.conformance.test.ts runs the conformance kit on them;
// .ci/run installs them after `npm ci`, so a plain `npm install` never builds a second better-sqlite3.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** The alias each peer's oldest version is installed under (the test imports these names). */
const aliases = {
  "better-sqlite3": "oldest-better-sqlite3",
  pg: "oldest-pg",
  "@electric-sql/pglite": "oldest-pglite",
  ioredis: "oldest-ioredis",
  redis: "oldest-redis",
};

/** Peers that are not storage drivers: the conformance kit has nothing to run on them. */
const notDrivers = new Set(["@opentelemetry/api"]);

const root = new URL("../", import.meta.url);
const { peerDependencies } = JSON.parse(readFileSync(new URL("package.json", root), "utf8"));
const drivers = Object.entries(peerDependencies).filter(([peer]) => !notDrivers.has(peer));
const specs = drivers.map(([peer, range]) => {
  const lowest = /^>=(\d+(?:\.\d+){0,2})$/.exec(range)?.[1];
  const alias = aliases[peer];
  if (lowest === undefined || alias === undefined) {
    throw new Error(`scripts/install-oldest-drivers.mjs: peer "${peer}" (${range}) needs an alias and a ">=<version>" range`);
  }
  const version = [...lowest.split("."), "0", "0"].slice(0, 3).join(".");
  return `${alias}@npm:${peer}@${version}`;
});

console.log(`Installing the oldest peer drivers (not saved): ${specs.join(" ")}`);
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const result = spawnSync(npm, ["install", "--no-save", "--no-audit", "--no-fund", ...specs], {
  cwd: root,
  stdio: "inherit",
  shell: process.platform === "win32",
});
process.exit(result.status ?? 1);
