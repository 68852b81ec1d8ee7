import { parseArgs } from "node:util";
import type { SnapshotKeys } from "../persistence/errors.js";
import { parseDuration, type Duration } from "./duration.js";
import { CliError, usageError } from "./errors.js";
import { uiFlags, uiOptions, type UiOptions } from "../inspector/options.js";
import { eventToSend, type EventToSend } from "./event-args.js";
import { keysFrom } from "./key-args.js";
import { parseSelection, type Selection } from "./selection.js";
import { requirePostgresUrl } from "./store-parts.js";

export type { Selection } from "./selection.js";

/** Where the snapshots are, with the provider options that name the table or the keys. */
export type StoreSpec =
  | { readonly kind: "dir"; readonly path: string }
  | { readonly kind: "sqlite"; readonly file: string; readonly options: { readonly tableName?: string } }
  | { readonly kind: "postgres"; readonly url: string; readonly options: { readonly tableName?: string; readonly schema?: string } }
  | { readonly kind: "redis"; readonly url: string; readonly options: { readonly keyPrefix?: string } }
  /** A user's module exporting `createProvider()`: a path (against the working directory) or a package name. */
  | { readonly kind: "provider"; readonly module: string };

export const commandNames = ["list", "show", "delete", "prune", "signal", "cancel", "ui"] as const;
export type CommandName = (typeof commandNames)[number];

/** What every store command has: the store, how long to wait for it, and the output format. */
export interface StoreAccess {
  readonly store: StoreSpec;
  /** The longest wait for the store to connect, and for each request after that. */
  readonly timeout: Duration;
  readonly json: boolean;
}

export type Command =
  | { readonly kind: "help"; readonly topic?: CommandName }
  | { readonly kind: "version" }
  | ({ readonly kind: "list"; readonly selection: Selection } & StoreAccess)
  | ({ readonly kind: "show"; readonly keys: SnapshotKeys } & StoreAccess)
  | ({ readonly kind: "delete"; readonly keys: SnapshotKeys; readonly force: boolean } & StoreAccess)
  | ({ readonly kind: "prune"; readonly selection: Selection; readonly dryRun: boolean } & StoreAccess)
  | ({ readonly kind: "signal"; readonly keys: SnapshotKeys; readonly event: EventToSend } & StoreAccess)
  | ({ readonly kind: "cancel"; readonly keys: SnapshotKeys; readonly compensate: boolean } & StoreAccess)
  | ({ readonly kind: "ui"; readonly ui: UiOptions } & StoreAccess);

/** How long a store may take to connect or to answer a request when --timeout is not given. */
export const defaultTimeout: Duration = { text: "10s", ms: 10_000 };
// A timer longer than 2^31 - 1 ms fires at once; a day is already far past any sane wait.
const maxTimeoutMs = 86_400_000;

const options = {
  dir: { type: "string" },
  sqlite: { type: "string" },
  postgres: { type: "string" },
  redis: { type: "string" },
  provider: { type: "string" },
  "table-name": { type: "string" },
  schema: { type: "string" },
  "key-prefix": { type: "string" },
  status: { type: "string", multiple: true },
  workflow: { type: "string" },
  "older-than": { type: "string" },
  timeout: { type: "string" },
  "dry-run": { type: "boolean" },
  force: { type: "boolean" },
  payload: { type: "string" },
  "event-id": { type: "string" },
  compensate: { type: "boolean" },
  "json-keys": { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  ...uiFlags,
} as const;

type Flag = keyof typeof options;
type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true; strict: true }>>["values"];

const storeFlags = ["dir", "sqlite", "postgres", "redis", "provider"] as const;
// Flags that only make sense for some commands or stores; anything else given there is refused,
// so that a misplaced flag never silently does nothing.
const commandFlags: Record<CommandName, readonly Flag[]> = {
  list: ["status", "workflow", "older-than", "json"],
  show: ["json-keys", "json"],
  delete: ["force", "json-keys", "json"],
  prune: ["status", "workflow", "older-than", "dry-run", "json"],
  signal: ["payload", "event-id", "json-keys", "json"],
  cancel: ["compensate", "json-keys", "json"],
  // The inspector prints its address; its answers are JSON already (its /api).
  ui: ["port", "host", "allow-actions", "unsafe-expose", "max-attempts"],
};
const storeOptionFlags: Partial<Record<Flag, readonly (typeof storeFlags)[number][]>> = {
  "table-name": ["sqlite", "postgres"],
  schema: ["postgres"],
  "key-prefix": ["redis"],
};
const commandSpecificFlags: ReadonlySet<Flag> = new Set(Object.values(commandFlags).flat());
const keyNames = ["instanceId", "workflowKey"];
const positionalNames: Record<CommandName, readonly string[]> = { list: [], show: keyNames, delete: keyNames, prune: [], signal: [...keyNames, "event"], cancel: keyNames, ui: [] };

