import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnModuleDestroy,
  OnModuleInit,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import { AppConfig } from '@app/common';
import {
  PairingSession,
  SessionService,
  SessionTokenService,
  SessionTokenType,
} from '@app/session';
import { BusEnvelope, BusUnavailableError, RelayBus } from './bus/relay-bus';
import { LegacyHandler } from './handlers/legacy.handler';
import { PairingHandler } from './handlers/pairing.handler';
import { CLOSE_FOR, CloseSpec, errorReply, Reply } from './handlers/reply';
import { gateKioskText } from './privacy/kiosk-gate';
import { CLOSE_CODES, OutboundFrame, RelayErrorCode, RelayRole } from './protocol/messages';
import { parseInboundFrame } from './protocol/parse-frame';
import { isLegacy, KIOSK_ROLES, PEER_ROLE, RelayConnection } from './relay-connection';
import { RelayMetrics } from './relay.metrics';

const TOKEN_TYPES: Record<RelayRole, SessionTokenType[]> = {
  mobile: ['mobile'],
  device: ['device'],
  app: ['legacy'],
  hardware: ['legacy'],
};

/** Extra room over the base64 of the largest image for the rest of a submission frame. */
const SUBMISSION_FRAME_OVERHEAD = 4096;

/**
 * The relay hub: the sockets of this instance (connection map, lifecycle, keepalive and slot
 * refresh), delivery (the kiosk gate, then the local socket or the bus) and the bus itself, whose
 * every failure is caught here. What a frame means is decided by the protocol handlers
 * (PairingHandler, LegacyHandler), which return a Reply the hub carries out.
 */
