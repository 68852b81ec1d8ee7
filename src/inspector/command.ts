import type { Output } from "../cli/commands.js";
import { CliError, describeCause } from "../cli/errors.js";
import type { OpenStore } from "../cli/stores.js";
import type { UiOptions } from "./options.js";
import { startInspector, type Inspector } from "./server.js";

/**
 * `ui`: serves the inspector until SIGINT or SIGTERM, then aborts the reads in flight, stops
 * listening, waits for the actions in flight, closes the store and resolves with 0.
 */
export async function uiCommand(store: OpenStore, options: UiOptions, stdout: Output): Promise<number> {
  const inspector = await startInspector(store, options).catch((error: unknown) => {
    const where = `${options.host.includes(":") ? `[${options.host}]` : options.host}:${options.port}`;
    const hint = (error as { code?: unknown }).code === "EADDRINUSE" ? "; another process listens there: pass another --port, or --port 0 for a free one" : "";
    throw new CliError("REFUSED", `cannot listen on ${where}: ${describeCause(error)}${hint}`, { cause: error });
  });
  const mode = options.allowActions ? "actions allowed (delete, retry a dead letter, cancel, send an event)" : "read-only (pass --allow-actions to delete, retry, cancel or send events)";
  stdout.write(`Inspecting ${store.label}\n${mode}\nOpen ${inspector.url}\nPress Ctrl+C to stop.\n`);
  await new Promise<void>((stop) => {
    const stopped = (): void => {
      process.off("SIGINT", stopped);
      process.off("SIGTERM", stopped);
      stop();
    };
    process.once("SIGINT", stopped);
    process.once("SIGTERM", stopped);
  });
  await stopping(store, inspector);
  return 0;
}

// How long a close may take before the user, who pressed Ctrl+C, is told what it waits for.
const closeNoticeMs = 500;

// Stops the inspector, then closes the store. An action in flight (a delete between its claim and
// the delete) is waited for, within its --timeout. Every shipped store closes at once, its calls in
// flight cut; a --provider module's closeProvider may still wait (for calls that ignore their
// signal, or a server). Said on stderr, or Ctrl+C would look ignored; it gives up after --timeout,
// which is said too. Closed here rather than by the CLI after it, which closes it again to no
// effect, so that the wait can be named.
async function stopping(store: OpenStore, inspector: Inspector): Promise<void> {
  const notice = setTimeout(() => void process.stderr.write(`workflowforge ui: stopping; waiting for the actions in flight and for ${store.label} to close (at most --timeout each)\n`), closeNoticeMs);
  try {
    await inspector.close();
    await store.close();
  } catch (error) {
    process.stderr.write(`workflowforge ui: ${describeCause(error)}\n`);
  } finally {
    clearTimeout(notice);
  }
}
