import {
  BusEnvelope,
  EnvelopeHandler,
  HeldSlot,
  KioskNotice,
  KioskNoticeHandler,
  RelayBus,
  SlotClaim,
} from './relay-bus';
import { RelayRole } from '../protocol/messages';

/** One instance: channels and slots are maps in memory. */
export class InProcessRelayBus extends RelayBus {
  readonly kind = 'in-process' as const;
  private readonly handlers = new Map<string, EnvelopeHandler>();
  private readonly slots = new Map<string, { holder: string; expiresAt: number }>();
  private readonly used = new Map<string, number>();
  private kioskHandler?: KioskNoticeHandler;

  async publish(sessionId: string, envelope: BusEnvelope): Promise<void> {
    const handler = this.handlers.get(sessionId);
    if (handler) queueMicrotask(() => handler(envelope));
  }

  async subscribe(sessionId: string, handler: EnvelopeHandler): Promise<void> {
    this.handlers.set(sessionId, handler);
  }

  async unsubscribe(sessionId: string): Promise<void> {
    this.handlers.delete(sessionId);
  }

  async claimSlot(
    sessionId: string,
    role: RelayRole,
    holder: string,
    ttlMs: number,
  ): Promise<SlotClaim> {
    return this.claim(`${sessionId}:${role}`, holder, ttlMs, Date.now()) ? 'claimed' : 'held';
  }

  private claim(key: string, holder: string, ttlMs: number, now: number): boolean {
    const current = this.slots.get(key);
    if (current && current.expiresAt > now) return false;
    this.slots.set(key, { holder, expiresAt: now + ttlMs });
    return true;
  }

  /** Every held slot at once, in one pass (no promise per slot: it runs every few seconds). */
  async refreshSlots(slots: HeldSlot[], ttlMs: number): Promise<HeldSlot[]> {
    const lost: HeldSlot[] = [];
    for (const slot of slots) {
      const key = `${slot.sessionId}:${slot.role}`;
      const now = Date.now();
      if (this.claim(key, slot.holder, ttlMs, now)) continue;
      const current = this.slots.get(key);
      if (current?.holder === slot.holder) current.expiresAt = now + ttlMs;
      else lost.push(slot);
    }
    return lost;
  }

  async releaseSlot(sessionId: string, role: RelayRole, holder: string): Promise<void> {
    const key = `${sessionId}:${role}`;
    if (this.slots.get(key)?.holder === holder) this.slots.delete(key);
  }

  async isSlotTaken(sessionId: string, role: RelayRole): Promise<boolean> {
    const current = this.slots.get(`${sessionId}:${role}`);
    return current !== undefined && current.expiresAt > Date.now();
  }

  async publishKioskNotice(notice: KioskNotice): Promise<void> {
    const handler = this.kioskHandler;
    if (handler) queueMicrotask(() => handler(notice));
  }

  async subscribeKioskNotices(handler: KioskNoticeHandler): Promise<void> {
    this.kioskHandler = handler;
  }

  async wasUsed(sessionId: string, role: RelayRole): Promise<boolean> {
    return (this.used.get(`${sessionId}:${role}`) ?? 0) > Date.now();
  }

  async forgetUse(sessionId: string, role: RelayRole): Promise<void> {
    this.used.delete(`${sessionId}:${role}`);
  }

  async firstUse(sessionId: string, role: RelayRole, ttlMs: number): Promise<boolean> {
    const key = `${sessionId}:${role}`;
    const now = Date.now();
    for (const [k, until] of this.used) if (until <= now) this.used.delete(k);
    if (this.used.has(key)) return false;
    this.used.set(key, now + ttlMs);
    return true;
  }
}
