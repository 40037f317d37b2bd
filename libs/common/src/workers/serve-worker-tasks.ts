import { parentPort } from 'node:worker_threads';
import type { TaskMessage, TaskReply } from './worker-pool';

/**
 * The body of a `WorkerPool` script: answers each task with `handle(input)`. An exception is
 * sent back as the task's error (name, message, stack); the worker keeps serving. Import it
 * by its own path (`@app/common/workers/serve-worker-tasks`), not through `@app/common`, so
 * a worker loads only what it runs.
 */
export function serveWorkerTasks<In, Out>(handle: (input: In) => Out): void {
  const port = parentPort;
  if (!port) throw new Error('serveWorkerTasks runs inside a worker thread only');
  port.on('message', (message: TaskMessage<In>) => {
    let reply: TaskReply<Out>;
    try {
      reply = { id: message.id, ok: true, output: handle(message.input) };
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      reply = {
        id: message.id,
        ok: false,
        error: { name: e.name, message: e.message, stack: e.stack, code: codeOf(e) },
      };
    }
    port.postMessage(reply);
  });
}

/** A driver's error code (e.g. SQLite's `SQLITE_FULL`): what the caller maps the error by. */
function codeOf(error: Error): string | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
