import { OutboundFrame, RelayRole } from '../protocol/messages';

/** A frame for the socket of one role in one session, wherever (on which instance) it is. */
export interface BusEnvelope {
  to: RelayRole;
  frame: OutboundFrame;
  /** Close that socket after sending the frame. */
  close?: { code: number; reason: string };
  /** Presence news for the receiving side's bookkeeping. */
  peer?: { role: RelayRole; present: boolean };
}

export type EnvelopeHandler = (envelope: BusEnvelope) => void;

/**
 * How instances reach each other's sockets: per-session channels and per-role "slots" that
 * make one mobile and one device per session hold across instances. In-process without
 * REDIS_URL, Redis pub/sub and keys with it.
 */
export abstract class RelayBus {
  abstract readonly kind: 'in-process' | 'redis';
  abstract publish(sessionId: string, envelope: BusEnvelope): Promise<void>;
  /** One handler per session on this instance; replaces an earlier one. */
  abstract subscribe(sessionId: string, handler: EnvelopeHandler): Promise<void>;
  abstract unsubscribe(sessionId: string): Promise<void>;
  /** Takes the session's slot for a role if it is free (or expired). */
  abstract claimSlot(
    sessionId: string,
    role: RelayRole,
    holder: string,
    ttlMs: number,
  ): Promise<boolean>;
  /** Frees the slot if `holder` still has it. */
  abstract releaseSlot(sessionId: string, role: RelayRole, holder: string): Promise<void>;
  abstract isSlotTaken(sessionId: string, role: RelayRole): Promise<boolean>;
}
