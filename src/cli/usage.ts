import type { CommandName } from "./args.js";
import { cancelHelp, signalHelp } from "./usage-waits.js";

// Every command that takes <instanceId> <workflowKey>: show, delete, signal, cancel.
const jsonKeys = `  --json-keys              read <instanceId> and <workflowKey> as JSON strings, so that a
                           key list prints in double quotes (one no command line can carry,
                           such as "bad\\ud800") is named as printed: '"bad\\ud800"' '"W"'`;

const stores = `Store (exactly one):
  --dir <path>             a FilePersistenceProvider directory
  --sqlite <file>          a SQLite database file (needs: npm install better-sqlite3)
  --postgres <url>         a PostgreSQL URL, postgres://... (needs: npm install pg)
  --redis <url>            a Redis URL (needs: npm install ioredis, or redis)
  --provider <module>      your own provider: a module (a path such as ./store.mjs, or a
                           package name, ESM or CommonJS) that exports createProvider()
                           (may be async) and, optionally, closeProvider(provider);
                           list and prune need a provider that declares capabilities.list
  --table-name <name>      table, with --sqlite or --postgres   [default: workflowforge_snapshots]
  --schema <name>          schema, with --postgres              [default: first on the search_path]
  --key-prefix <prefix>    key prefix, with --redis             [default: "workflowforge:"]
  --timeout <duration>     longest wait to connect or per request [default: 10s]
                           before exit 1: 500ms, 30s, 2m`;

const filters = `Filters (all given must match):
  --status <status>        running, failed, compensating, completed, waiting or
                           cancelled; repeat the flag or separate with commas
  --workflow <name|key>    the workflow's name or its workflow key
  --older-than <duration>  not updated for at least this long: 30s, 15m, 2h, 7d, 2w`;

const claims = `A snapshot is claimed while its owner holds a live lease on it (leaseExpiresAt still ahead)
and it is not completed: its worker may still be running, undoing, retrying or waking it. A
completed one, or one whose lease expired or was released (a dead letter's, a waiting one's),
is not claimed.`;

const stale = `A running or compensating snapshot is shown as stale when no process works on it any more:
its lease expired, or its owner (the default owner, process-<host>-<pid>-<uuid>) was a
process on this host that has exited. A worker's recovery coordinator (resumeAll) takes it
over. Another host's processes are never judged from here.

A waiting snapshot (suspended at a sleep or an event wait) is never stale, however long it
waits. It is shown as overdue when its wake time passed more than 5m ago and no worker holds
it: no recovery coordinator runs on the store, or none keeps up. An event wait without a
timeout has no wake time, and is never overdue.`;

const overview = `workflowforge - inspect and clean up stored workflow snapshots

Every workflow run under usePersistence leaves a snapshot in its store until it completes.
This tool lists them, shows one decoded, deletes the ones you no longer want, sends events
to waiting instances and cancels them.

Usage:
  workflowforge <command> [arguments] <store> [options]

Commands:
  list                                 list snapshots, oldest first
  show <instanceId> <workflowKey>      print one snapshot: header, error, properties, outputs
  delete <instanceId> <workflowKey>    delete one snapshot
  prune --older-than <duration>        delete every snapshot not updated for that long
  signal <instanceId> <workflowKey> <event>
                                       send an event to an instance (waitForEvent)
  cancel <instanceId> <workflowKey>    cancel a waiting, failed or running instance
  ui                                   serve the inspector, a web page, on 127.0.0.1:4380
  help [command]                       show help for a command

${stores}

Options:
  --json                   print JSON on stdout, for scripts
${jsonKeys}
  -h, --help               show help
  --version                print the version

Examples:
  workflowforge list --dir ./snapshots
  workflowforge list --sqlite app.db --status failed --older-than 1h
  workflowforge show order-42 ProcessOrder-v1 --postgres postgres://app@127.0.0.1:5432/app
  workflowforge prune --redis redis://127.0.0.1:6379 --older-than 7d --status completed --dry-run
  workflowforge list --provider ./orders-store.mjs --status running
  workflowforge list --dir ./snapshots --status waiting
  workflowforge signal expense-7 Expense-v1 approved --payload '{"by":"ann"}' --sqlite app.db
  workflowforge ui --sqlite app.db

A provider module, for --provider:
  // orders-store.mjs
  import { OrdersStore } from "./orders-store-provider.js";
  export async function createProvider() { return new OrdersStore(process.env.ORDERS_DB_URL); }
  export async function closeProvider(provider) { await provider.close(); }

Exit status: 0 done, 1 store or snapshot problem (unreachable, no answer within --timeout,
not found, driver missing, a record that cannot be read), 2 bad arguments.
Run "workflowforge help <command>" for details.
`;

