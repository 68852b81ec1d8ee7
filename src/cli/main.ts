#!/usr/bin/env node
import { runCli } from "./run.js";

// `workflowforge list ... | head` closes the pipe early: not an error worth a stack trace, nor the
// end of the command. What it writes to stdout is dropped from then on; what it says on stderr (the
// records it could not read) and its exit code still reach the caller.
// Any other failure to write it (a full disk behind `> out.json`) is said once on stderr, in one
// line like every failure, and the command exits 1 whatever it did: its output is incomplete.
let outputFailed = false;
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE" || (process.stdout.destroyed && error.code === "ERR_STREAM_DESTROYED")) return;
  if (!outputFailed) process.stderr.write(`workflowforge: cannot write the output: ${error.message} (what the command did in the store is done)\n`);
  outputFailed = true;
  process.exitCode = 1;
});

// Once the result is written, nothing may keep the process alive: not a socket to a server that
// stopped answering (the stores close theirs, but a driver may still hold one), nor a file-system
// call stuck on a dead network mount. The timer is unref'd, so it only fires when something else
// still holds the process; it waits for the output to drain before it exits.
const exitWhenStuck = (): void => {
  // A closed stdout keeps what was never written counted: nothing will drain it.
  const pending = (process.stdout.destroyed ? 0 : process.stdout.writableLength) + process.stderr.writableLength;
  if (pending > 0) setTimeout(exitWhenStuck, 100).unref();
  else process.exit();
};

// exitCode rather than exit(): pending writes to a pipe are flushed before the process ends.
void runCli(process.argv.slice(2), process).then((code) => {
  process.exitCode = outputFailed && code === 0 ? 1 : code;
  setTimeout(exitWhenStuck, 1_000).unref();
});
