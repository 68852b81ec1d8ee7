// The help pages of signal and cancel, the commands for durable waits. `stores` is the store
// section every page ends with, `jsonKeys` the flag's lines (usage.ts).

export const signalHelp = (stores: string, jsonKeys: string): string => `Usage: workflowforge signal <instanceId> <workflowKey> <event> <store> [--payload <json>]
                          [--event-id <id>] [--json-keys] [--json]

Sends the event <event> to one instance, as coordinator.signal does: the wait for it
(waitForEvent) receives the payload. The event is stored even when the instance has not
reached its wait yet, or has no snapshot yet, and is consumed when it gets there; a waiting
instance is marked due, and a recovery coordinator resumes it. The store's provider must
keep events (capabilities.mailbox).

An event is delivered at most once per event id: a second signal with the same --event-id
changes nothing and says the event was already delivered (exit 0). Without --event-id the
event gets a new random id, so running the command twice sends it twice. When the store does
not answer in time, the message names the id to send it again with.

  --payload <json>         the event's payload, as JSON        [default: none (undefined)]
  --event-id <id>          the event's id: one id is delivered once  [default: a random UUID]
${jsonKeys}
  --json                   print { instance, workflowKey, event, eventId, stored, status,
                           waitingFor, unreadable } (stored false: already delivered; status
                           null: no snapshot yet, or unreadable says why it could not be read)

${stores}

Examples:
  workflowforge signal expense-7 Expense-v1 approved --sqlite app.db --payload '{"by":"ann"}'
  workflowforge signal order-42 ProcessOrder-v1 paid --postgres "$DATABASE_URL" --event-id pay-9317
`;

export const cancelHelp = (stores: string, jsonKeys: string): string => `Usage: workflowforge cancel <instanceId> <workflowKey> <store> [--compensate] [--json-keys]
                          [--json]

Cancels one instance, as coordinator.cancel does. A waiting or failed one never runs again:
its status becomes cancelled. A running one gets the same write, which makes its worker stop
at its next checkpoint. With --compensate the status becomes compensating instead: a recovery
coordinator undoes its completed steps, and it ends cancelled.

Cancelling a cancelled instance changes nothing (exit 0). Exits 1 when nothing is stored
under the keys, or when the instance already completed.

  --compensate             undo the completed steps (their restore) before it ends cancelled
${jsonKeys}
  --json                   print { instance, workflowKey, result, previousStatus }; result is
                           "cancelled", "compensating" or "finished" (already cancelled)

${stores}

Examples:
  workflowforge cancel expense-7 Expense-v1 --sqlite app.db
  workflowforge cancel order-42 ProcessOrder-v1 --redis redis://127.0.0.1:6379 --compensate
`;
