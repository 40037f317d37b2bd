/**
 * The worker-thread script of the packet-check pool (`PacketCheckPool`): `checkPackets` on a
 * chunk of a batch, answered packed (`packChecks`). It imports only the pure check and what it
 * uses.
 */
import { serveWorkerTasks } from '@app/common/workers/serve-worker-tasks';
import { checkPackets, packChecks, PacketCheckReply } from './domain/packet-check';
import type { SignedPacket } from './domain/attendance-packet';

/**
 * One chunk of a batch: its packets, or (a batch parsed from a request body) `text`, their items
 * as the body held them, comma-separated without brackets (`bodyItemsText`): parsed here, they
 * are the request thread's packets again (the same text, parsed the same way), and the request
 * thread posts one string instead of a structured clone of every packet.
 */
export type PacketCheckTask =
  { packets: SignedPacket[]; secret: Uint8Array } | { text: string; secret: Uint8Array };

serveWorkerTasks<PacketCheckTask, PacketCheckReply>((task) =>
  packChecks(
    checkPackets(
      'text' in task ? (JSON.parse(`[${task.text}]`) as SignedPacket[]) : task.packets,
      task.secret,
    ),
  ),
);