const topics: Record<CommandName, string> = {
  list: `Usage: workflowforge list <store> [filters] [--json]

Lists the stored snapshots, oldest first: keys, workflow, status, progress (operations done
of all), revision, recovery attempts, age and error, and for a waiting one what it waits
for: the event, and until when (a sleep's end or the event's timeout). A "failed" snapshot
with attempts has been retried by a recovery coordinator; once attempts reach its limit it
is a dead letter: failed, its lease released. A record that cannot be read is left out and
named on stderr, and the command then exits 1. With --dir, entries that are not records
(other files, folders) are counted and a few named on stderr; they do not change the exit
status.

${stale}

${filters}

--json prints an array of { instance, workflowKey, workflowName, version, status, state,
stateReason, nextOperationIndex, operationCount, revision, owner, leaseExpiresAt, attempts,
error, waitingFor, wakeAt, cancelledAt, createdAt, updatedAt }; absent fields are null,
absent attempts 0. state is "stale", "overdue", "claimed" (a live lease: delete and prune
leave it alone) or null; stateReason says why.

${stores}

Examples:
  workflowforge list --dir ./snapshots
  workflowforge list --postgres "$DATABASE_URL" --status failed,compensating --workflow ProcessOrder
  workflowforge list --sqlite app.db --older-than 2h --json | jq '.[].instance'
  workflowforge list --provider ./orders-store.mjs --json | jq '.[] | select(.state == "stale")'
  workflowforge list --dir ./snapshots --status waiting --json | jq '.[] | [.instance, .waitingFor, .wakeAt]'
`,
  show: `Usage: workflowforge show <instanceId> <workflowKey> <store> [--json-keys] [--json]

Prints one snapshot decoded: the header fields (with, when stored, what it waits for, its
wake time, the events it consumed and when it was cancelled), the stored error, the
properties, the last output and the restore outputs, with Maps, Sets, Dates and BigInts shown as such.
<instanceId> and <workflowKey> are the two keys usePersistence saved it under (its
instanceId and workflowKey options); "workflowforge list" shows them. A key that starts
with "-" goes after "--", and the store and every option before it: whatever follows "--"
is read as a key (see the last example).

--json prints the snapshot as JSON: Dates become ISO strings, BigInts decimal strings,
Maps arrays of [key, value], Sets and typed arrays arrays, undefined null.
Exits 1 when nothing is stored under the keys. A stale snapshot's status says why it is stale
(not in --json, which prints the snapshot as stored).

${jsonKeys}

${stores}

Examples:
  workflowforge show order-42 ProcessOrder-v1 --dir ./snapshots
  workflowforge show order-42 ProcessOrder-v1 --redis redis://127.0.0.1:6379 --json
  workflowforge show --dir ./snapshots -- -odd-instance ProcessOrder-v1
  workflowforge show --dir ./snapshots --json-keys '"order 42"' '"ProcessOrder-v1"'
`,
  delete: `Usage: workflowforge delete <instanceId> <workflowKey> <store> [--force] [--json-keys]
                          [--json]

Deletes one snapshot. The instance then starts from its first operation the next time it
runs. Refuses when it is claimed (a process may be working on it right now), or running
without a lease in a process on this host that is still alive, or when the stored record
cannot be read (so its claim cannot be checked), unless --force is given. Only the default
owner names its process: a run given its own owner and no lease is deleted (give it a lease).
Exits 1 when nothing is stored under the keys (with --force, removes what is kept for them
all the same: events delivered to them, which a later instance of those keys would receive).
Just before deleting, it claims the record as "workflowforge-cli" for 30s (its next revision,
by compare-and-set), so that a worker's later save is refused; a record saved again since it
was read is not deleted, and the command exits 1. One deleted since it was read counts as
nothing stored.

${claims}

  --force                  delete even when it is claimed or its process is alive, or when the
                           record cannot be read
${jsonKeys}
  --json                   print { deleted, instance, workflowKey }

${stores}

Example:
  workflowforge delete order-42 ProcessOrder-v1 --sqlite app.db
`,
  prune: `Usage: workflowforge prune --older-than <duration> <store> [filters] [--dry-run] [--json]

Deletes every snapshot not updated for <duration> that matches the filters, and prints how
many it deleted. Claimed snapshots (a process may be working on them) are skipped, as are
running ones saved without a lease by a process on this host that is still alive (named by
the default owner: one given its own owner and no lease is deleted), and so
is one saved again since it was listed (each is claimed, as delete does, before it is
deleted, so a save racing the delete is refused rather than lost). Waiting snapshots (suspended at a durable wait,
which may last weeks) are skipped too unless --status names waiting; those are deleted as
listed, without a claim first (one would clear an event's wake-up mark), so one woken since
it was listed is deleted all the same. A record that cannot
be read is left alone and named on stderr, and the command then exits 1.

${claims}

${filters}
  --dry-run                list what would be deleted; delete nothing
  --json                   print { dryRun, matched, deleted, wouldDelete, skipped, items };
                           an item's outcome is deleted, would-delete, skipped-live-lease,
                           skipped-live-owner, skipped-waiting, skipped-changed or gone

${stores}

Examples:
  workflowforge prune --dir ./snapshots --older-than 30d --dry-run
  workflowforge prune --postgres "$DATABASE_URL" --older-than 7d --status completed,failed
`,
  signal: signalHelp(stores, jsonKeys),
  cancel: cancelHelp(stores, jsonKeys),
  ui: `Usage: workflowforge ui <store> [--port <port>] [--host <address>] [--allow-actions]

Serves the inspector: a local web page listing the snapshots (status, progress, owner, lease,
attempts; filter and search), each instance's steps, decoded properties and error, and the dead
letters grouped by error. It refreshes itself every few seconds. Stop it with Ctrl+C.

Read-only by default: the server refuses every action with 403. With --allow-actions the page
can delete a snapshot (refused while a process holds a live claim on it, as delete is), retry
a dead letter (its attempts back to 0, for a recovery coordinator to resume it), cancel an
instance (as cancel does, with or without compensation) and send an event to one (as signal
does).

  --port <port>            the port; 0 picks a free one           [default: 4380]
  --host <address>         the address to listen on               [default: 127.0.0.1]
                           anything but a loopback address is refused without --unsafe-expose
  --unsafe-expose          listen on a non-loopback --host: whoever reaches it sees every
                           stored property (and acts, with --allow-actions)
  --allow-actions          carry out delete, retry, cancel and send event
  --max-attempts <n>       the coordinator's retry.attempts: a failed record with this many
                           attempts is a dead letter                [default: 3]

${stores}

Examples:
  workflowforge ui --sqlite app.db
  workflowforge ui --postgres "$DATABASE_URL" --port 0 --allow-actions
`,
};

/** The help text: the overview, or one command's page. */
export function usage(topic?: CommandName): string {
  return topic === undefined ? overview : topics[topic];
}
