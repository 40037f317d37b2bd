import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { RelayRole } from './protocol/messages';
import { PlatformIdMatcher } from './privacy/platform-id-filter';

/**
 * What a protocol handler knows of the socket that sent a frame: its session, its role, the
 * session's platform ids (for the kiosk gate) and whether the peer is there.
 */
export interface ConnectionView {
  readonly role: RelayRole;
  readonly sessionId: string;
  readonly expiresAt: Date;
  /** The kiosk that authenticated (device), or learned from the peer's presence (mobile). */
  deviceId?: string;
  peerPresent: boolean;
  /** Kiosk auth: the challenge nonce, until the auth frame uses it. */
  nonce?: string;
  /** The key the kiosk authenticated with (its standing is checked against it at submission). */
  keyFingerprint?: string;
  /** The session's platform id (new protocol, legacy app once it sent one). */
  platformId?: string;
  /** Legacy: the alias the hardware sees in place of the platform id. */
  platformAlias?: string;
  /** Every platform id the session ever held, for the kiosk gate. */
  readonly platformIds: PlatformIdSet;
  /**
   * The kiosk lost its standing while a submission of it was in flight (RelayHub
   * endKioskSessions): its socket is closed, and the phone is told when the outcome is known.
   */
  revokedBy?: 'device_blocked' | 'device_key_rotated';
}

/** The platform ids of a session, with a matcher rebuilt only when one is added. */
export class PlatformIdSet {
  private readonly ids = new Set<string>();
  private cached = new PlatformIdMatcher([]);

  add(id: string | undefined): void {
    if (!id || this.ids.has(id)) return;
    this.ids.add(id);
    this.cached = new PlatformIdMatcher(this.ids);
  }

  get matcher(): PlatformIdMatcher {
    return this.cached;
  }

  /** The last set found covered, and its size then (ids are only ever added). */
  private coveredSet?: PlatformIdSet;
  private coveredSize = 0;

  /** True when every id of `other` is one of these (so text clean of these is clean of those). */
  covers(other: PlatformIdSet): boolean {
    if (other === this) return true;
    // neither set loses ids: covered once, covered until `other` gains one (asked per frame)
    if (other === this.coveredSet && other.ids.size === this.coveredSize) return true;
    for (const id of other.ids) if (!this.ids.has(id)) return false;
    this.coveredSet = other;
    this.coveredSize = other.ids.size;
    return true;
  }
}

/** What the relay keeps per socket (kept small: 10,000 idle sessions are two of these each). */
export class RelayConnection implements ConnectionView {
  /** Kiosk sockets hold the session only after auth; the others from the start. */
  joined = false;
  slotHeld = false;
  /** A legacy app whose session's one use (`firstUse`) it spent: re-spent at each slot refresh. */
  appUseSpent = false;
  closing = false;
  /** Closed by the server for what the client did (it stopped reading): its peer is told. */
  droppedForConduct = false;
  alive = true;
  peerPresent = false;
  nonce?: string;
  keyFingerprint?: string;
  deviceId?: string;
  platformId?: string;
  platformAlias?: string;
  readonly platformIds = new PlatformIdSet();
  revokedBy?: 'device_blocked' | 'device_key_rotated';
  /** A phone socket: a `result` frame was written to it (RelayDelivery.sendText). */
  resultWritten = false;
  /**
   * A phone socket closed `completed` while open, after its `result` was written: when the phone
   * answers that close (1000, the echo of ours), it read the result (RelayHub).
   */
  toldOutcome = false;
  /** How the outcome it was told reached it (the metric's label): live, or caught up on joining. */
  outcomeVia: 'live' | 'on_return' = 'live';
  /** Submissions of this socket being handled (RelayIntake): a kick waits for their outcome. */
  submitting = 0;
  expiryTimer?: NodeJS.Timeout;
  authTimer?: NodeJS.Timeout;
  /** Frames are handled one after another, in arrival order. */
  queue: Promise<void> = Promise.resolve();
  /** A frame's handling is waiting (RelayIntake): later frames queue behind it. */
  busy = false;
  /** Frames waiting behind that handling, and their bytes (bounded: RelaySettings.maxQueued*). */
  queuedFrames = 0;
  queuedBytes = 0;
  /** Frames to this socket are held until the end of the tick (RelayDelivery.write). */
  corked = false;
  /** A kiosk socket (device, hardware): its frames pass the kiosk gate (asked per frame). */
  readonly kiosk: boolean;
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
    /** The TCP socket under `ws` (the upgrade request's), whose writes are coalesced per tick. */
    readonly socket?: Socket,
  ) {
    this.tokens = rate.burst;
    this.kiosk = KIOSK_ROLES.has(role);
  }

  get legacy(): boolean {
    return isLegacy(this.role);
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

/**
 * How long a peer has to answer the server's close frame before its socket is cut (`ws` itself
 * waits 30 s, reading and parsing all the while whatever the peer keeps sending).
 */
export const CLOSE_GRACE_MS = 2000;

/** Closes `ws` with `code`, and cuts it if the peer has not answered within CLOSE_GRACE_MS. */
export function closeSocket(ws: WebSocket, code: number, reason: string): void {
  ws.close(code, reason);
  const cut = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
  cut.unref();
  ws.once('close', () => clearTimeout(cut));
}

export function isLegacy(role: RelayRole): role is 'app' | 'hardware' {
  return role === 'app' || role === 'hardware';
}

export const PEER_ROLE: Record<RelayRole, RelayRole> = {
  mobile: 'device',
  device: 'mobile',
  app: 'hardware',
  hardware: 'app',
};

export const KIOSK_ROLES: ReadonlySet<RelayRole> = new Set(['device', 'hardware']);