const commandList = (last: "or" | "and"): string => `${commandNames.slice(0, -1).join(", ")} ${last} ${commandNames.at(-1) ?? ""}`;
const isCommandName = (word: string | undefined): word is CommandName => (commandNames as readonly (string | undefined)[]).includes(word);

/** Turns the arguments after the program name into a command. Throws a usage `CliError` when they make no sense. */
export function parseCommand(argv: readonly string[]): Command {
  if (argv.length === 0) return { kind: "help" };
  const tokens = tokenize(argv);
  try {
    return commandOf(tokens);
  } catch (error) {
    throw error instanceof CliError && error.code === "USAGE" ? withOptionAfterDashes(error, tokens.afterDashes) : error;
  }
}

function commandOf({ values, positionals, given }: Tokens): Command {
  const [first, ...rest] = positionals;
  if (values.help === true || first === "help") return helpFor(first === "help" ? rest[0] : first);
  if (values.version === true) return { kind: "version" };
  if (first === undefined) throw usageError(`no command given: use ${commandList("or")}`);
  if (!isCommandName(first)) throw usageError(`unknown command "${first}": use ${commandList("or")}`);
  checkFlags(first, given);
  const words = checkPositionals(first, rest);
  const keys = (): SnapshotKeys => keysFrom(first, words, values["json-keys"] === true);
  const base: StoreAccess = { store: storeSpec(first, values, given), timeout: timeout(first, values.timeout), json: values.json === true };
  switch (first) {
    case "list":
      return { kind: "list", ...base, selection: parseSelection(first, values) };
    case "show":
      return { kind: "show", ...base, keys: keys() };
    case "delete":
      return { kind: "delete", ...base, keys: keys(), force: values.force === true };
    case "prune":
      if (values["older-than"] === undefined) throw usageError("prune needs --older-than <duration>, e.g. --older-than 7d", first);
      return { kind: "prune", ...base, selection: parseSelection(first, values), dryRun: values["dry-run"] === true };
    case "signal":
      return { kind: "signal", ...base, keys: nonBlank(first, keys()), event: eventToSend(words[2] ?? "", values.payload, values["event-id"]) };
    case "cancel":
      return { kind: "cancel", ...base, keys: nonBlank(first, keys()), compensate: values.compensate === true };
    case "ui":
      return { kind: "ui", ...base, ui: uiOptions(values) };
  }
}

interface Tokens {
  readonly values: Values;
  readonly positionals: string[];
  readonly given: Flag[];
  /** The positionals after "--", which parseArgs takes as they are, options' names too. */
  readonly afterDashes: string[];
}

// parseArgs in strict mode, plus every flag in the order given (values keep only the last of a repeated one).
function tokenize(argv: readonly string[]): Tokens {
  try {
    const { values, positionals, tokens } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true, tokens: true });
    const given = tokens.flatMap((token) => (token.kind === "option" ? [token.name] : []));
    const dashes = tokens.findIndex((token) => token.kind === "option-terminator");
    const afterDashes = dashes === -1 ? [] : tokens.slice(dashes).flatMap((token) => (token.kind === "positional" ? [token.value] : []));
    return { values, positionals, given, afterDashes };
  } catch (error) {
    if (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS")) {
      throw usageError(parseArgsMessage(error.code as string, error.message), firstCommand(argv));
    }
    throw error;
  }
}

// Node's message for an unknown option runs on about positionals; the option's name is what helps.
function parseArgsMessage(code: string, message: string): string {
  const option = /'(-[^' ]*)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && option !== undefined) return `unknown option ${option} (a key that starts with "-" goes after "--")`;
  return message.charAt(0).toLowerCase() + message.slice(1);
}

