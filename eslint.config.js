// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const drivers = ["better-sqlite3", "pg", "@electric-sql/pglite", "ioredis", "redis"];

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/", ".scratch/"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      // A workflow is a heterogeneous list of operations whose input and output types differ from
      // step to step; `Operation<any, any>` is how such a list is typed. Unsafe *use* of those
      // values stays an error.
      "@typescript-eslint/no-explicit-any": "off",
    },
  },
  {
    // The core is dependency-free and runtime-neutral: no node:* modules and no drivers. The CLI is
    // a Node program of its own that opens the drivers the user asks for; the inspector is its web server.
    files: ["src/**/*.ts"],
    ignores: ["src/persistence/providers/file/{provider,fs,lock,replace,directory,owner,mailbox}.ts", "src/persistence/testing/**", "src/cli/**", "src/inspector/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [{ group: ["node:*"], message: "The core must not import Node built-ins." }],
          paths: drivers.map((name) => ({ name, message: "Providers receive a client; they never import a driver." })),
        },
      ],
    },
  },
  {
    // Tests and tooling deliberately use `any` to feed the engine bad input and loose fixtures.
    files: ["test/**/*.ts", "bench/**/*.ts", "examples/**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-return": "off",
    },
  },
  { files: ["**/*.js", "**/*.mjs"], ...tseslint.configs.disableTypeChecked },
  {
    files: ["examples/**/*.mjs", "scripts/**/*.mjs"],
    languageOptions: { globals: { console: "readonly", process: "readonly", setTimeout: "readonly", URL: "readonly" } },
  },
);
