import { hashName } from "./postgres-sql.js";

// The names PostgresPersistenceProvider gives its statements with `preparedStatements: true`.
// pg parses a named statement once per connection and afterwards sends only Bind and Execute, so
// the server parses and plans it once per connection instead of on every checkpoint.
//
// Only statements that look a row up by its keys are named: their generic plan is the primary key's
// index whatever the values. A claim is not: planned without its values (the LIMIT, the instants),
// Postgres may choose a scan of the whole table over the indexes that skip rows not yet due, and
// a claim is sent once per page of instances anyway.

/**
 * The name each statement text is sent under; other texts are sent as text. A name is derived from
 * the text alone, so that providers sharing a pool (and its connections) give one text one name
 * and different texts (other tables) different names: pg refuses a name reused for another text on
 * a connection, so a collision would fail loudly, and among the few texts of a pool's tables one
 * is as likely as two equal 32-bit hashes in a few dozen (about one in a million).
 */
export function preparedNames(texts: readonly string[]): ReadonlyMap<string, string> {
  return new Map(texts.map((text) => [text, statementName(text)]));
}

/** `workflowforge_` and the FNV-1a hash of `text`. */
export const statementName = (text: string): string => `workflowforge_${hashName(text)}`;
