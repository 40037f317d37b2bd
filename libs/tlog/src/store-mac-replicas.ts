import { Injectable } from '@nestjs/common';
import { REPLICA_LIVE_BEATS, ReplicaRegistry, ReplicaView } from './replica-registry';
import { StoreMac } from './store-mac';

/** A server counts as live for this many of its heartbeats after its last one. */
export const STORE_MAC_LIVE_BEATS = REPLICA_LIVE_BEATS;

/** A recorded server under a store-MAC key, and whether it is live at the time asked. */
export interface StoreMacReplicaView extends Omit<ReplicaView, 'holds'> {
  /** The id of the store-MAC key it tags under (16 hex digits). */
  kid: string;
  live: boolean;
  self: boolean;
}

/**
 * The store-MAC side of the replica registry: this server records the id of the store-MAC key
 * it tags under (STORE_MAC_KEY's kid, never the key); `npm run keys:retag` reads which other
 * live servers tag under another key (they would keep writing rows under a key about to be
 * dropped) and /health admin `keys.storeMacReplicas` shows them.
 */
@Injectable()
export class StoreMacReplicas {
  constructor(
    private readonly registry: ReplicaRegistry,
    private readonly mac: StoreMac,
  ) {
    registry.contribute(() => ({ storeMacKid: mac.kid }));
  }

  get replicaId(): string {
    return this.registry.replicaId;
  }

  /** Stops this server's heartbeat (the whole registry's: one row per server). */
  async stop(): Promise<void> {
    await this.registry.stop();
  }

  /** Every recorded server with a store-MAC key, marked live or not at `now`, and self. */
  async list(now = new Date()): Promise<StoreMacReplicaView[]> {
    const views: StoreMacReplicaView[] = [];
    for (const { holds, ...r } of await this.registry.list(now)) {
      if (holds.storeMacKid) views.push({ ...r, kid: holds.storeMacKid });
    }
    return views;
  }

  /** The other live servers that tag under a key other than `kid` (this one's by default). */
  async liveOnOtherKeys(kid = this.mac.kid, now = new Date()): Promise<StoreMacReplicaView[]> {
    return (await this.list(now)).filter((r) => r.live && !r.self && r.kid !== kid);
  }
}
