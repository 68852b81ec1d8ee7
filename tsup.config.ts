import { defineConfig } from "tsup";

// Entry keys equal the export paths in package.json. Splitting is on for both formats so that
// every subpath shares one copy of the error classes: an error thrown from
// `workflowforge/persistence` stays `instanceof` the class imported from `workflowforge`.
export default defineConfig({
  entry: {
    index: "src/index.ts",
    "persistence/index": "src/persistence/index.ts",
    "persistence/testing": "src/persistence/testing/index.ts",
    "persistence/file": "src/persistence/providers/file.ts",
    "persistence/sqlite": "src/persistence/providers/sqlite.ts",
    "persistence/postgres": "src/persistence/providers/postgres.ts",
    "persistence/redis": "src/persistence/providers/redis.ts",
  },
  format: ["esm", "cjs"],
  dts: true,
  splitting: true,
  clean: true,
  sourcemap: false,
  target: "node20",
  platform: "node",
  treeshake: true,
  // No keepNames: it wraps every closure the hot path creates in a defineProperty call. Error
  // classes take their `name` from the class, which esbuild keeps without minification; the
  // package test checks those names on the built output.
  external: ["better-sqlite3", "pg", "@electric-sql/pglite", "ioredis", "redis"],
});
