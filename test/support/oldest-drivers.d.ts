// The oldest driver versions the peer ranges admit are installed under `oldest-*` aliases (see
// package.json and test/persistence/providers/oldest-drivers.conformance.test.ts). better-sqlite3
// and pg carry no types of their own, so these lend them the current versions' types; the test
// itself is what shows that the calls the providers make behave the same.
declare module "oldest-better-sqlite3" {
  import Database from "better-sqlite3";
  export default Database;
}

declare module "oldest-pg" {
  import pg from "pg";
  export default pg;
}
