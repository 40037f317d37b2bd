import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnModuleDestroy,
  OnModuleInit,
  Optional,
} from '@nestjs/common';
import { IncomingMessage } from 'node:http';
import { Clock, ShutdownDeadline } from '@app/common';
import { randomBytes } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import {
  PairingSession,
  SessionService,
  SessionTokenService,
  SessionTokenType,
} from '@app/session';
import { KioskRegistryService, KioskRevocation } from '@app/kiosk-registry';
import { BusUnavailableError, KioskNotice, RelayBus } from './bus/relay-bus';
import { phoneResultFrame } from './handlers/pairing.handler';
import { CLOSE_FOR } from './handlers/reply';
import { KioskPresence } from './presence/kiosk-presence';
import { CLOSE_CODES, closeFor, PING_TEXT, RelayErrorCode, RelayRole } from './protocol/messages';
import { closeSocket, isLegacy, KIOSK_ROLES, PEER_ROLE, RelayConnection } from './relay-connection';
import { presenceFrame, RelayDelivery } from './relay-delivery';
import { EarlyFrames } from './early-frames';
import { RelayIntake } from './relay-intake';
import { RelayMetrics } from './relay.metrics';
import { kioskFrameLimit, relayConfig, RelaySettings } from './relay.config';

/** How many resync windows a join waits out before it is refused `bus_unavailable`. */
const MAX_RESYNC_WAITS = 3;
/** A legacy app socket on a session whose app already joined once. */
const APP_USED = 'This session already had its app';
/** Past the end of the resync window (the store's clock), before the claim is made again. */
const RESYNC_MARGIN_MS = 50;

const TOKEN_TYPES: Record<RelayRole, SessionTokenType[]> = {
  mobile: ['mobile'],
  device: ['device'],
  app: ['legacy'],
  hardware: ['legacy'],
};

/**
 * The relay hub: the sockets of this instance (connection map, lifecycle, keepalive and slot
 * refresh), delivery (the kiosk gate, then the local socket or the bus) and the bus itself, whose
 * every failure is caught here. What a frame means is decided by the protocol handlers
 * (PairingHandler, LegacyHandler), which return a Reply the hub carries out.
 */
