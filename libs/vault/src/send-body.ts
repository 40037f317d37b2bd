import { ServerResponse } from 'node:http';
import { releaseBuffers } from './domain/release-buffers';

/** Plaintext given to the socket at once: one corked batch, one `writev`, of about this much. */
export const SEND_BATCH_BYTES = 1024 * 1024;

/**
 * Sends a read's body on `response` (status and headers set): its parts are written in batches
 * of about SEND_BATCH_BYTES, each corked so that the socket gets one `writev` for it, and the
 * next batch is taken from `body` only once the socket drained (a slow client keeps at most one
 * batch beyond what the kernel took). A body that throws (a chunk failing authentication)
 * destroys the response: the client sees a cut transfer (fewer bytes than content-length), never
 * unauthenticated bytes. A body not read to its end (the client left, or it threw) gets
 * `return()`, which gives back what it holds; a part taken but not written is wiped.
 *
 * The body's parts are the read's own plaintext (a decipher's output, no other view of it):
 * a batch's parts are freed (`releaseBuffers`) once the socket is done with them (its last
 * write's callback: a stream calls them in order, after the bytes left, or with an error once
 * it no longer holds them), not left for the garbage collector to find. A 32 MiB read added
 * 32 MiB to V8's external memory that stayed counted until a scavenge, and the next read's on
 * top started a full collection a read (docs/benchmarks.md, vaultstream).
 */
export async function sendBody(
  body: AsyncIterator<Buffer>,
  response: ServerResponse,
): Promise<void> {
  let ended = false;
  // the socket's errors end the response (no 'error' left unheard, as `pipeline` did)
  const fail = () => response.destroy();
  response.on('error', fail);
  try {
    while (!response.destroyed) {
      let batched = 0;
      // the batch's parts; the last is written once the batch ends, with the callback that
      // frees them all
      const parts: Buffer[] = [];
      response.cork();
      try {
        while (batched < SEND_BATCH_BYTES) {
          const next = await body.next();
          if (next.done) {
            ended = true;
            break;
          }
          if (response.destroyed) {
            next.value.fill(0);
            break;
          }
          // an empty part (an empty file's) puts nothing on the wire: not written
          if (next.value.length === 0) continue;
          if (parts.length > 0) response.write(parts[parts.length - 1]);
          parts.push(next.value);
          batched += next.value.length;
        }
      } finally {
        const last = parts[parts.length - 1];
        if (last && response.destroyed) last.fill(0);
        else if (last) response.write(last, () => releaseBuffers(parts));
        response.uncork();
      }
      if (ended) {
        response.end();
        return;
      }
      if (response.writableNeedDrain) await drainedOrClosed(response);
    }
  } catch {
    response.destroy();
  } finally {
    response.off('error', fail);
    if (!ended) await body.return?.().catch(() => undefined);
  }
}

function drainedOrClosed(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}
