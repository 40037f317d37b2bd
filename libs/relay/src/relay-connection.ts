import type { WebSocket } from 'ws';
import { RelayRole } from './protocol/messages';

/** What the relay keeps per socket (kept small: 10,000 idle sessions are two of these each). */
export class RelayConnection {
  /** Kiosk sockets hold the session only after auth; the others from the start. */
  joined = false;
  slotHeld = false;
  closing = false;
  alive = true;
  peerPresent = false;
  nonce?: string;
  deviceId?: string;
  /** The session's platform id (mobile, device, legacy app), for filtering frames toward the kiosk. */
  platformId?: string;
  /** Legacy: the alias the hardware sees. */
  platformAlias?: string;
  expiryTimer?: NodeJS.Timeout;
  authTimer?: NodeJS.Timeout;
  private tokens: number;
  private refilledAt = Date.now();
  private lastRateError = 0;

  constructor(
    readonly id: string,
    readonly role: RelayRole,
    readonly ws: WebSocket,
    readonly sessionId: string,
    readonly expiresAt: Date,
    private readonly rate: { perSecond: number; burst: number },
  ) {
    this.tokens = rate.burst;
  }

  get legacy(): boolean {
    return this.role === 'app' || this.role === 'hardware';
  }

  /** Token bucket: false when this frame is over the rate. */
  takeToken(now = Date.now()): boolean {
    const elapsed = (now - this.refilledAt) / 1000;
    this.refilledAt = now;
    this.tokens = Math.min(this.rate.burst, this.tokens + elapsed * this.rate.perSecond);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** At most one rate_limited error per second. */
  shouldReportRateLimit(now = Date.now()): boolean {
    if (now - this.lastRateError < 1000) return false;
    this.lastRateError = now;
    return true;
  }
}

export const PEER_ROLE: Record<RelayRole, RelayRole> = {
  mobile: 'device',
  device: 'mobile',
  app: 'hardware',
  hardware: 'app',
};

export const KIOSK_ROLES: ReadonlySet<RelayRole> = new Set(['device', 'hardware']);
