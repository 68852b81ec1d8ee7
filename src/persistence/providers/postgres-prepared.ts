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
 * a connection, so a collision would fail loudly, and at 53 bits it does not happen.
 */
export function preparedNames(texts: readonly string[]): ReadonlyMap<string, string> {
  return new Map(texts.map((text) => [text, statementName(text)]));
}

/** `workflowforge_` and a 53-bit hash of `text` (cyrb53) in base 36. */
export function statementName(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    h1 = Math.imul(h1 ^ code, 2654435761);
    h2 = Math.imul(h2 ^ code, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return `workflowforge_${(4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36)}`;
}
