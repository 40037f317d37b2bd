import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnModuleDestroy,
  OnModuleInit,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { IncomingMessage } from 'node:http';
import { constants, randomBytes, verify } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import { AppConfig, AppError } from '@app/common';
import { KioskRegistryService } from '@app/device-trust';
import {
  PairingSession,
  SessionService,
  SessionTokenService,
  SessionTokenType,
} from '@app/session';
import { RelayBus, BusEnvelope } from './bus/relay-bus';
import {
  AuthFrame,
  CLOSE_CODES,
  JsonObject,
  OutboundFrame,
  RelayErrorCode,
  RelayRole,
} from './protocol/messages';
import { parseInboundFrame } from './protocol/parse-frame';
import {
  REDACTED_PLATFORM_ID,
  replaceEverywhere,
  withoutPlatformId,
} from './privacy/platform-id-filter';
import { KIOSK_ROLES, PEER_ROLE, RelayConnection } from './relay-connection';
import { RelayMetrics } from './relay.metrics';
import { FaceSubmissionService, SubmissionContext } from './face-submission.service';

const TOKEN_TYPES: Record<RelayRole, SessionTokenType[]> = {
  mobile: ['mobile'],
  device: ['device'],
  app: ['legacy'],
  hardware: ['legacy'],
};

const CLOSE_FOR: Partial<Record<RelayErrorCode, number>> = {
  not_authenticated: CLOSE_CODES.notAuthenticated,
  wrong_token_type: CLOSE_CODES.forbidden,
  session_not_found: CLOSE_CODES.notFound,
  session_expired: CLOSE_CODES.expired,
  session_closed: CLOSE_CODES.conflict,
  already_connected: CLOSE_CODES.conflict,
  session_mismatch: CLOSE_CODES.notAuthenticated,
  invalid_signature: CLOSE_CODES.notAuthenticated,
  device_not_registered: CLOSE_CODES.forbidden,
  device_blocked: CLOSE_CODES.forbidden,
  auth_timeout: CLOSE_CODES.notAuthenticated,
};

/** Extra room over the base64 of the largest image for the rest of a submission frame. */
const SUBMISSION_FRAME_OVERHEAD = 4096;
/** A JSON key that names a platform id, in frame text. */
const PLATFORM_ID_KEY_IN_TEXT = /"platform[_-]?id"\s*:/i;

/**
 * The relay: pairs each session's phone and kiosk sockets (on this instance or another, through
 * the RelayBus), authenticates kiosks by their TrustZone key, routes frames, keeps the platform
 * id away from kiosks, and hands face submissions to FaceSubmissionService.
 */
