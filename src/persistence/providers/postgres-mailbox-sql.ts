import { markedDue } from "./sql-query.js";

// The statements of PostgresPersistenceProvider's mailbox, and of the saves that read it.

// The event goes in unless its id is there (first write wins, also against a concurrent insert of
// the same id, which waits for the first to commit). The UPDATE locks the instance's row whatever
// its status, so that a save in flight commits first and is then re-read: a delivery that read the
// row as running just before a waiting save committed would otherwise mark nothing while the
// session's re-read of the mailbox ran before the event committed, and nobody would wake it.
// A row that is not waiting gets a note of the event's name instead, in its waiting_for column,
// which nothing reads on such a row and no index holds, and which its next save clears: a waiting
// save that waited for this statement's lock cannot see the event it stored, but sees the note
// (see waitingSave). The notification is sent only when a waiting row was marked, at commit.
export function deliverStatement(table: string, mailbox: string): string {
  const marks = "status = 'waiting' AND waiting_for = $4";
  return (
    `WITH stored AS (INSERT INTO ${mailbox} (instance_id, workflow_id, event_id, name, payload, sent_at) VALUES ($1, $2, $3, $4, $5, $6) ` +
    "ON CONFLICT (instance_id, workflow_id, event_id) DO NOTHING RETURNING 1), " +
    `marked AS (UPDATE ${table} SET wake_ms = CASE WHEN ${marks} THEN ${markedDue} ELSE wake_ms END, ` +
    `waiting_for = CASE WHEN status = 'waiting' OR strpos(COALESCE(waiting_for, ''), ${noteOf("$4")}) > 0 THEN waiting_for ELSE COALESCE(waiting_for, '') || ${noteOf("$4")} END ` +
    `WHERE instance_id = $1 AND workflow_id = $2 AND EXISTS (SELECT 1 FROM stored) RETURNING ${marks} AS due), ` +
    "told AS (SELECT pg_notify($7, '') FROM marked WHERE due) " +
    "SELECT (SELECT count(*) FROM stored)::int AS stored, (SELECT count(*) FROM marked)::int AS found, (SELECT count(*) FROM told)::int AS told"
  );
}

// For a delivery that stored its event but found no row: the row may have been inserted (a run's
// first save, waiting) after the delivery's statement began, and its run's re-read of the mailbox
// may have run before the event committed. This statement begins after that commit, so it sees
// such a row, or the run's re-read (after its save) sees the event.
export function markStatement(table: string): string {
  const marks = "status = 'waiting' AND waiting_for = $3";
  return (
    `WITH marked AS (UPDATE ${table} SET wake_ms = ${markedDue} WHERE instance_id = $1 AND workflow_id = $2 AND ${marks} RETURNING 1) ` +
    "SELECT (SELECT count(*) FROM marked)::int AS marked, (SELECT count(*) FROM (SELECT pg_notify($4, '') FROM marked) AS told)::int AS told"
  );
}

// A waiting save's statement: `base` (the insert or the update) with its wake_ms (the one `$12` in
// it) marked due when the mailbox holds an event of the awaited name ($11) whose id is not in the
// JSON array `consumed`. Such an event was delivered while the run ran or saved and found no row
// waiting to mark, and the run that saved may die before its re-read of the mailbox.
// - A delivery committed before this statement began is seen by the EXISTS.
// - One whose statement begins after this one committed marks the row itself (through
//   markStatement, for a row it found inserted).
// - One whose statement locked the row first, and committed while this one waited for it, is
//   invisible to the EXISTS (its snapshot is older), but the row this one then updates is the
//   delivery's, with the note of the event's name deliverStatement leaves on a row that was not
//   waiting (`row`: the updated table's name).
// - For the insert there is no row to wait for: a delivery running at the same moment as a run's
//   first save, when that save is the waiting one, is left to the run's re-read. So is one to a
//   row that was waiting already (a run a coordinator resumed at its wait, suspending again).
export function waitingSave(base: string, mailbox: string, consumed: string, row?: string): string {
  const held = `EXISTS (SELECT 1 FROM ${mailbox} WHERE instance_id = $1 AND workflow_id = $2 AND name = $11 AND event_id NOT IN (SELECT jsonb_array_elements_text(${consumed}::jsonb)))`;
  const noted = row === undefined ? "" : ` OR (${row}.status <> 'waiting' AND strpos(COALESCE(${row}.waiting_for, ''), ${noteOf("$11")}) > 0)`;
  return base.replace("$12", `CASE WHEN ${held}${noted} THEN ${markedDue} ELSE $12::bigint END`);
}

// One note on a row that is not waiting: the JSON of an event name delivered since its last save,
// between newlines, which JSON text never holds raw, so that one name's note is never found inside
// another's.
function noteOf(name: string): string {
  return `E'\\n' || to_json(${name}::text)::text || E'\\n'`;
}