@Injectable()
export class RelayHub implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger(RelayHub.name);
  private readonly settings: AppConfig['relay'];
  private readonly sessionsHere = new Map<string, Map<RelayRole, RelayConnection>>();
  private readonly connections = new Set<RelayConnection>();
  private readonly instanceId = randomBytes(6).toString('hex');
  private nextConnection = 0;
  private keepalive?: NodeJS.Timeout;
  private slotRefresh?: NodeJS.Timeout;
  private shuttingDown = false;

  constructor(
    private readonly bus: RelayBus,
    private readonly sessions: SessionService,
    private readonly tokens: SessionTokenService,
    private readonly pairing: PairingHandler,
    private readonly legacy: LegacyHandler,
    private readonly metrics: RelayMetrics,
    config: ConfigService<AppConfig, true>,
  ) {
    this.settings = config.get('relay', { infer: true });
  }

  onModuleInit(): void {
    this.keepalive = setInterval(() => this.sweepKeepalive(), this.settings.pingIntervalMs);
    this.keepalive.unref();
    this.slotRefresh = setInterval(
      () => void this.refreshSlots(),
      Math.max(100, Math.floor(this.settings.slotTtlMs / 3)),
    );
    this.slotRefresh.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.keepalive);
    clearInterval(this.slotRefresh);
  }

  /**
   * Graceful shutdown: free every slot so the socket can reconnect elsewhere, and close. The new
   * protocol is told why (`server_restarting`); legacy sockets get the close frame only, since
   * the fielded client treats any error frame as fatal.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const conn of this.connections) {
      if (conn.legacy) this.close(conn, { code: CLOSE_CODES.serverRestart, reason: 'restarting' });
      else
        this.closeWithError(conn, 'server_restarting', 'The server is shutting down; reconnect', {
          code: CLOSE_CODES.serverRestart,
          reason: 'server_restarting',
        });
    }
    await Promise.allSettled([...this.connections].map((conn) => this.onClose(conn)));
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  // ---- connection lifecycle --------------------------------------------------------------

  /** Called by the gateways for every new socket on their path. Never throws. */
  async attach(role: RelayRole, ws: WebSocket, request: IncomingMessage): Promise<void> {
    ws.on('error', () => undefined);
    try {
      await this.accept(role, ws, request);
    } catch (error) {
      this.logger.error({ err: error, role }, 'Accepting a socket failed');
      this.refuse(ws, 'internal_error', 'The socket could not be accepted', 1011);
    }
  }

  private async accept(role: RelayRole, ws: WebSocket, request: IncomingMessage): Promise<void> {
    if (this.shuttingDown) return void ws.close(CLOSE_CODES.serverRestart, 'server shutting down');
    // frames that arrive before the socket is in the session wait here, in order
    const early: RawData[] = [];
    const buffer = (data: RawData) => early.push(data);
    ws.on('message', buffer);
    const token = new URL(request.url ?? '/', 'ws://relay').searchParams.get('token');
    const check = this.tokens.check(token, TOKEN_TYPES[role]);
    if (!check.ok) return this.refuse(ws, check.code, check.message);
    let session: PairingSession | undefined;
    try {
      session = await this.sessions.find(check.sessionId);
    } catch (error) {
      this.logger.error({ err: error }, 'Session lookup failed');
      return this.refuse(ws, 'internal_error', 'The session could not be loaded', 1011);
    }
    if (!session) return this.refuse(ws, 'session_not_found', 'The session does not exist');
    if (session.status === 'completed')
      return this.refuse(ws, 'session_closed', 'The session is already completed');
    if (session.expiresAt.getTime() <= Date.now())
      return this.refuse(ws, 'session_expired', 'The session has expired');
    if (ws.readyState !== ws.OPEN) return;

    const conn = new RelayConnection(
      `${this.instanceId}:${++this.nextConnection}`,
      role,
      ws,
      session.id,
      session.expiresAt,
      { perSecond: this.settings.ratePerSecond, burst: this.settings.rateBurst },
    );
    this.connections.add(conn);
    this.metrics.connections.inc({ role });
    ws.on('pong', () => (conn.alive = true));
    ws.on('close', () => void this.onClose(conn));
    conn.expiryTimer = setTimeout(
      () => this.expire(conn),
      Math.max(0, session.expiresAt.getTime() - Date.now()),
    );
    conn.expiryTimer.unref();

    if (role === 'device') {
      conn.nonce = randomBytes(16).toString('base64url');
      conn.authTimer = setTimeout(
        () => this.closeWithError(conn, 'auth_timeout', 'No auth frame arrived in time'),
        this.settings.authTimeoutMs,
      );
      conn.authTimer.unref();
      this.send(conn, { type: 'challenge', nonce: conn.nonce });
    } else {
      // the phone and the app hold the id; the hardware's gate needs it too
      conn.platformId = this.sessions.platformIdOf(session);
      conn.platformIds.add(conn.platformId);
      conn.platformAlias = session.platformAlias;
      await this.join(conn, session.deviceId);
    }
    ws.off('message', buffer);
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(conn, data, isBinary));
    for (const data of early) this.onMessage(conn, data, false);
  }

  private refuse(ws: WebSocket, code: RelayErrorCode, message: string, closeCode?: number): void {
    this.metrics.errors.inc({ code });
    if (ws.readyState === ws.OPEN) {
      ws.send(JSON.stringify({ type: 'error', code, message }));
      ws.close(closeCode ?? CLOSE_FOR[code] ?? CLOSE_CODES.forbidden, code);
    }
  }

  /**
   * Takes the role's slot in the session and announces the socket to its peer. `joined` is sent
   * only once the peer's presence is known: a client may send its first frame the moment it
   * reads `joined`. A bus failure refuses the socket with `bus_unavailable`.
   */
  private async join(conn: RelayConnection, knownDeviceId?: string): Promise<void> {
    try {
      await this.takeSession(conn, knownDeviceId);
    } catch (error) {
      if (error instanceof BusUnavailableError) {
        this.busDown(error);
        this.closeWithError(conn, 'bus_unavailable', 'The relay is unavailable; try again later');
      } else {
        this.logger.error({ err: error, sessionId: conn.sessionId }, 'Joining the session failed');
        this.closeWithError(conn, 'internal_error', 'The session could not be joined', {
          code: 1011,
          reason: 'internal_error',
        });
      }
      await this.onClose(conn);
    }
  }

  private async takeSession(conn: RelayConnection, knownDeviceId?: string): Promise<void> {
    const ttl = Math.min(this.settings.slotTtlMs, conn.expiresAt.getTime() - Date.now());
    if (conn.role === 'app') {
      // a legacy session's app slot is taken once: after the app left, nobody takes its place
      const lifetime = conn.expiresAt.getTime() - Date.now() + 60_000;
      if (!(await this.bus.firstUse(conn.sessionId, 'app', lifetime))) {
        return this.closeWithError(conn, 'already_connected', 'This session already had its app');
      }
    }
    if (!(await this.bus.claimSlot(conn.sessionId, conn.role, conn.id, ttl))) {
      return this.closeWithError(
        conn,
        'already_connected',
        `This session already has a ${conn.role} socket`,
      );
    }
    conn.slotHeld = true;
    if (!this.connections.has(conn)) {
      // the socket closed while the slot was being claimed
      conn.slotHeld = false;
      await this.bus.releaseSlot(conn.sessionId, conn.role, conn.id);
      return;
    }
    conn.joined = true;
    let local = this.sessionsHere.get(conn.sessionId);
    if (!local) {
      local = new Map();
      this.sessionsHere.set(conn.sessionId, local);
      await this.bus.subscribe(conn.sessionId, (envelope) =>
        this.onEnvelope(conn.sessionId, envelope),
      );
    }
    local.set(conn.role, conn);
    // subscribed first: a peer that takes its slot after this check announces itself to us
    const peer = PEER_ROLE[conn.role];
    const peerThere = await this.bus.isSlotTaken(conn.sessionId, peer);
    if (conn.closing) return;
    this.send(
      conn,
      isLegacy(conn.role)
        ? { type: 'joined', role: conn.role }
        : {
            type: 'joined',
            role: conn.role,
            session_id: conn.sessionId,
            expires_at: conn.expiresAt.toISOString(),
          },
    );
    if (peerThere) {
      if (peer === 'device') conn.deviceId ??= knownDeviceId;
      this.notePeer(conn, true, presenceFrame(peer, true, conn.deviceId));
    }
    await this.deliver(conn, [presenceFrame(conn.role, true, conn.deviceId)], undefined, {
      role: conn.role,
      present: true,
      deviceId: conn.deviceId,
    });
    this.logger.debug({ sessionId: conn.sessionId, role: conn.role }, 'Socket joined');
  }

  /** Sends presence news once per change. */
  private notePeer(conn: RelayConnection, present: boolean, frame: OutboundFrame): void {
    if (conn.peerPresent === present) return;
    conn.peerPresent = present;
    this.send(conn, frame);
  }

  private async onClose(conn: RelayConnection): Promise<void> {
    if (!this.connections.delete(conn)) return;
    this.metrics.connections.dec({ role: conn.role });
    clearTimeout(conn.expiryTimer);
    clearTimeout(conn.authTimer);
    const local = this.sessionsHere.get(conn.sessionId);
    if (local?.get(conn.role) === conn) {
      local.delete(conn.role);
      if (local.size === 0) {
        this.sessionsHere.delete(conn.sessionId);
        await this.bus.unsubscribe(conn.sessionId).catch((error: unknown) => this.busDown(error));
      }
    }
    if (conn.slotHeld) {
      conn.slotHeld = false;
      // if the bus is down the slot's short TTL frees it
      await this.bus
        .releaseSlot(conn.sessionId, conn.role, conn.id)
        .catch((error: unknown) => this.busDown(error));
      if (!conn.closing || this.shuttingDown) {
        await this.deliver(conn, [presenceFrame(conn.role, false)], undefined, {
          role: conn.role,
          present: false,
        }).catch((error: unknown) => this.busDown(error));
      }
    }
    this.logger.debug({ sessionId: conn.sessionId, role: conn.role }, 'Socket left');
  }

  /**
   * The hard deadline. New-protocol sockets are told (`session_expired`, close 4408); legacy
   * sockets are closed with 4000 and no frame, as the old server did at token expiry.
   */
  private expire(conn: RelayConnection): void {
    if (conn.legacy)
      return this.close(conn, { code: CLOSE_CODES.legacyExpired, reason: 'expired' });
    this.send(conn, { type: 'session_expired' });
    this.close(conn, { code: CLOSE_CODES.expired, reason: 'session_expired' });
  }

  private closeWithError(
    conn: RelayConnection,
    code: RelayErrorCode,
    message: string,
    close?: CloseSpec,
  ): void {
    if (conn.closing) return;
    this.sendError(conn, code, message);
    this.close(conn, close ?? { code: CLOSE_FOR[code] ?? CLOSE_CODES.forbidden, reason: code });
  }

  private close(conn: RelayConnection, close: CloseSpec): void {
    if (conn.closing) return;
    conn.closing = true;
    conn.ws.close(close.code, close.reason);
  }

  private sweepKeepalive(): void {
    for (const conn of this.connections) {
      if (!conn.alive) {
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      if (conn.ws.readyState === conn.ws.OPEN) {
        conn.ws.ping();
        this.send(conn, { type: 'ping' });
      }
    }
  }

  /** Keeps this instance's slots alive; one that another socket holds now closes ours. */
  private async refreshSlots(): Promise<void> {
    const held = [...this.connections].filter((c) => c.slotHeld && !c.closing);
    if (held.length === 0) return;
    try {
      const lost = await this.bus.refreshSlots(
        held.map((c) => ({ sessionId: c.sessionId, role: c.role, holder: c.id })),
        this.settings.slotTtlMs,
      );
      for (const slot of lost) {
        const conn = held.find((c) => c.id === slot.holder);
        if (!conn) continue;
        conn.slotHeld = false;
        this.closeWithError(conn, 'already_connected', 'Another socket took this session');
      }
    } catch (error) {
      this.busDown(error);
    }
  }

  private busDown(error: unknown): void {
    this.metrics.errors.inc({ code: 'bus_unavailable' });
    this.logger.warn({ err: error }, 'Relay bus unavailable');
  }

  // ---- frames in ------------------------------------------------------------------------

  private onMessage(conn: RelayConnection, data: RawData, isBinary: boolean): void {
    conn.alive = true;
    conn.queue = conn.queue.then(() => this.onFrame(conn, data, isBinary));
  }

  private async onFrame(conn: RelayConnection, data: RawData, isBinary: boolean): Promise<void> {
    if (conn.closing) return;
    if (isBinary)
      return this.sendError(conn, 'unsupported_frame', 'Binary frames are not accepted');
    const size = rawSize(data);
    const kioskLimit = Math.ceil((this.settings.maxImageBytes * 4) / 3) + SUBMISSION_FRAME_OVERHEAD;
    const limit = KIOSK_ROLES.has(conn.role) ? kioskLimit : this.settings.maxFrameBytes;
    if (size > limit)
      return this.sendError(conn, 'payload_too_large', `Frames are limited to ${limit} bytes`);
    if (!conn.takeToken()) {
      this.metrics.errors.inc({ code: 'rate_limited' });
      if (conn.shouldReportRateLimit())
        this.sendError(conn, 'rate_limited', 'Too many frames: slow down');
      return;
    }
    const parsed = parseInboundFrame(conn.role, rawText(data));
    if (!parsed.ok) return this.sendError(conn, parsed.code, parsed.message);
    const frame = parsed.frame;
    const isSubmission = frame.type === 'submit_result' || frame.type === 'to_backend';
    if (!isSubmission && size > this.settings.maxFrameBytes) {
      return this.sendError(
        conn,
        'payload_too_large',
        `Frames are limited to ${this.settings.maxFrameBytes} bytes`,
      );
    }
    if (frame.type === 'ping') return this.send(conn, { type: 'pong' });
    if (frame.type === 'pong') return;
    if (frame.type === 'auth') clearTimeout(conn.authTimer);
    else if (!conn.joined)
      return this.sendError(conn, 'not_authenticated', 'Authenticate first (answer the challenge)');
    const handler = conn.legacy ? this.legacy : this.pairing;
    const work = this.handle(conn, () => handler.handle(conn, frame));
    // a submission waits on the upstream: the socket's other frames (pings) are not held up by it
    if (!isSubmission) await work;
  }

  private async handle(conn: RelayConnection, decide: () => Promise<Reply> | Reply): Promise<void> {
    let reply: Reply;
    try {
      reply = await decide();
    } catch (error) {
      this.logger.error(
        { err: error, sessionId: conn.sessionId, role: conn.role },
        'Frame handling failed',
      );
      // during kiosk auth a failure (a store outage) ends the attempt; it is not a verdict
      reply = errorReply('internal_error', 'The frame could not be handled');
      if (!conn.joined) reply.close = { code: 1011, reason: 'internal_error' };
    }
    await this.apply(conn, reply);
  }

  /**
   * Carries out a handler's Reply: the peer's frames first, then the sender's, then closes. When
   * the bus fails on the way to the peer, the sender still gets its own frames (a legacy kiosk
   * its `backend_response`), then `bus_unavailable` and the close.
   */
  private async apply(conn: RelayConnection, reply: Reply): Promise<void> {
    let busFailed = false;
    if (reply.toPeer?.length) {
      try {
        if (await this.deliver(conn, reply.toPeer, reply.closePeer))
          this.metrics.relayed.inc({ to: PEER_ROLE[conn.role] }, reply.toPeer.length);
      } catch (error) {
        this.busDown(error);
        busFailed = true;
      }
    }
    for (const frame of reply.frames) {
      if (frame.type === 'error') this.metrics.errors.inc({ code: frame.code });
      this.send(conn, frame);
    }
    if (reply.close) this.close(conn, reply.close);
    else if (busFailed)
      this.closeWithError(conn, 'bus_unavailable', 'The relay is unavailable; try again later');
    if (reply.join && !conn.closing) await this.join(conn);
  }

  // ---- frames out -----------------------------------------------------------------------

  /**
   * To the session's other socket: directly when it is on this instance, else over the bus.
   * A kiosk-bound frame passes the sender's gate first (the sender knows the platform ids), so
   * none crosses Redis toward a kiosk. Rejects with BusUnavailableError when the bus fails.
   */
  private async deliver(
    from: RelayConnection,
    frames: OutboundFrame[],
    close?: CloseSpec,
    peer?: BusEnvelope['peer'],
  ): Promise<boolean> {
    const to = PEER_ROLE[from.role];
    const local = this.sessionsHere.get(from.sessionId)?.get(to);
    for (let i = 0; i < frames.length; i++) {
      const text = this.outgoingText(from, to, frames[i]);
      if (text === undefined) {
        this.sendError(from, 'privacy_violation', 'The frame still held the platform id');
        return false;
      }
      const envelope: BusEnvelope = { to, text };
      if (peer) envelope.peer = peer;
      if (close && i === frames.length - 1) envelope.close = close;
      if (local) {
        this.onEnvelope(from.sessionId, envelope);
        continue;
      }
      await this.bus.publish(from.sessionId, envelope);
    }
    return true;
  }

  private outgoingText(from: RelayConnection, to: RelayRole, frame: OutboundFrame) {
    const text = JSON.stringify(frame);
    if (!KIOSK_ROLES.has(to)) return text;
    return this.gate(text, to as 'device' | 'hardware', from);
  }

  private gate(
    text: string,
    role: 'device' | 'hardware',
    holder: RelayConnection,
  ): string | undefined {
    const clean = gateKioskText(text, role, holder.platformIds.matcher, holder.platformAlias);
    if (clean === undefined) {
      this.logger.error(
        { sessionId: holder.sessionId },
        'Dropped a kiosk-bound frame that held a platform id',
      );
      this.metrics.errors.inc({ code: 'privacy_violation' });
    }
    return clean;
  }

  private onEnvelope(sessionId: string, envelope: BusEnvelope): void {
    const conn = this.sessionsHere.get(sessionId)?.get(envelope.to);
    if (!conn || conn.closing) return;
    if (envelope.peer) {
      if (envelope.peer.present && envelope.peer.deviceId) conn.deviceId ??= envelope.peer.deviceId;
      if (conn.peerPresent !== envelope.peer.present) {
        conn.peerPresent = envelope.peer.present;
        this.sendText(conn, envelope.text);
      }
    } else {
      this.sendText(conn, envelope.text);
    }
    if (envelope.close) this.close(conn, envelope.close);
  }

  /** Every frame to a socket leaves through here or sendText; a kiosk's pass the gate. */
  private send(conn: RelayConnection, frame: OutboundFrame): void {
    this.sendText(conn, JSON.stringify(frame));
  }

  private sendText(conn: RelayConnection, text: string): void {
    if (conn.ws.readyState !== conn.ws.OPEN) return;
    const out = KIOSK_ROLES.has(conn.role)
      ? this.gate(text, conn.role as 'device' | 'hardware', conn)
      : text;
    if (out !== undefined) conn.ws.send(out);
  }

  private sendError(conn: RelayConnection, code: RelayErrorCode, message: string): void {
    this.metrics.errors.inc({ code });
    this.send(conn, { type: 'error', code, message });
  }
}

function presenceFrame(role: RelayRole, present: boolean, deviceId?: string): OutboundFrame {
  if (isLegacy(role))
    return { type: 'status', msg: `${role} ${present ? 'connected' : 'disconnected'}` };
  const frame: OutboundFrame = {
    type: 'status',
    peer: role,
    state: present ? 'connected' : 'disconnected',
  };
  if (deviceId && present && role === 'device') frame.device_id = deviceId;
  return frame;
}

function rawSize(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, chunk) => sum + chunk.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}
