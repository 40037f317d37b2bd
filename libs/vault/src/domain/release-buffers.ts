import { MessageChannel, MessagePort } from 'node:worker_threads';

/**
 * Buffers smaller than this are left to the garbage collector: the allocator's small sizes come
 * from Node's shared pool, and the few bytes (a blob's header, a tag) are not worth a call.
 */
const RELEASE_AT_LEAST = 4096;

/** A port whose other end is closed: a message posted on it is dropped, its transfers freed. */
let sink: MessagePort | undefined;

/**
 * Frees the memory of `buffers` now, each the whole of its ArrayBuffer (a chunk the HTTP parser
 * copied, the output of a cipher's `update`), instead of when the garbage collector finds them:
 * their ArrayBuffers are detached (transferred in a message nobody receives), so V8 subtracts
 * their bytes from its external memory at once. That count, grown by a request's ArrayBuffers
 * between two scavenges, is what V8's external-memory trigger and old-generation limit weigh: a
 * 32 MiB vault store (32 MiB of body chunks, then 32 MiB of ciphertext) or three overlapping
 * 16 MiB ones started a full mark-compact each (docs/benchmarks.md, vaultstream).
 *
 * Only for buffers the caller alone holds: every view of a detached ArrayBuffer reads as empty
 * from then on. A buffer that is a part of its ArrayBuffer (a view into a larger one, or one of
 * Node's pooled small buffers) or under 4 KiB is skipped: the collector frees those.
 */
export function releaseBuffers(buffers: readonly Buffer[]): void {
  let owned: ArrayBuffer[] | undefined;
  for (const buffer of buffers) {
    const whole = buffer.buffer;
    if (
      buffer.byteLength < RELEASE_AT_LEAST ||
      buffer.byteOffset !== 0 ||
      buffer.byteLength !== whole.byteLength ||
      !(whole instanceof ArrayBuffer)
    ) {
      continue;
    }
    if (owned?.includes(whole)) continue;
    (owned ??= []).push(whole);
  }
  if (!owned) return;
  if (!sink) {
    const channel = new MessageChannel();
    // both ends closed: a post is serialized into a message dropped at once, from the first
    // (with only the far end closed, the first posts queue until that close is processed)
    channel.port2.close();
    channel.port1.close();
    sink = channel.port1;
  }
  try {
    sink.postMessage(undefined, owned);
  } catch {
    // a buffer that cannot be transferred (a Node that refuses one) is left to the collector:
    // this runs in write callbacks, where a throw would end the process (review R18)
  }
}
