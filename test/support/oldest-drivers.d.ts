// The oldest driver versions the peer ranges admit are installed under `oldest-*` aliases by
// `npm run test:compat:install` (not by `npm install`), for
// test/persistence/providers/oldest-drivers.conformance.test.ts. They lend themselves the current
// versions' types, so that the test type-checks whether or not they are installed; the test itself
// is what shows that the calls the providers make behave the same on the oldest versions.
declare module "oldest-better-sqlite3" {
  import Database from "better-sqlite3";
  export default Database;
}

declare module "oldest-pg" {
  import pg from "pg";
  export default pg;
}

declare module "oldest-pglite" {
  export { PGlite } from "@electric-sql/pglite";
}

declare module "oldest-redis" {
  export { createClient } from "redis";
}
