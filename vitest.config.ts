import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

// The suite in projects by what a test needs, so that one kind runs alone (`npm run test:unit`,
// `test:server`, `test:crash`, `test:package`); `vitest run` (and so `npm test`) runs them all.
// Every test file is in exactly one project: unit takes all that no other one names.

/** Throw-away Postgres and Redis servers, and Chromium (skipped, saying what to install, without the binaries). */
const server = [
  "test/**/*.int.test.ts",
  "test/persistence/providers/{redis,redis-unreadable}.test.ts",
  "test/persistence/providers/{redis,postgres,oldest-drivers}.conformance.test.ts",
  // The inspector's page in headless Chromium, on SQLite and on a throw-away Postgres.
  "test/inspector/browser.test.ts",
];
/** Processes killed with SIGKILL and many workers at once: `WORKFLOWFORGE_CRASH_RUNS` instances per provider (6 by default, 100 in .ci/run). */
const crash = [
  "test/persistence/crash/**/*.test.ts",
  "test/waits/**/*.crash.test.ts",
  "test/waits/**/*.crash.int.test.ts",
  "test/persistence/workers/{many-workers,many-workers-fast,paused-holder}.test.ts",
  "test/otel/crash.test.ts",
];/**
 * Unit tests that replace a module with vi.mock: they need modules of their own, where the other unit
 * tests share one set per worker (a module another file loaded first would stay unmocked).
 */
const mocking = ["test/persistence/providers/file/{durability,lock-theft,delete-mailbox}.test.ts"];
/** The built package in dist/ (`npm run build` first), and the samples of the README and docs/ (the JavaScript ones run on it, the TypeScript ones on src/). */
const built = ["test/package/**/*.test.ts", "test/examples/**/*.test.ts", "test/{readme,docs}.test.ts", "test/cli/bin.test.ts", "test/inspector/bin.test.ts", "test/otel/package.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 20_000,
    // One initdb for the run, copied by each throw-away Postgres server, and one PGlite dump, loaded by each PGlite.
    globalSetup: ["test/support/global-setup.ts"],
    hookTimeout: 60_000,
    // Most files wait on servers, child processes and leases, not on the CPU: on two cores, four
    // workers run the suite in four fifths of the time two do (vitest's default leaves one core
    // idle). At most eight, as each server file starts servers of its own. At the full counts
    // (.ci/run) the crash suites alone keep the cores busy, and four workers beside them starved a
    // SQLite crash child past its 20 s busy timeout once: there, one worker per core.
    maxWorkers: process.env.WORKFLOWFORGE_THOROUGH === "1" ? Math.max(2, availableParallelism()) : Math.min(8, availableParallelism() * 2),
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: [...server, ...crash, ...built, ...mocking],
          // Files share the modules they import instead of loading them again each: the unit files
          // spent more time importing than testing. A file that changes shared state restores it.
          isolate: false,
          // test/types/*.test-d.ts are checked by `npm run typecheck` (tsc fails on an expectTypeOf
          // that does not hold), which npm test runs before vitest: vitest's own typecheck ran tsc over
          // the whole project a second time, half a minute at the end of the suite on two cores.
        },
      },
      { extends: true, test: { name: "unit-mocking", include: mocking } },
      // A crash test that needs a server (*.crash.int.test.ts) runs with the crash tests only.
      // Sharing the library's modules between files, as the unit tests do: each file importing
      // them afresh cost a fifth of the server tests' time.
      { extends: true, test: { name: "server", include: server, exclude: crash, isolate: false } },
      { extends: true, test: { name: "crash", include: crash, isolate: false } },
      { extends: true, test: { name: "package", include: built, isolate: false } },
    ],
  },
});
