import { cp } from "node:fs/promises";
import { defineConfig, type Options } from "tsup";

const shared = {
  target: "node20",
  platform: "node",
  treeshake: true,
  sourcemap: false,
  external: ["better-sqlite3", "pg", "@electric-sql/pglite", "ioredis", "redis", "@opentelemetry/api"],
} satisfies Options;

export default defineConfig([
  // The library. Entry keys equal the export paths in package.json. Splitting is on for both
  // formats so that every subpath shares one copy of the error classes: an error thrown from
  // `workflowforge/persistence` stays `instanceof` the class imported from `workflowforge`.
  {
    ...shared,
    entry: {
      index: "src/index.ts",
      "persistence/index": "src/persistence/index.ts",
      "persistence/testing": "src/persistence/testing/index.ts",
      "persistence/file": "src/persistence/providers/file/index.ts",
      "persistence/sqlite": "src/persistence/providers/sqlite.ts",
      "persistence/postgres": "src/persistence/providers/postgres.ts",
      "persistence/redis": "src/persistence/providers/redis.ts",
      "otel/index": "src/otel/index.ts",
    },
    format: ["esm", "cjs"],
    dts: true,
    splitting: true,
    // Both configs build at once into dist/: this one must not delete the CLI (and its page) the other writes.
    clean: ["!cli.js", "!inspector/**"],
    // No keepNames: it wraps every closure the hot path creates in a defineProperty call. Error
    // classes take their `name` from the class, which esbuild keeps without minification; the
    // package test checks those names on the built output.
  },
  // The `workflowforge` bin: one self-contained ESM file (it shares no objects with user code, so
  // it needs no shared chunks), no CJS twin and no types. tsup keeps the entry's shebang and
  // marks the file executable.
  {
    ...shared,
    entry: { cli: "src/cli/main.ts" },
    format: ["esm"],
    dts: false,
    splitting: false,
    clean: false,
    // The inspector's page (`workflowforge ui`): plain files the server reads beside dist/cli.js.
    onSuccess: () => cp("src/inspector/page", "dist/inspector/page", { recursive: true }),
  },
]);