@Injectable()
export class RelayService implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger(RelayService.name);
  private readonly settings: AppConfig['relay'];
  private readonly sessionsHere = new Map<string, Map<RelayRole, RelayConnection>>();
  private readonly connections = new Set<RelayConnection>();
  private readonly instanceId = randomBytes(6).toString('hex');
  private nextConnection = 0;
  private keepalive?: NodeJS.Timeout;
  private shuttingDown = false;

  constructor(
    private readonly bus: RelayBus,
    private readonly sessions: SessionService,
    private readonly tokens: SessionTokenService,
    private readonly kiosks: KioskRegistryService,
    private readonly submissions: FaceSubmissionService,
    private readonly metrics: RelayMetrics,
    config: ConfigService<AppConfig, true>,
  ) {
    this.settings = config.get('relay', { infer: true });
  }

  onModuleInit(): void {
    this.keepalive = setInterval(() => this.sweepKeepalive(), this.settings.pingIntervalMs);
    this.keepalive.unref();
  }

  onModuleDestroy(): void {
    if (this.keepalive) clearInterval(this.keepalive);
  }

  /** Graceful shutdown: tell every socket, free its slot so it can reconnect elsewhere, close. */
  async beforeApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    const closing = [...this.connections].map((conn) =>
      this.closeConnection(
        conn,
        'server_restarting',
        'The server is shutting down; reconnect',
        CLOSE_CODES.serverRestart,
      ),
    );
    await Promise.allSettled(closing);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  // ---- connection lifecycle --------------------------------------------------------------

  /** Called by the gateways for every new socket on their path. */
  async attach(role: RelayRole, ws: WebSocket, request: IncomingMessage): Promise<void> {
    if (this.shuttingDown) {
      ws.close(CLOSE_CODES.serverRestart, 'server shutting down');
      return;
    }
    // buffer frames that arrive while the session loads
    const early: RawData[] = [];
    const buffer = (data: RawData) => early.push(data);
    ws.on('message', buffer);
    ws.on('error', () => undefined);
    const token = new URL(request.url ?? '/', 'ws://relay').searchParams.get('token');
    const check = this.tokens.check(token, TOKEN_TYPES[role]);
    if (!check.ok) return this.refuse(ws, check.code, check.message);
    let session: PairingSession | undefined;
    try {
      session = await this.sessions.find(check.sessionId);
    } catch (error) {
      this.logger.error({ err: error }, 'Session lookup failed');
      return this.refuse(ws, 'internal_error', 'The session could not be loaded');
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
      {
        perSecond: this.settings.ratePerSecond,
        burst: this.settings.rateBurst,
      },
    );
    this.connections.add(conn);
    this.metrics.connections.inc({ role });
    ws.off('message', buffer);
    ws.on('message', (data: RawData, isBinary: boolean) => void this.onFrame(conn, data, isBinary));
    ws.on('pong', () => (conn.alive = true));
    ws.on('close', () => void this.onClose(conn));
    conn.expiryTimer = setTimeout(
      () => void this.expire(conn),
      Math.max(0, session.expiresAt.getTime() - Date.now()),
    );
    conn.expiryTimer.unref();

    if (role === 'device') {
      conn.nonce = randomBytes(16).toString('base64url');
      conn.authTimer = setTimeout(
        () => void this.closeConnection(conn, 'auth_timeout', 'No auth frame arrived in time'),
        this.settings.authTimeoutMs,
      );
      conn.authTimer.unref();
      this.send(conn, { type: 'challenge', nonce: conn.nonce });
    } else {
      if (role === 'mobile' || role === 'app')
        conn.platformId = this.sessions.platformIdOf(session);
      conn.platformAlias = session.platformAlias;
      await this.join(conn, session);
    }
    for (const data of early) await this.onFrame(conn, data, false);
  }

  private refuse(ws: WebSocket, code: RelayErrorCode, message: string): void {
    this.metrics.errors.inc({ code });
    if (ws.readyState === ws.OPEN) {
      ws.send(JSON.stringify({ type: 'error', code, message }));
      ws.close(CLOSE_FOR[code] ?? CLOSE_CODES.forbidden, code);
    }
  }

  /** Takes the role's slot in the session and announces the socket to its peer. */
  private async join(conn: RelayConnection, session: PairingSession): Promise<boolean> {
    const ttl = conn.expiresAt.getTime() - Date.now();
    if (!(await this.bus.claimSlot(conn.sessionId, conn.role, conn.id, ttl))) {
      await this.closeConnection(
        conn,
        'already_connected',
        `This session already has a ${conn.role} socket`,
      );
      return false;
    }
    conn.slotHeld = true;
    if (!this.connections.has(conn)) {
      // the socket closed while the slot was being claimed
      conn.slotHeld = false;
      await this.bus.releaseSlot(conn.sessionId, conn.role, conn.id);
      return false;
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
    if (conn.closing) return false;

    // Know whether the peer is there before saying `joined`: a client may send its first frame
    // the moment it reads `joined`, and that frame must find the peer (issue 11, item 1). We are
    // subscribed already, so a peer that takes its slot after this check announces itself to us.
    const peer = PEER_ROLE[conn.role];
    const peerThere = await this.bus.isSlotTaken(conn.sessionId, peer);
    if (conn.closing) return false;
    this.send(
      conn,
      conn.legacy
        ? { type: 'joined', role: conn.role as 'app' | 'hardware' }
        : {
            type: 'joined',
            role: conn.role as 'mobile' | 'device',
            session_id: conn.sessionId,
            expires_at: conn.expiresAt.toISOString(),
          },
    );
    if (peerThere) {
      this.notePeer(
        conn,
        true,
        this.presenceFrame(peer, true, peer === 'device' ? session.deviceId : undefined),
      );
    }
    await this.deliver(conn.sessionId, {
      to: peer,
      frame: this.presenceFrame(conn.role, true, conn.deviceId),
      peer: { role: conn.role, present: true },
    });
    this.logger.debug({ sessionId: conn.sessionId, role: conn.role }, 'Socket joined');
    return true;
  }

  private presenceFrame(role: RelayRole, present: boolean, deviceId?: string): OutboundFrame {
    if (role === 'app' || role === 'hardware')
      return { type: 'status', msg: `${role} ${present ? 'connected' : 'disconnected'}` };
    const frame: OutboundFrame = {
      type: 'status',
      peer: role,
      state: present ? 'connected' : 'disconnected',
    };
    if (deviceId && present && role === 'device') frame.device_id = deviceId;
    return frame;
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
        await this.bus.unsubscribe(conn.sessionId).catch(() => undefined);
      }
    }
    if (conn.slotHeld) {
      conn.slotHeld = false;
      await this.bus.releaseSlot(conn.sessionId, conn.role, conn.id).catch(() => undefined);
      if (!conn.closing || this.shuttingDown) {
        await this.deliver(conn.sessionId, {
          to: PEER_ROLE[conn.role],
          frame: this.presenceFrame(conn.role, false),
          peer: { role: conn.role, present: false },
        }).catch(() => undefined);
      }
    }
    this.logger.debug({ sessionId: conn.sessionId, role: conn.role }, 'Socket left');
  }

  /**
   * The hard deadline. New-protocol sockets are told (`session_expired`); legacy sockets are
   * closed without a frame, as the old server did at token expiry (the fielded client knows
   * no such frame).
   */
  private async expire(conn: RelayConnection): Promise<void> {
    if (conn.closing) return;
    conn.closing = true;
    if (!conn.legacy) this.send(conn, { type: 'session_expired' });
    conn.ws.close(CLOSE_CODES.expired, 'session_expired');
  }

  /** Sends an error frame (when there is a code) and closes the socket. */
  async closeConnection(
    conn: RelayConnection,
    code: RelayErrorCode | undefined,
    message: string,
    closeCode?: number,
  ): Promise<void> {
    if (conn.closing) return;
    conn.closing = true;
    if (code) this.sendError(conn, code, message);
    conn.ws.close(
      closeCode ?? (code ? CLOSE_FOR[code] : undefined) ?? CLOSE_CODES.normal,
      code ?? 'closed',
    );
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

  // ---- frames in ------------------------------------------------------------------------

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
    conn.alive = true;
    try {
      switch (frame.type) {
        case 'ping':
          return this.send(conn, { type: 'pong' });
        case 'pong':
          return;
        case 'auth':
          return await this.authenticateDevice(conn, frame);
        default:
          break;
      }
      if (!conn.joined)
        return this.sendError(
          conn,
          'not_authenticated',
          'Authenticate first (answer the challenge)',
        );
      switch (frame.type) {
        case 'to_device':
          return await this.relay(conn, 'device', { type: 'from_mobile', data: frame.data });
        case 'to_mobile':
          return await this.relay(conn, 'mobile', { type: 'from_device', data: frame.data });
        case 'to_hardware':
          return await this.relayToHardware(conn, frame.data);
        case 'to_app':
          return await this.relayToApp(conn, frame.data);
        case 'submit_result':
          return await this.submissions.submitNew(this.submissionContext(conn), frame.image);
        case 'to_backend':
          return await this.submissions.submitLegacy(this.submissionContext(conn), frame.data);
      }
    } catch (error) {
      if (error instanceof AppError)
        return this.sendError(conn, 'internal_error', 'The frame could not be handled');
      this.logger.error(
        { err: error, sessionId: conn.sessionId, role: conn.role },
        'Frame handling failed',
      );
      this.sendError(conn, 'internal_error', 'The frame could not be handled');
    }
  }

  private async authenticateDevice(conn: RelayConnection, frame: AuthFrame): Promise<void> {
    if (conn.role !== 'device' || !conn.nonce) {
      return this.sendError(
        conn,
        'unknown_type',
        conn.joined ? 'Already authenticated' : 'This socket does not take auth frames',
      );
    }
    const nonce = conn.nonce;
    conn.nonce = undefined;
    clearTimeout(conn.authTimer);
    if (frame.session_id !== conn.sessionId) {
      return this.closeConnection(
        conn,
        'session_mismatch',
        'auth.session_id is not the session of this token',
      );
    }
    let key;
    try {
      key = (await this.kiosks.activeKey(frame.device_id)).key;
    } catch (error) {
      const blocked = error instanceof AppError && error.code === 'device_blocked';
      return this.closeConnection(
        conn,
        blocked ? 'device_blocked' : 'device_not_registered',
        blocked ? 'This kiosk is blocked' : 'This kiosk is not registered',
      );
    }
    const message = Buffer.from(`mdai-auth|${conn.sessionId}|${nonce}`, 'utf8');
    const signature = Buffer.from(frame.signature, 'base64');
    const valid =
      signature.length > 0 &&
      verify(
        'sha256',
        message,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        signature,
      );
    if (!valid) {
      this.logger.warn(
        { sessionId: conn.sessionId, deviceId: frame.device_id },
        'Kiosk auth signature refused',
      );
      return this.closeConnection(
        conn,
        'invalid_signature',
        'The signature does not verify with the registered key',
      );
    }
    conn.deviceId = frame.device_id;
    const session = await this.sessions.find(conn.sessionId);
    if (!session)
      return this.closeConnection(conn, 'session_not_found', 'The session does not exist');
    conn.platformId = this.sessions.platformIdOf(session);
    await this.sessions.recordDevice(conn.sessionId, frame.device_id);
    await this.join(conn, session);
  }

  private async relay(conn: RelayConnection, to: RelayRole, frame: OutboundFrame): Promise<void> {
    if (!conn.peerPresent)
      return this.sendError(conn, 'peer_not_connected', `The ${to} is not connected`);
    // a local kiosk socket is gated in send(); a frame for another instance is gated here too,
    // so no platform id crosses Redis toward a kiosk
    const remote = !this.sessionsHere.get(conn.sessionId)?.has(to);
    const outgoing =
      remote && KIOSK_ROLES.has(to)
        ? this.forKiosk(frame, to, conn.platformId, conn.platformAlias)
        : frame;
    if (!outgoing)
      return this.sendError(conn, 'privacy_violation', 'The frame still held the platform id');
    await this.deliver(conn.sessionId, { to, frame: outgoing });
    this.metrics.relayed.inc({ to });
  }

  /** Legacy: the app's platform id is kept and replaced by the session's alias before the hardware sees it. */
  private async relayToHardware(conn: RelayConnection, data: JsonObject): Promise<void> {
    const sent = data.platform_id;
    if (typeof sent === 'string' && sent.length > 0 && sent !== conn.platformId) {
      if (!/^[A-Za-z0-9_-]{3,128}$/.test(sent))
        return this.sendError(conn, 'invalid_message', 'data.platform_id is not a platform id');
      const session = await this.sessions.find(conn.sessionId);
      if (!session)
        return this.closeConnection(conn, 'session_not_found', 'The session does not exist');
      conn.platformAlias = await this.sessions.setLegacyPlatformId(session, sent);
      conn.platformId = sent;
    }
    const mapped =
      conn.platformId && conn.platformAlias
        ? replaceEverywhere(data, conn.platformId, conn.platformAlias)
        : data;
    await this.relay(conn, 'hardware', { type: 'from_app', data: mapped });
  }

  /** Legacy: the hardware speaks of the alias; the app hears the real id. */
  private async relayToApp(conn: RelayConnection, data: JsonObject): Promise<void> {
    if (!conn.platformAlias || !conn.platformId) {
      const session = await this.sessions.find(conn.sessionId);
      if (session?.platformAlias) {
        conn.platformAlias = session.platformAlias;
        conn.platformId = this.sessions.platformIdOf(session);
      }
    }
    const mapped =
      conn.platformAlias && conn.platformId
        ? replaceEverywhere(data, conn.platformAlias, conn.platformId)
        : data;
    await this.relay(conn, 'app', { type: 'from_hardware', data: mapped });
  }

  private submissionContext(conn: RelayConnection): SubmissionContext {
    return {
      sessionId: conn.sessionId,
      deviceId: conn.deviceId,
      expiresAt: conn.expiresAt,
      platformAlias: conn.platformAlias,
      reply: (frame: OutboundFrame) => this.send(conn, frame),
      error: (code: RelayErrorCode, message: string) => this.sendError(conn, code, message),
      toPeer: (frame: OutboundFrame) =>
        this.deliver(conn.sessionId, { to: PEER_ROLE[conn.role], frame }),
      closeBoth: async (frame: OutboundFrame) => {
        await this.deliver(conn.sessionId, {
          to: PEER_ROLE[conn.role],
          frame,
          close: { code: CLOSE_CODES.normal, reason: 'completed' },
        });
        this.send(conn, frame);
        await this.closeConnection(conn, undefined, 'completed', CLOSE_CODES.normal);
      },
      learnAlias: (alias: string, platformId: string) => {
        conn.platformAlias = alias;
        conn.platformId = platformId;
      },
    };
  }

  // ---- frames out -----------------------------------------------------------------------

  /**
   * The last gate before a kiosk: removes the platform id at any depth, then checks the
   * serialized frame once more; a frame that would still carry it is dropped (undefined).
   */
  private forKiosk(
    frame: OutboundFrame,
    role: RelayRole,
    platformId: string | undefined,
    alias: string | undefined,
  ): OutboundFrame | undefined {
    const text = this.kioskText(frame, role, platformId, alias);
    return text === undefined ? undefined : (JSON.parse(text) as OutboundFrame);
  }

  /**
   * The kiosk-bound frame as the text to send, or undefined when it must be dropped. Fast path:
   * a frame whose text holds neither the platform id nor a platform-id key goes out as is.
   */
  private kioskText(
    frame: OutboundFrame,
    role: RelayRole,
    platformId: string | undefined,
    alias: string | undefined,
  ): string | undefined {
    const text = JSON.stringify(frame);
    if (!platformId) return text;
    const hasIdKey = role === 'device' && PLATFORM_ID_KEY_IN_TEXT.test(text);
    if (!hasIdKey && !text.includes(platformId)) return text;
    // legacy hardware keeps its key names (it waits for data.platform_id) and sees the alias
    const clean =
      role === 'hardware'
        ? replaceEverywhere(frame, platformId, alias ?? REDACTED_PLATFORM_ID)
        : withoutPlatformId(frame, platformId);
    const cleanText = JSON.stringify(clean);
    if (cleanText.includes(platformId)) {
      this.logger.error('Dropped a kiosk-bound frame that still held the platform id');
      this.metrics.errors.inc({ code: 'privacy_violation' });
      return undefined;
    }
    return cleanText;
  }

  /** To the socket of `to` in the session: directly when it is on this instance, else over the bus. */
  async deliver(sessionId: string, envelope: BusEnvelope): Promise<void> {
    const local = this.sessionsHere.get(sessionId)?.get(envelope.to);
    if (local) return this.onEnvelope(sessionId, envelope);
    await this.bus.publish(sessionId, envelope);
  }

  private onEnvelope(sessionId: string, envelope: BusEnvelope): void {
    const conn = this.sessionsHere.get(sessionId)?.get(envelope.to);
    if (!conn || conn.closing) return;
    if (envelope.peer) {
      if (
        envelope.peer.present &&
        envelope.frame.type === 'status' &&
        'device_id' in envelope.frame &&
        envelope.frame.device_id
      ) {
        conn.deviceId ??= envelope.frame.device_id;
      }
      this.notePeer(conn, envelope.peer.present, envelope.frame);
    } else {
      this.send(conn, envelope.frame);
    }
    if (envelope.close) {
      conn.closing = true;
      conn.ws.close(envelope.close.code, envelope.close.reason);
    }
  }

  /** Every frame to a socket leaves here; a kiosk's pass the platform-id gate first. */
  send(conn: RelayConnection, frame: OutboundFrame): void {
    if (conn.ws.readyState !== conn.ws.OPEN) return;
    const text = KIOSK_ROLES.has(conn.role)
      ? this.kioskText(frame, conn.role, conn.platformId, conn.platformAlias)
      : JSON.stringify(frame);
    if (text !== undefined) conn.ws.send(text);
  }

  sendError(conn: RelayConnection, code: RelayErrorCode, message: string): void {
    this.metrics.errors.inc({ code });
    this.send(conn, { type: 'error', code, message });
  }
}

function rawSize(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, chunk) => sum + chunk.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}
