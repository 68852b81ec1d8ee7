import { parseCommand, type Command } from "./args.js";
import { deleteCommand, listCommand, pruneCommand, showCommand, type CommandContext, type Output } from "./commands.js";
import { isWorkflowForgeError } from "../errors.js";
import { withConsoleOnStderr } from "./console-to-stderr.js";
import { CliError, describeCause, usageError } from "./errors.js";
import { visible } from "./format.js";
import { openStore, type StoreAccessMode } from "./stores.js";
import { cancelCommand, signalCommand } from "./wait-commands.js";
import { uiCommand } from "../inspector/command.js";
import { usage } from "./usage.js";
import { packageVersion } from "./version.js";

/** Where the CLI writes: the process's streams in `main`, buffers in tests. */
export interface CliIo {
  readonly stdout: Output;
  readonly stderr: Output;
}

type StoreCommand = Exclude<Command, { kind: "help" | "version" }>;

/**
 * Runs the CLI with `argv` (the arguments after the program name) and resolves with the exit
 * code: 0 done, 1 a store or snapshot problem, 2 bad arguments. Never rejects and never exits
 * the process; every failure is written to `io.stderr`.
 */
export async function runCli(argv: readonly string[], given: CliIo): Promise<number> {
  // Messages name what a store holds (keys, owners, errors): never raw escape sequences on a terminal.
  const io = { stdout: given.stdout, stderr: asText(given.stderr) };
  try {
    const command = parseCommand(argv);
    if (command.kind === "help") io.stdout.write(usage(command.topic));
    else if (command.kind === "version") io.stdout.write(`${await packageVersion()}\n`);
    else return await withConsoleOnStderr(io.stderr, () => withStore(command, io));
    return 0;
  } catch (error) {
    return report(error, io.stderr);
  }
}

// list, show and a dry run only read, and so does the inspector unless it may act.
function accessOf(command: StoreCommand): StoreAccessMode {
  if (command.kind === "prune") return command.dryRun ? "read" : "write";
  return command.kind === "list" || command.kind === "show" || (command.kind === "ui" && !command.ui.allowActions) ? "read" : "write";
}

async function withStore(command: StoreCommand, io: CliIo): Promise<number> {
  const store = await openStore(command.store, command.timeout, command.kind === "ui", accessOf(command)).catch((error: unknown) => {
    // A store value the driver could not parse: the usage hint points at this command's help.
    throw error instanceof CliError && error.code === "USAGE" && error.command === undefined ? usageError(error.message, command.kind) : error;
  });
  // --json prints JSON, which escapes what must be; text for a terminal goes through visible().
  const stdout = command.json ? io.stdout : asText(io.stdout);
  const context: CommandContext = { store, stdout, stderr: io.stderr, now: Date.now(), json: command.json };
  try {
    return await execute(command, context);
  } catch (error) {
    if (error instanceof CliError) throw error;
    // A payload the codec cannot store (nested too deep, say) is the command line's, not the store's.
    if (command.kind === "signal" && isWorkflowForgeError(error) && error.code === "SNAPSHOT_SERIALIZATION") throw usageError(`--payload cannot be stored: ${error.message}`, "signal");
    // The library's errors name the provider and the call, a driver's what failed (a provider
    // that lets one through); the label adds which store it was. One line either way.
    throw new CliError("STORE", `${store.label}: ${describeCause(error)}`, { cause: error });
  } finally {
    // A failing close must not hide the command's own outcome.
    await store.close().catch(() => undefined);
  }
}

function execute(command: StoreCommand, context: CommandContext): Promise<number> {
  switch (command.kind) {
    case "list":
      return listCommand(context, command.selection);
    case "show":
      return showCommand(context, command.keys);
    case "delete":
      return deleteCommand(context, command.keys, command.force);
    case "prune":
      return pruneCommand(context, command.selection, command.dryRun);
    case "signal":
      return signalCommand(context, command.keys, command.event);
    case "cancel":
      return cancelCommand(context, command.keys, command.compensate);
    case "ui":
      return uiCommand(context.store, command.ui, context.stdout);
  }
}

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, " ");

/** `output`, writing every control or format character escaped (line breaks kept): see {@link visible}. */
function asText(output: Output): Output {
  return { write: (chunk: string) => output.write(visible(chunk, true)) };
}

function report(error: unknown, stderr: Output): number {
  if (error instanceof CliError) {
    const hint = error.code === "USAGE" ? `\nRun "workflowforge ${error.command === undefined ? "--help" : `help ${error.command}`}" for usage.` : "";
    stderr.write(`workflowforge: ${oneLine(error.message)}${hint}\n`);
    return error.exitCode;
  }
  // Not one of ours: something unforeseen. Still one line; a stack trace helps no one reading a terminal.
  stderr.write(`workflowforge: unexpected error: ${oneLine(describeCause(error))}\n`);
  return 1;
}