@Injectable()
export class RelayHub implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger(RelayHub.name);
  private readonly connections = new Set<RelayConnection>();
  private readonly instanceId = randomBytes(6).toString('hex');
  private nextConnection = 0;
  private keepalive?: NodeJS.Timeout;
  private slotRefresh?: NodeJS.Timeout;
  private shuttingDown = false;
  private closingAll?: Promise<void>;

  constructor(
    private readonly bus: RelayBus,
    private readonly delivery: RelayDelivery,
    private readonly sessions: SessionService,
    private readonly tokens: SessionTokenService,
    private readonly intake: RelayIntake,
    private readonly metrics: RelayMetrics,
    private readonly presence: KioskPresence,
    private readonly clock: Clock,
    private readonly kiosks: KioskRegistryService,
    @Inject(relayConfig.KEY) private readonly settings: RelaySettings,
    @Optional() private readonly shutdown?: ShutdownDeadline,
  ) {}

  onModuleInit(): void {
    // a kiosk blocked or re-keyed on any instance leaves its sessions on every instance (not
    // awaited: with Redis down at boot the subscription is taken when it is back)
    this.kiosks.onRevocation((revocation) => this.revoke(revocation));
    void this.bus.subscribeKioskNotices((notice) => void this.onKioskNotice(notice));
    this.keepalive = setInterval(() => this.sweepKeepalive(), this.settings.pingIntervalMs);
    this.keepalive.unref();
    this.slotRefresh = setInterval(
      () => void this.refreshSlots(),
      Math.max(100, Math.floor(this.settings.slotTtlMs / 3)),
    );
    this.slotRefresh.unref();
    // Redis back after an outage (maybe empty): this instance's slots are re-asserted at once
    this.bus.onReconnect(() => void this.refreshSlots());
  }

  onModuleDestroy(): void {
    clearInterval(this.keepalive);
    clearInterval(this.slotRefresh);
  }

  /**
   * Graceful shutdown: the sockets are closed (`closeAll`), if the drain has not already, within
   * the shutdown's deadline (a slot's release waits for Redis, which may not answer).
   */
  async beforeApplicationShutdown(): Promise<void> {
    await (this.shutdown ? this.shutdown.within(this.closeAll()) : this.closeAll());
  }

  /**
   * Free every slot so the socket can reconnect elsewhere, and close; a socket accepted from now
   * on is closed at once (`restarting`). The new protocol is told why (`server_restarting`);
   * legacy sockets get the close frame only, since the fielded client treats any error frame as
   * fatal. Called by the drain's start (`ShutdownGrace`), with the listener closed; once (a
   * second call waits for the first).
   */
  closeAll(): Promise<void> {
    this.closingAll ??= this.closeSockets();
    return this.closingAll;
  }

  private async closeSockets(): Promise<void> {
    this.shuttingDown = true;
    for (const conn of this.connections) {
      if (conn.legacy) this.delivery.close(conn, closeFor('restarting'));
      else
        this.delivery.closeWithError(
          conn,
          'server_restarting',
          'The server is shutting down; reconnect',
          closeFor('server_restarting'),
        );
    }
    await Promise.allSettled([...this.connections].map((conn) => this.onClose(conn)));
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  // ---- kiosks that lose their standing --------------------------------------------------

  /**
   * A kiosk was blocked, or its key rotated, on this instance: its sockets here close at once,
   * and the other instances are told over the bus. If the bus is down, those keep their sockets
   * until the session ends, but the standing check before a submission goes upstream
   * (FaceSubmissionService) still refuses them.
   */
  private revoke(revocation: KioskRevocation): void {
    this.endKioskSessions(revocation);
    this.bus.publishKioskNotice(revocation).catch((error: unknown) => this.busDown(error));
  }

  /**
   * A notice from another instance (or from anyone who can publish on Redis): the kiosk's
   * standing is read from the store, per socket (the key it authenticated with), and only a
   * socket whose kiosk really lost it is ended, with the store's reason. A store that does not
   * answer ends nothing: the standing check before a submission still refuses (fail closed).
   */
  private async onKioskNotice(notice: KioskNotice): Promise<void> {
    for (const conn of [...this.connections]) {
      if (conn.role !== 'device' || conn.deviceId !== notice.deviceId || conn.closing) continue;
      let standing;
      try {
        standing = await this.kiosks.standing(notice.deviceId, conn.keyFingerprint ?? '');
      } catch (error) {
        this.logger.warn(
          { err: error, sessionId: conn.sessionId },
          "Kiosk notice: the kiosk's standing could not be read; its session stays",
        );
        continue;
      }
      // a kiosk still authenticating has no key to compare yet: a notice of a rotation (maybe
      // forged) leaves it; the standing check before its submission compares the key it used
      if (standing === 'ok' || (standing === 'key_rotated' && !conn.keyFingerprint)) continue;
      const change = standing === 'key_rotated' ? 'key_rotated' : 'blocked';
      this.endKioskSessions({ deviceId: notice.deviceId, change }, conn);
    }
  }

  /**
   * Every socket of the kiosk on this instance (or only `only`): the phone gets `session_closed` with the reason
   * (close 4409), the kiosk the error of that code and its close. While a submission of the
   * kiosk is in flight the phone stays: it gets the submission's `result`, then `session_closed`
   * (a verdict thrown away would leave it to open a new session and submit again). A kiosk still
   * authenticating has its device id noted before its key is read (PairingHandler.onAuth): it is
   * closed here too, and never joins (RelayIntake.answer joins only a socket still open).
   */
  private endKioskSessions(notice: KioskNotice, only?: RelayConnection): void {
    const code = notice.change === 'blocked' ? 'device_blocked' : 'device_key_rotated';
    const message =
      notice.change === 'blocked'
        ? 'This kiosk was blocked: the session is over'
        : "This kiosk's key was rotated: authenticate again with the new key";
    for (const conn of this.connections) {
      if (conn.role !== 'device' || conn.deviceId !== notice.deviceId || conn.closing) continue;
      if (only && conn !== only) continue;
      this.logger.warn(
        { sessionId: conn.sessionId, deviceId: notice.deviceId, change: notice.change },
        'Kiosk lost its standing: its session ends',
      );
      if (conn.submitting > 0) {
        // its image may be with the upstream: the phone gets the verdict (PairingHandler
        // onSubmit), then the session's end; only the kiosk leaves now
        conn.revokedBy = code;
      } else if (conn.joined) {
        this.delivery
          .deliver(conn, [{ type: 'session_closed', reason: code }], closeFor('kiosk_revoked'))
          .catch((error: unknown) => this.busDown(error));
      }
      this.delivery.closeWithError(conn, code, message);
    }
  }

  // ---- connection lifecycle --------------------------------------------------------------

  /** Called by the gateways for every new socket on their path. Never throws. */
  async attach(role: RelayRole, ws: WebSocket, request: IncomingMessage): Promise<void> {
    ws.on('error', () => undefined);
    try {
      await this.accept(role, ws, request);
    } catch (error) {
      this.logger.error({ err: error, role }, 'Accepting a socket failed');
      this.refuse(
        ws,
        'internal_error',
        'The socket could not be accepted',
        closeFor('internal_error').code,
      );
    }
  }

  private async accept(role: RelayRole, ws: WebSocket, request: IncomingMessage): Promise<void> {
    if (this.shuttingDown)
      return closeSocket(ws, closeFor('restarting').code, closeFor('restarting').reason);
    // frames that arrive before the socket is in the session wait here, in order, within a bound
    const early = new EarlyFrames(
      ws,
      this.settings.rateBurst,
      KIOSK_ROLES.has(role) ? kioskFrameLimit(this.settings) : this.settings.maxFrameBytes,
      () =>
        this.refuse(
          ws,
          'rate_limited',
          'Too many frames before the socket was accepted',
          closeFor('rate_limited').code,
        ),
    );
    const tokens = new URL(request.url ?? '/', 'ws://relay').searchParams.getAll('token');
    // a repeated token is refused, as REST refuses a repeated query parameter: no first-wins
    if (tokens.length > 1) {
      return this.refuse(ws, 'not_authenticated', 'The session token is given more than once');
    }
    const check = this.tokens.check(tokens[0], TOKEN_TYPES[role]);
    if (!check.ok) return this.refuse(ws, check.code, check.message);
    let session: PairingSession | undefined;
    try {
      session = await this.sessions.find(check.sessionId);
    } catch (error) {
      this.logger.error({ err: error }, 'Session lookup failed');
      return this.refuse(
        ws,
        'internal_error',
        'The session could not be loaded',
        closeFor('internal_error').code,
      );
    }
    if (!session) return this.refuse(ws, 'session_not_found', 'The session does not exist');
    if (session.status === 'completed') {
      // a phone whose socket dropped before it read its result gets the result now
      if (role === 'mobile' && this.giveKeptOutcome(ws, session)) return;
      return this.refuse(ws, 'session_closed', 'The session is already completed');
    }
    if (session.expiresAt.getTime() <= this.clock.now().getTime())
      return this.refuse(ws, 'session_expired', 'The session has expired');
    if (ws.readyState !== ws.OPEN) return;

    const conn = new RelayConnection(
      `${this.instanceId}:${++this.nextConnection}`,
      role,
      ws,
      session.id,
      session.expiresAt,
      { perSecond: this.settings.ratePerSecond, burst: this.settings.rateBurst },
      request.socket,
    );
    this.connections.add(conn);
    this.metrics.connections.inc({ role });
    ws.on('pong', () => (conn.alive = true));
    const pings = early.takePings();
    ws.on('ping', (data: Buffer) => this.delivery.answerPing(conn, data));
    for (const data of pings) this.delivery.answerPing(conn, data);
    ws.on('close', (code: number) => {
      // the phone's answer to our close: it read the frames before it (see answersCompleted)
      if (conn.toldOutcome && answersCompleted(code))
        this.outcomeHeard(conn.sessionId, conn.outcomeVia);
      void this.onClose(conn);
    });
    conn.expiryTimer = setTimeout(
      () => this.expire(conn),
      Math.max(0, session.expiresAt.getTime() - this.clock.now().getTime()),
    );
    conn.expiryTimer.unref();
    let listening = false;
    /** From here the socket's frames go to the intake, the early ones first. Once. */
    const listen = (): void => {
      if (listening) return;
      listening = true;
      const frames = early.take();
      // refused meanwhile (too many early frames while joining): its close ends the connection
      if (conn.closing || ws.readyState !== ws.OPEN) return;
      const join = (joining: RelayConnection) => this.join(joining);
      ws.on('message', (data: RawData, isBinary: boolean) =>
        this.intake.onMessage(conn, data, isBinary, join),
      );
      for (const data of frames) this.intake.onMessage(conn, data, false, join);
    };

    if (role === 'device') {
      conn.nonce = randomBytes(16).toString('base64url');
      conn.authTimer = setTimeout(
        () => this.delivery.closeWithError(conn, 'auth_timeout', 'No auth frame arrived in time'),
        this.settings.authTimeoutMs,
      );
      conn.authTimer.unref();
      this.delivery.send(conn, { type: 'challenge', nonce: conn.nonce });
    } else {
      // the phone and the app hold the id; the hardware's gate needs it too
      conn.platformId = this.sessions.platformIdOf(session);
      conn.platformIds.add(conn.platformId);
      conn.platformAlias = session.platformAlias;
      let joinDone!: () => void;
      const joinWork = new Promise<void>((resolve) => (joinDone = resolve));
      try {
        await this.join(conn, session.deviceId, () => {
          // `joined` goes out next, and a client may send the moment it reads it: its frames
          // are the session's from here (its limits, not those of early frames), handled after
          // the early ones and the rest of the join (its presence announced, a catch-up)
          this.intake.hold(conn, joinWork);
          listen();
        });
        // back while the submission was upstream, or one that completed after the session was
        // read here (open then): its outcome may have been published before this socket listened
        if (role === 'mobile') await this.catchUp(conn);
      } finally {
        joinDone();
      }
    }
    listen();
  }

  // ---- a phone that comes back for its outcome --------------------------------------------

  /**
   * A phone socket on a completed session whose outcome is kept for it (its socket was gone when
   * the outcome was known, or went before it read it): the `result` it would have had, then
   * `session_closed` and close 1000, as at completion. Kept until the phone answers that close
   * (1000), as live: a phone that drops again before reading it gets it on its next return, so
   * at least once (two sockets of the phone at once may both get it). False when there is none
   * to give (the socket is refused as before).
   */
  private giveKeptOutcome(ws: WebSocket, session: PairingSession): boolean {
    if (ws.readyState !== ws.OPEN) return false;
    const outcome = this.sessions.keptOutcome(session);
    if (!outcome) return false;
    ws.removeAllListeners('message');
    ws.removeAllListeners('ping');
    const frames = [
      phoneResultFrame(outcome, this.sessions.platformIdOf(session)),
      { type: 'session_closed', reason: 'completed' },
    ];
    for (const frame of frames) ws.send(JSON.stringify(frame));
    ws.once('close', (code: number) => {
      if (answersCompleted(code)) this.outcomeHeard(session.id, 'on_return');
    });
    // `ws`'s own 30 s for the close answer: the result may still be on a slow link
    const close = closeFor('completed');
    ws.close(close.code, close.reason);
    this.logger.log({ sessionId: session.id }, 'A returning phone was given its kept outcome');
    return true;
  }

  /**
   * A phone that joined a session whose submission was upstream when the socket opened: if it
   * completed meanwhile, its outcome is given here (the live one may have gone out before this
   * socket listened), unless the live one reached this socket already.
   */
  private async catchUp(conn: RelayConnection): Promise<void> {
    if (conn.closing || !conn.joined) return;
    try {
      const session = await this.sessions.find(conn.sessionId);
      if (session?.status !== 'completed' || conn.closing) return;
      // kept until the phone answers the close, as live (the live frame, if it came meanwhile,
      // closed this socket: nothing more is sent)
      const outcome = this.sessions.keptOutcome(session);
      if (!outcome) return;
      conn.outcomeVia = 'on_return';
      this.delivery.send(conn, phoneResultFrame(outcome, conn.platformId));
      this.delivery.send(conn, { type: 'session_closed', reason: 'completed' });
      this.delivery.close(conn, closeFor('completed'));
    } catch (error) {
      this.logger.error({ err: error, sessionId: conn.sessionId }, 'Catching up an outcome failed');
    }
  }

  /** The phone answered the close after its result: it read it; it is no longer kept. */
  private outcomeHeard(sessionId: string, how: 'live' | 'on_return'): void {
    this.sessions
      .outcomeHeard(sessionId)
      .then((kept) => kept && this.metrics.phoneOutcomes.inc({ how }))
      .catch((error: unknown) =>
        this.logger.error({ err: error, sessionId }, 'Marking an outcome read failed'),
      );
  }

  /**
   * A socket that is not taken: it keeps nothing (no listener reads its frames, none is held)
   * and is cut if it does not answer the close within CLOSE_GRACE_MS. Once per socket.
   */
  private refuse(ws: WebSocket, code: RelayErrorCode, message: string, closeCode?: number): void {
    ws.removeAllListeners('message');
    ws.removeAllListeners('ping');
    if (ws.readyState !== ws.OPEN) return;
    this.metrics.errors.inc({ code });
    ws.send(JSON.stringify({ type: 'error', code, message }));
    closeSocket(ws, closeCode ?? CLOSE_FOR[code] ?? CLOSE_CODES.forbidden, code);
  }

  /**
   * Takes the role's slot in the session and announces the socket to its peer. `joined` is sent
   * only once the peer's presence is known: a client may send its first frame the moment it
   * reads `joined` (`beforeJoined` runs just before it goes out). A bus failure refuses the
   * socket with `bus_unavailable`.
   */
  private async join(
    conn: RelayConnection,
    knownDeviceId?: string,
    beforeJoined?: () => void,
  ): Promise<void> {
    try {
      await this.takeSession(conn, knownDeviceId, beforeJoined);
    } catch (error) {
      if (error instanceof BusUnavailableError) {
        this.busDown(error);
        this.delivery.closeWithError(
          conn,
          'bus_unavailable',
          'The relay is unavailable; try again later',
        );
      } else {
        this.logger.error({ err: error, sessionId: conn.sessionId }, 'Joining the session failed');
        this.delivery.closeWithError(conn, 'internal_error', 'The session could not be joined', {
          code: 1011,
          reason: 'internal_error',
        });
      }
      await this.onClose(conn);
    }
  }

  /**
   * Spends the legacy app's one use in the session store, once its Redis mark (`firstUse`) is
   * spent. A store that fails gives the mark back, frees the slot and closes the socket 1013
   * (`app_use_unrecorded`, after an `internal_error` frame): the app's reconnect takes the use
   * again, where a mark left behind would refuse it `already_connected` for the session's life.
   */
  private async spendAppUse(conn: RelayConnection): Promise<boolean | 'failed'> {
    try {
      return await this.sessions.spendAppUse(conn.sessionId);
    } catch (error) {
      this.logger.error(
        { err: error, sessionId: conn.sessionId },
        "The legacy app's use of its session could not be recorded: its mark is given back, the app may reconnect",
      );
      // a bus that fails too keeps the mark (refused for the session, as before): the slot is
      // freed and the socket closed all the same
      await this.bus
        .forgetUse(conn.sessionId, 'app')
        .catch((forget: unknown) =>
          this.logger.warn(
            { err: forget, sessionId: conn.sessionId },
            "The legacy app's use mark could not be given back: its reconnect is refused",
          ),
        );
      await this.releaseSlot(conn);
      this.delivery.closeWithError(
        conn,
        'internal_error',
        'The session could not be joined; try again',
        closeFor('app_use_unrecorded'),
      );
      return 'failed';
    }
  }

  /** Frees the socket's slot (a join that does not go on): its error is the caller's. */
  private async releaseSlot(conn: RelayConnection): Promise<void> {
    conn.slotHeld = false;
    await this.bus.releaseSlot(conn.sessionId, conn.role, conn.id);
  }

  private async takeSession(
    conn: RelayConnection,
    knownDeviceId?: string,
    beforeJoined?: () => void,
  ): Promise<void> {
    const ttl = Math.min(
      this.settings.slotTtlMs,
      conn.expiresAt.getTime() - this.clock.now().getTime(),
    );
    // a legacy session's app slot is taken once: after the app left, nobody takes its place
    if (conn.role === 'app' && (await this.bus.wasUsed(conn.sessionId, 'app')))
      return this.delivery.closeWithError(conn, 'already_connected', APP_USED);
    const claim = await this.claimSlot(conn, ttl);
    if (claim === 'gone') return;
    if (claim !== 'claimed') {
      if (claim === 'held')
        this.logger.warn(
          { sessionId: conn.sessionId, role: conn.role },
          'Refused a second socket for a session: its slot is held',
        );
      return this.delivery.closeWithError(
        conn,
        'already_connected',
        `This session already has a ${conn.role} socket`,
      );
    }
    conn.slotHeld = true;
    if (!this.connections.has(conn)) {
      // the socket closed while the slot was being claimed
      await this.releaseSlot(conn);
      return;
    }
    if (conn.role === 'app') {
      // spent once the slot is ours, not before the claim: an app that gave up while its join
      // waited (a resync window) comes back to a session whose app it still is
      const lifetime = conn.expiresAt.getTime() - this.clock.now().getTime() + 60_000;
      // and in the session store: a Redis back from a snapshot taken before an app that left
      // since has lost that app's mark, never the store
      const spent =
        (await this.bus.firstUse(conn.sessionId, 'app', lifetime)) &&
        (await this.spendAppUse(conn));
      if (spent === 'failed') return;
      if (!spent) {
        await this.releaseSlot(conn);
        return this.delivery.closeWithError(conn, 'already_connected', APP_USED);
      }
      conn.appUseSpent = true;
    }
    // the session's kiosk is the one that holds its slot: a kiosk refused here is never
    // recorded (a phone that joins later is shown the session's device id)
    if (conn.role === 'device' && conn.deviceId)
      await this.sessions.recordDevice(conn.sessionId, conn.deviceId);
    conn.joined = true;
    if (conn.role === 'device' && conn.deviceId) this.presence.joined(conn.id, conn.deviceId);
    await this.delivery.register(conn);
    // subscribed first: a peer that takes its slot after this check announces itself to us
    const peer = PEER_ROLE[conn.role];
    const peerThere = await this.bus.isSlotTaken(conn.sessionId, peer);
    if (conn.closing) return;
    beforeJoined?.();
    this.delivery.send(
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
      this.delivery.notePeer(conn, true, presenceFrame(peer, true, conn.deviceId));
    }
    await this.delivery.deliver(conn, [presenceFrame(conn.role, true, conn.deviceId)], undefined, {
      role: conn.role,
      present: true,
      deviceId: conn.deviceId,
    });
    this.logger.debug({ sessionId: conn.sessionId, role: conn.role }, 'Socket joined');
  }

  /**
   * The slot's claim. While the slot store resyncs (it came back empty: Redis restarted) a free
   * slot may be a live socket's whose instance has not re-asserted it yet: the join waits out
   * the window (at most RELAY_SLOT_TTL_MS), then claims again, so the first holder keeps its
   * session. `gone`: the socket closed meanwhile.
   */
  private async claimSlot(
    conn: RelayConnection,
    ttl: number,
  ): Promise<'claimed' | 'held' | 'gone'> {
    for (let attempt = 0; ; attempt++) {
      const claim = await this.bus.claimSlot(conn.sessionId, conn.role, conn.id, ttl);
      if (typeof claim === 'string') return claim;
      if (attempt >= MAX_RESYNC_WAITS)
        throw new BusUnavailableError('claimSlot', new Error('the slot store keeps resyncing'));
      if (attempt === 0)
        this.logger.warn(
          { sessionId: conn.sessionId, role: conn.role, waitMs: claim.resyncMs },
          'Join held: the relay slot store came back empty and its holders are re-asserting their slots',
        );
      await new Promise((resolve) => setTimeout(resolve, claim.resyncMs + RESYNC_MARGIN_MS));
      if (conn.closing || !this.connections.has(conn)) return 'gone';
    }
  }

  private async onClose(conn: RelayConnection): Promise<void> {
    if (!this.connections.delete(conn)) return;
    this.presence.left(conn.id);
    this.metrics.connections.dec({ role: conn.role });
    clearTimeout(conn.expiryTimer);
    clearTimeout(conn.authTimer);
    await this.delivery.unregister(conn).catch((error: unknown) => this.busDown(error));
    if (conn.slotHeld) {
      conn.slotHeld = false;
      // if the bus is down the slot's short TTL frees it
      await this.bus
        .releaseSlot(conn.sessionId, conn.role, conn.id)
        .catch((error: unknown) => this.busDown(error));
      if (!conn.closing || conn.droppedForConduct || this.shuttingDown) {
        await this.delivery
          .deliver(conn, [presenceFrame(conn.role, false)], undefined, {
            role: conn.role,
            present: false,
          })
          .catch((error: unknown) => this.busDown(error));
      }
    }
    this.logger.debug({ sessionId: conn.sessionId, role: conn.role }, 'Socket left');
  }

  /**
   * The hard deadline. New-protocol sockets are told (`session_expired`, close 4408); legacy
   * sockets are closed with 4000 and no frame, as the old server did at token expiry.
   */
  private expire(conn: RelayConnection): void {
    if (conn.legacy) return this.delivery.close(conn, closeFor('expired'));
    this.delivery.send(conn, { type: 'session_expired' });
    this.delivery.close(conn, closeFor('session_expired'));
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
        this.delivery.sendText(conn, PING_TEXT);
      }
    }
  }

  /** Keeps this instance's slots alive; one that another socket holds now closes ours. */
  private async refreshSlots(): Promise<void> {
    const held = [...this.connections].filter((c) => c.slotHeld && !c.closing);
    if (held.length === 0) return;
    try {
      const now = this.clock.now().getTime();
      const lost = await this.bus.refreshSlots(
        held.map((c) => ({
          sessionId: c.sessionId,
          role: c.role,
          holder: c.id,
          // a store that came back from a snapshot lost the app's use if it was spent after it
          ...(c.appUseSpent ? { usedTtlMs: c.expiresAt.getTime() - now + 60_000 } : {}),
        })),
        this.settings.slotTtlMs,
      );
      for (const slot of lost) {
        const conn = held.find((c) => c.id === slot.holder);
        if (!conn) continue;
        conn.slotHeld = false;
        this.logger.warn(
          { sessionId: conn.sessionId, role: conn.role },
          "A socket's slot was taken by another socket (its refresh came too late): it is closed",
        );
        this.delivery.closeWithError(conn, 'already_connected', 'Another socket took this session');
      }
    } catch (error) {
      this.busDown(error);
    }
  }

  private busDown(error: unknown): void {
    this.metrics.errors.inc({ code: 'bus_unavailable' });
    this.logger.warn({ err: error }, 'Relay bus unavailable');
  }
}

/**
 * A phone's close that answers our `completed` 1000: `ws` and the browsers echo the code of the
 * close they received, after the frames before it. 1006 is no close frame at all (the network
 * went); another code (1001 going away) is a close the phone began itself, maybe before it read
 * our result, which a browser then drops unread. A 1000 the phone began as ours crossed it cannot
 * be told from the echo: that phone is taken as told.
 */
function answersCompleted(code: number): boolean {
  return code === closeFor('completed').code;
}