// `show -- -x K --sqlite a.db` reads --sqlite as an argument: a usage error then says where options go.
function withOptionAfterDashes(error: CliError, afterDashes: readonly string[]): CliError {
  const option = afterDashes.find((word) => Object.hasOwn(options, word === "-h" ? "help" : (/^--([^=]+)/.exec(word)?.[1] ?? "")));
  if (option === undefined) return error;
  return usageError(`${error.message}; options go before "--" (after it, "${option}" is an argument, not an option)`, error.command);
}

const firstCommand = (argv: readonly string[]): CommandName | undefined => argv.find(isCommandName);

function helpFor(topic: string | undefined): Command {
  if (topic === undefined) return { kind: "help" };
  if (!isCommandName(topic)) throw usageError(`no help for "${topic}": the commands are ${commandList("and")}`);
  return { kind: "help", topic };
}

function checkFlags(command: CommandName, given: readonly Flag[]): void {
  for (const flag of given) {
    if (commandSpecificFlags.has(flag) && !commandFlags[command].includes(flag)) {
      const users = commandNames.filter((name) => commandFlags[name].includes(flag));
      throw usageError(`--${flag} does not apply to ${command} (only to ${users.join(" and ")})`, command);
    }
    if (flag !== "status" && given.indexOf(flag) !== given.lastIndexOf(flag)) throw usageError(`--${flag} is given more than once`, command);
  }
}

function checkPositionals(command: CommandName, words: readonly string[]): readonly string[] {
  const names = positionalNames[command];
  if (words.length < names.length) {
    const missing = names.slice(words.length).map((name) => `<${name}>`).join(" ");
    throw usageError(`${command} needs ${names.map((name) => `<${name}>`).join(" ")}; missing ${missing}`, command);
  }
  if (words.length > names.length) throw usageError(`unexpected argument "${words[names.length]}" for ${command}`, command);
  return words;
}

// signalInstance and cancelInstance refuse blank keys (a TypeError); said here as the usage error it is.
function nonBlank(command: CommandName, keys: SnapshotKeys): SnapshotKeys {
  for (const [name, key] of [["instanceId", keys.foundryExecutionId], ["workflowKey", keys.workflowId]] as const) {
    if (key.trim() === "") throw usageError(`${command} needs a non-blank <${name}>`, command);
  }
  return keys;
}

function storeSpec(command: CommandName, values: Values, given: readonly Flag[]): StoreSpec {
  const chosen = storeFlags.filter((flag) => values[flag] !== undefined);
  if (chosen.length === 0) throw usageError(`${command} needs a store: pass one of --dir, --sqlite, --postgres, --redis or --provider`, command);
  if (chosen.length > 1) throw usageError(`pass exactly one store, not ${chosen.map((flag) => `--${flag}`).join(" and ")}`, command);
  const kind = chosen[0] as (typeof storeFlags)[number];
  for (const flag of given) {
    const stores = storeOptionFlags[flag];
    if (stores !== undefined && !stores.includes(kind)) throw usageError(`--${flag} applies to ${stores.map((s) => `--${s}`).join(" and ")}, not --${kind}`, command);
  }
  const location = values[kind] as string;
  if (location === "") throw usageError(`--${kind} needs a non-empty value`, command);
  switch (kind) {
    case "dir":
      return { kind, path: location };
    case "sqlite":
      return { kind, file: location, options: optional("tableName", values["table-name"]) };
    case "postgres":
      return { kind, url: requirePostgresUrl(location, command), options: { ...optional("tableName", values["table-name"]), ...optional("schema", values.schema) } };
    case "redis":
      return { kind, url: location, options: optional("keyPrefix", values["key-prefix"]) };
    case "provider":
      return { kind, module: location };
  }
}

// exactOptionalPropertyTypes: a flag not given must be an absent key, not a key holding undefined.
function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

function timeout(command: CommandName, text: string | undefined): Duration {
  if (text === undefined) return defaultTimeout;
  const ms = parseDuration(text);
  if (ms === undefined || ms === 0 || ms > maxTimeoutMs) throw usageError(`--timeout "${text}" is not a duration from 1ms to 1d: use a whole number and a unit (ms, s, m, h), e.g. 500ms, 30s, 2m`, command);
  return { text: text.trim(), ms };
}
