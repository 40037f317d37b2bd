/**
 * The packet checks' worker as it answered before `perfs` (issue 17): the packets in by
 * structured clone, one `PacketCheck` object per packet back. The baseline of
 * `packet-checks.bench.ts`; not used by the API.
 */
import { serveWorkerTasks } from '@app/common/workers/serve-worker-tasks';
import { checkPackets, PacketCheck } from '@app/offline-sync/domain/packet-check';
import type { SignedPacket } from '@app/offline-sync/domain/attendance-packet';

serveWorkerTasks<{ packets: SignedPacket[]; secret: Uint8Array }, PacketCheck[]>(
  ({ packets, secret }) => checkPackets(packets, secret),
);
