import { RelayRole } from '../protocol/messages';

/** A frame for the socket of one role in one session, wherever (on which instance) it is. */
export interface BusEnvelope {
  to: RelayRole;
  /** The frame, serialized once by the sender (a kiosk's already through the sender's gate). */
  text: string;
  /** Close that socket after sending the frame. */
  close?: { code: number; reason: string };
  /** Presence news for the receiving side's bookkeeping (`deviceId`: the kiosk that joined). */
  peer?: { role: RelayRole; present: boolean; deviceId?: string };
}

export type EnvelopeHandler = (envelope: BusEnvelope) => void;

/** A kiosk lost its standing (blocked, key rotated): every instance ends its sessions. */
export interface KioskNotice {
  deviceId: string;
  change: 'blocked' | 'key_rotated';
}

export type KioskNoticeHandler = (notice: KioskNotice) => void;

/** A slot this instance holds. */
export interface HeldSlot {
  sessionId: string;
  role: RelayRole;
  holder: string;
  /**
   * A legacy app that spent its session's one use (`firstUse`): each refresh spends it again
   * (`SET NX`, for this long), so a Redis that came back from a snapshot taken before the use
   * does not let another app take the session after this one leaves.
   */
  usedTtlMs?: number;
}

/**
 * A claim's answer: the slot is ours (`claimed`), another socket holds it (`held`), or the slot
 * store came back (Redis restarted, empty or from a snapshot, or its keys were lost) less than the
 * resync window ago, so the slot may belong to a socket whose instance has not re-asserted it
 * yet: ask again in `resyncMs`.
 */
export type SlotClaim = 'claimed' | 'held' | { resyncMs: number };

/** The bus could not do what was asked (Redis down or not answering). */
export class BusUnavailableError extends Error {
  constructor(operation: string, cause: unknown) {
    super(`Relay bus unavailable (${operation})`, { cause });
    this.name = 'BusUnavailableError';
  }
}

/**
 * How instances reach each other's sockets: per-session channels and per-role "slots" that
 * make one socket per role per session hold across instances. Slots live a short TTL and are
 * refreshed by the holder's keepalive, so a crashed instance frees them in seconds. In-process
 * without REDIS_URL, Redis pub/sub and keys with it. Every method rejects with
 * BusUnavailableError when the bus cannot answer; callers decide what that means for a socket.
 */
export abstract class RelayBus {
  abstract readonly kind: 'in-process' | 'redis';
  abstract publish(sessionId: string, envelope: BusEnvelope): Promise<void>;
  /** One handler per session on this instance; replaces an earlier one. */
  abstract subscribe(sessionId: string, handler: EnvelopeHandler): Promise<void>;
  abstract unsubscribe(sessionId: string): Promise<void>;
  /**
   * Takes the session's slot for a role if it is free (or expired), unless the slot store is
   * resyncing (see SlotClaim).
   */
  abstract claimSlot(
    sessionId: string,
    role: RelayRole,
    holder: string,
    ttlMs: number,
  ): Promise<SlotClaim>;
  /**
   * `listener` runs each time the bus is back after an outage: the slots this instance holds may
   * be gone (an empty Redis), and are to be re-asserted at once. A bus that cannot lose its
   * slots never calls it.
   */
  onReconnect(listener: () => void): void {
    void listener;
  }
  /**
   * Extends the TTL of slots this instance holds (re-taking one that expired while the bus was
   * away) and spends again the use of those with `usedTtlMs`; returns the slots now held by
   * someone else.
   */
  abstract refreshSlots(slots: HeldSlot[], ttlMs: number): Promise<HeldSlot[]>;
  /** Frees the slot if `holder` still has it. */
  abstract releaseSlot(sessionId: string, role: RelayRole, holder: string): Promise<void>;
  abstract isSlotTaken(sessionId: string, role: RelayRole): Promise<boolean>;
  /** To every instance (this one included): a kiosk lost its standing. */
  abstract publishKioskNotice(notice: KioskNotice): Promise<void>;
  /**
   * The instance's one handler of kiosk notices, for its lifetime. Never rejects: with Redis
   * down, the subscription is taken when it is back.
   */
  abstract subscribeKioskNotices(handler: KioskNoticeHandler): Promise<void>;
  /** True the first time it is called for this session and role (kept for `ttlMs`). */
  abstract firstUse(sessionId: string, role: RelayRole, ttlMs: number): Promise<boolean>;
  /**
   * Gives back the use `firstUse` just spent (the socket that spent it could not be joined: its
   * retry takes the session's one use again).
   */
  abstract forgetUse(sessionId: string, role: RelayRole): Promise<void>;
  /** Whether `firstUse` was spent for this session and role (and is still kept); spends nothing. */
  abstract wasUsed(sessionId: string, role: RelayRole): Promise<boolean>;
}
