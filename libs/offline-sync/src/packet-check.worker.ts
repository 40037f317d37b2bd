/**
 * The worker-thread script of the packet-check pool (`PacketCheckPool`): `checkPackets` on a
 * chunk of a batch. It imports only the pure check and what it uses.
 */
import { serveWorkerTasks } from '@app/common/workers/serve-worker-tasks';
import { checkPackets, PacketCheck } from './domain/packet-check';
import type { SignedPacket } from './domain/attendance-packet';

export interface PacketCheckTask {
  packets: SignedPacket[];
  secret: Uint8Array;
}

serveWorkerTasks<PacketCheckTask, PacketCheck[]>(({ packets, secret }) =>
  checkPackets(packets, secret),
);
