// The statements that write several instances at once for PostgresPersistenceProvider's group
// commit: each row of a VALUES list is one save or delete, every value cast so that the text
// fixes each parameter's type whatever the driver infers. The keys of one statement differ, so no
// row is both inserted and updated, updated twice, or deleted and written.

const columns = ["instance_id", "workflow_id", "revision", "status", "workflow_name", "updated_at", "data", "owner", "lease_expires_at", "attempts", "waiting_for", "wake_ms"];
const types = ["text", "text", "bigint", "text", "text", "timestamptz", "text", "text", "timestamptz", "integer", "text", "bigint"];
const assigned = columns.slice(2).map((column) => `${column} = i.${column}`).join(", ");

/** `rows` tuples of `$n::type` parameters, each led by its ordinal when `numbered`. */
function tuples(rowTypes: readonly string[], rows: number, numbered: boolean): string {
  return Array.from({ length: rows }, (_, row) => {
    const params = rowTypes.map((type, index) => `$${row * rowTypes.length + index + 1}::${type}`);
    return `(${numbered ? `${row}, ` : ""}${params.join(", ")})`;
  }).join(", ");
}

/**
 * `rows` saves with the single statements' compare-and-set: revision 1 as `INSERT ... ON CONFLICT
 * DO NOTHING`, a later one as `UPDATE ... WHERE revision = n - 1`. Returns the ordinal `n` of each
 * save it stored; one it does not return was refused. Parameters: the single INSERT's twelve per save.
 */
export function batchSaveStatement(table: string, rows: number): string {
  const list = columns.join(", ");
  return (
    `WITH i (n, ${list}) AS (VALUES ${tuples(types, rows, true)}), ` +
    `ins AS (INSERT INTO ${table} (${list}) SELECT ${list} FROM i WHERE revision = 1 ON CONFLICT (instance_id, workflow_id) DO NOTHING RETURNING instance_id, workflow_id), ` +
    `upd AS (UPDATE ${table} AS s SET ${assigned} FROM i WHERE i.revision > 1 AND s.instance_id = i.instance_id AND s.workflow_id = i.workflow_id AND s.revision = i.revision - 1 RETURNING i.n) ` +
    "SELECT n FROM upd UNION ALL SELECT i.n FROM ins JOIN i USING (instance_id, workflow_id)"
  );
}

/** `rows` deletes, each of the instance's row and its delivered events. Parameters: the two keys per delete. */
export function batchDeleteStatement(table: string, mailbox: string, rows: number): string {
  const byKeys = (alias: string): string => `${alias}.instance_id = k.instance_id AND ${alias}.workflow_id = k.workflow_id`;
  return (
    `WITH k (instance_id, workflow_id) AS (VALUES ${tuples(["text", "text"], rows, false)}), ` +
    `events AS (DELETE FROM ${mailbox} AS m USING k WHERE ${byKeys("m")}) ` +
    `DELETE FROM ${table} AS t USING k WHERE ${byKeys("t")}`
  );
}
