/**
 * The worker-thread script of the packet-check pool (`PacketCheckPool`): `checkPackets` on a
 * chunk of a batch, parsed from the request's body when it comes as bytes. It imports only the
 * pure check and what it uses.
 */
import { serveWorkerTasks } from '@app/common/workers/serve-worker-tasks';
import { checkPackets, PacketCheck, packetsOfBody } from './domain/packet-check';
import type { SignedPacket } from './domain/attendance-packet';

/**
 * A chunk of a batch: its packets (cloned into the message), or where they are in the
 * request's body (its UTF-8 bytes, shared, not copied: `packetsOfBody`).
 */
export type PacketCheckTask = { secret: Uint8Array } & (
  { packets: SignedPacket[] } | { body: SharedArrayBuffer; from: number; to: number }
);

serveWorkerTasks<PacketCheckTask, PacketCheck[]>((task) =>
  checkPackets(
    'packets' in task ? task.packets : packetsOfBody(new Uint8Array(task.body), task.from, task.to),
    task.secret,
  ),
);
