import { usageError } from "./errors.js";

/** What `signal` sends: the event's name, its payload and, when given, its id. */
export interface EventToSend {
  readonly name: string;
  /** The parsed `--payload`; undefined when the flag is not given. */
  readonly payload: unknown;
  /** `--event-id`; without it the event gets a random UUID, so a repeated command sends the event again. */
  readonly eventId?: string;
}

/** The event of `signal <instanceId> <workflowKey> <event> [--payload <json>] [--event-id <id>]`. */
export function eventToSend(name: string, payload: string | undefined, eventId: string | undefined): EventToSend {
  if (name.trim() === "") throw usageError("signal needs a non-empty <event>: the name the workflow's waitForEvent waits for", "signal");
  if (eventId?.trim() === "") throw usageError("--event-id needs a non-blank value", "signal");
  return { name, payload: payload === undefined ? undefined : parsePayload(payload), ...(eventId === undefined ? {} : { eventId }) };
}

/** `--payload` as JSON. Throws a usage `CliError` naming the flag and where the JSON went wrong. */
export function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof SyntaxError ? error.message : String(error);
    throw usageError(`--payload is not valid JSON (${reason}); quote it for the shell, e.g. --payload '{"by":"ann"}'`, "signal");
  }
}
