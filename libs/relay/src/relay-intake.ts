import { Inject, Injectable, Logger } from '@nestjs/common';
import type { RawData } from 'ws';
import { BusUnavailableError } from './bus/relay-bus';
import { LegacyHandler } from './handlers/legacy.handler';
import { PairingHandler } from './handlers/pairing.handler';
import { errorReply, Reply } from './handlers/reply';
import { closeFor, InboundFrame, PONG_TEXT } from './protocol/messages';
import { parseInboundFrame, RelayedData, relayedData } from './protocol/parse-frame';
import { PEER_ROLE, RelayConnection } from './relay-connection';
import { RelayDelivery } from './relay-delivery';
import { RelayMetrics } from './relay.metrics';
import { kioskFrameLimit, queuedBytesCap, relayConfig, RelaySettings } from './relay.config';

/** Takes a kiosk into its session once its auth frame passed (RelayHub.join). */
type Join = (conn: RelayConnection) => Promise<void>;

/**
 * Frames in: size, rate and shape checks, then the socket's protocol handler, whose Reply is
 * carried out here (the peer's frames, the sender's, closes). A socket's frames are handled one
 * after another, in arrival order.
 */
@Injectable()
export class RelayIntake {
  private readonly logger = new Logger(RelayIntake.name);

  constructor(
    private readonly pairing: PairingHandler,
    private readonly legacy: LegacyHandler,
    private readonly delivery: RelayDelivery,
    private readonly metrics: RelayMetrics,
    @Inject(relayConfig.KEY) private readonly settings: RelaySettings,
  ) {
    this.kioskLimit = kioskFrameLimit(settings);
    this.kioskQueuedBytes = queuedBytesCap(settings, true);
  }

  /** The bytes a kiosk socket may have queued (never below two submissions and a frame). */
  private readonly kioskQueuedBytes: number;

  /** The largest frame a kiosk socket may send (a submission: the base64 of the largest image). */
  private readonly kioskLimit: number;

  // ---- frames in ------------------------------------------------------------------------

  /**
   * A frame that can be handled at once (the socket's earlier frames are done) is handled before
   * this returns: a relayed frame to a peer on this instance creates no promise. A frame whose
   * handling waits (a store call, the bus, the upstream) holds back the socket's later frames
   * until it is done, so they are still handled one after another, in arrival order.
   */
  onMessage(conn: RelayConnection, data: RawData, isBinary: boolean, join: Join): void {
    conn.alive = true;
    if (conn.closing) return;
    if (conn.busy) {
      // held until its turn: within bounds, whatever the client sends meanwhile
      const size = rawSize(data);
      if (!this.admitQueued(conn, size)) return;
      this.enqueue(conn, () => {
        conn.queuedFrames--;
        conn.queuedBytes -= size;
        return this.onFrame(conn, data, isBinary, join);
      });
      return;
    }
    const pending = this.onFrame(conn, data, isBinary, join);
    if (pending) this.enqueue(conn, () => pending);
  }

  /**
   * Holds the socket's frames, those queued and those to come, until `work` settles: they are
   * handled after it, in arrival order.
   */
  hold(conn: RelayConnection, work: Promise<void>): void {
    this.enqueue(conn, () => work);
  }

  /**
   * One more frame to hold behind the one being handled: within RELAY_MAX_QUEUED_FRAMES and
   * RELAY_MAX_QUEUED_BYTES (a frame alone is always held: the frame limit bounds it; a kiosk's
   * bound is never below two of its largest frames and one more, `queuedBytesCap`). Over
   * them the socket is closed (1008, `rate_limited`); the frames held are dropped when their
   * turn comes (the socket is closing).
   */
  private admitQueued(conn: RelayConnection, size: number): boolean {
    const frames = conn.queuedFrames + 1;
    const bytes = conn.queuedBytes + size;
    if (
      frames <= this.settings.maxQueuedFrames &&
      (frames === 1 || bytes <= (conn.kiosk ? this.kioskQueuedBytes : this.settings.maxQueuedBytes))
    ) {
      conn.queuedFrames = frames;
      conn.queuedBytes = bytes;
      return true;
    }
    this.logger.warn(
      { sessionId: conn.sessionId, role: conn.role, frames, bytes },
      'Closed a socket that sent too many frames while an earlier one was being handled',
    );
    this.delivery.closeWithError(
      conn,
      'rate_limited',
      'Too many frames waiting on an earlier one (a join, a store call)',
      closeFor('rate_limited'),
    );
    return false;
  }

  private enqueue(conn: RelayConnection, next: () => void | Promise<void>): void {
    conn.busy = true;
    const tail = conn.queue
      .then(next)
      .catch((error: unknown) =>
        this.logger.error(
          { err: error, sessionId: conn.sessionId, role: conn.role },
          'Frame handling failed',
        ),
      );
    conn.queue = tail;
    void tail.then(() => {
      if (conn.queue === tail) conn.busy = false;
    });
  }

  private onFrame(
    conn: RelayConnection,
    data: RawData,
    isBinary: boolean,
    join: Join,
  ): void | Promise<void> {
    if (conn.closing) return;
    if (isBinary)
      return this.delivery.sendError(conn, 'unsupported_frame', 'Binary frames are not accepted');
    const size = rawSize(data);
    const limit = conn.kiosk ? this.kioskLimit : this.settings.maxFrameBytes;
    if (size > limit) return this.tooLarge(conn, limit);
    if (!conn.takeToken()) {
      this.metrics.errors.inc({ code: 'rate_limited' });
      if (conn.shouldReportRateLimit())
        this.delivery.sendError(conn, 'rate_limited', 'Too many frames: slow down');
      return;
    }
    const text = rawText(data);
    // most frames are relayed data already written as it leaves: not parsed and written again
    // (nor encoded again: the peer's frame is built from the received bytes)
    const relayed = relayedData(conn.role, text, Buffer.isBuffer(data) ? data : undefined);
    if (relayed !== undefined) return this.onRelayed(conn, relayed, size, join);
    const parsed = parseInboundFrame(conn.role, text);
    if (!parsed.ok) {
      // a kiosk that has not authenticated has one try, and a malformed frame spends it
      if (!conn.joined)
        return this.delivery.closeWithError(
          conn,
          parsed.code,
          parsed.message,
          closeFor(parsed.code),
        );
      if (parsed.strict && conn.role === 'hardware') {
        // the frame is refused all the same (never handled: no repeated name is read two ways,
        // no `constructor` member reaches an object), but without the error frame the old
        // server never sent for what its JSON.parse took: the fielded hardware takes any error
        // as fatal and would sit out its 120 s wait serving nobody
        this.metrics.errors.inc({ code: parsed.code });
        this.logger.warn(
          { sessionId: conn.sessionId, code: parsed.code },
          'Dropped a legacy hardware frame the old server took (not I-JSON, or over a bound; no error frame sent)',
        );
        return;
      }
      return this.delivery.sendError(conn, parsed.code, parsed.message);
    }
    const frame = parsed.frame;
    const isSubmission = frame.type === 'submit_result' || frame.type === 'to_backend';
    if (!isSubmission && size > this.settings.maxFrameBytes)
      return this.tooLarge(conn, this.settings.maxFrameBytes);
    if (frame.type === 'ping') return this.delivery.sendText(conn, PONG_TEXT);
    if (frame.type === 'pong') return;
    if (frame.type === 'auth') clearTimeout(conn.authTimer);
    else if (!conn.joined) return this.notAuthenticated(conn);
    if (!isSubmission)
      return this.handle(conn, conn.legacy ? this.legacy : this.pairing, frame, join);
    // a submission waits on the upstream: the socket's other frames (pings) are not held up by
    // it. While it is in flight a kick closes the kiosk only: the phone gets the outcome.
    conn.submitting++;
    const work = this.handle(conn, conn.legacy ? this.legacy : this.pairing, frame, join);
    if (work) void work.finally(() => conn.submitting--);
    else conn.submitting--;
  }

  /**
   * A relayed frame recognised unparsed (`relayedData`: `to_device`, `to_mobile`, `to_app`, a
   * frame parseInboundFrame accepts): the checks onFrame makes of it once parsed, in the same
   * order, then its handler relays the data's text.
   */
  private onRelayed(
    conn: RelayConnection,
    data: RelayedData,
    size: number,
    join: Join,
  ): void | Promise<void> {
    if (size > this.settings.maxFrameBytes) return this.tooLarge(conn, this.settings.maxFrameBytes);
    if (!conn.joined) return this.notAuthenticated(conn);
    let reply: Reply;
    try {
      reply = (conn.legacy ? this.legacy : this.pairing).relayData(conn, data);
    } catch (error) {
      reply = this.failed(conn, error);
    }
    return this.apply(conn, reply, join);
  }

  private tooLarge(conn: RelayConnection, limit: number): void {
    this.delivery.sendError(conn, 'payload_too_large', `Frames are limited to ${limit} bytes`);
  }

  /** A kiosk's frame before its auth: the socket closes (4401), as a failed auth does. */
  private notAuthenticated(conn: RelayConnection): void {
    this.delivery.closeWithError(
      conn,
      'not_authenticated',
      'Authenticate first (answer the challenge)',
    );
  }

  /** The socket's protocol handler decides (no closure per frame); a throw is a failure too. */
  private handle(
    conn: RelayConnection,
    handler: PairingHandler | LegacyHandler,
    frame: InboundFrame,
    join: Join,
  ): void | Promise<void> {
    let decided: Promise<Reply> | Reply;
    try {
      decided = handler.handle(conn, frame);
    } catch (error) {
      return this.apply(conn, this.failed(conn, error), join);
    }
    if (!(decided instanceof Promise)) return this.apply(conn, decided, join);
    return decided.then(
      (reply) => this.apply(conn, reply, join),
      (error: unknown) => this.apply(conn, this.failed(conn, error), join),
    );
  }

  private failed(conn: RelayConnection, error: unknown): Reply {
    this.logger.error(
      { err: error, sessionId: conn.sessionId, role: conn.role },
      'Frame handling failed',
    );
    // during kiosk auth a failure (a store outage) ends the attempt; it is not a verdict
    const reply = errorReply('internal_error', 'The frame could not be handled');
    if (!conn.joined) reply.close = { code: 1011, reason: 'internal_error' };
    return reply;
  }

  /**
   * Carries out a handler's Reply: the peer's frames first, then the sender's, then closes. When
   * the bus fails on the way to the peer, the sender still gets its own frames (a legacy kiosk
   * its `backend_response`), then `bus_unavailable` and the close.
   */
  private apply(conn: RelayConnection, reply: Reply, join: Join): void | Promise<void> {
    const toPeer = reply.toPeer;
    if (!toPeer?.length) return this.answer(conn, reply, join, false);
    let sent: boolean | Promise<boolean>;
    try {
      sent = this.delivery.deliverNow(conn, toPeer, reply.closePeer);
    } catch (error) {
      return this.notDelivered(conn, reply, join, error);
    }
    // no closures for a frame delivered at once (the relay's hot path)
    if (!(sent instanceof Promise)) return this.delivered(conn, reply, join, sent);
    return sent.then(
      (ok) => this.delivered(conn, reply, join, ok),
      (error: unknown) => this.notDelivered(conn, reply, join, error),
    );
  }

  private delivered(
    conn: RelayConnection,
    reply: Reply,
    join: Join,
    ok: boolean,
  ): void | Promise<void> {
    if (ok) this.metrics.countRelayed(PEER_ROLE[conn.role], reply.toPeer!.length);
    return this.answer(conn, reply, join, false);
  }

  /**
   * The peer's frames did not leave. Only a bus failure is `bus_unavailable`; anything else is
   * ours (logged with its stack): the sender still gets its own frames, and a new-protocol
   * socket an `internal_error` (a legacy one no error frame: the fielded client takes any as
   * fatal).
   */
  private notDelivered(
    conn: RelayConnection,
    reply: Reply,
    join: Join,
    error: unknown,
  ): void | Promise<void> {
    if (error instanceof BusUnavailableError) {
      this.busDown(error);
      return this.answer(conn, reply, join, true);
    }
    this.logger.error(
      { err: error, sessionId: conn.sessionId, role: conn.role },
      'Relaying a frame failed',
    );
    const done = this.answer(conn, reply, join, false);
    if (!conn.legacy) this.delivery.sendError(conn, 'internal_error', 'The frame was not relayed');
    return done;
  }

  /** The sender's own frames, then the close (or `bus_unavailable`), then the join. */
  private answer(
    conn: RelayConnection,
    reply: Reply,
    join: Join,
    busFailed: boolean,
  ): void | Promise<void> {
    for (const frame of reply.frames) {
      if (frame.type === 'error') this.metrics.errors.inc({ code: frame.code });
      this.delivery.send(conn, frame);
    }
    if (reply.close) this.delivery.close(conn, reply.close);
    else if (busFailed)
      this.delivery.closeWithError(
        conn,
        'bus_unavailable',
        'The relay is unavailable; try again later',
      );
    if (reply.join && !conn.closing) return join(conn);
  }

  // ---- frames out -----------------------------------------------------------------------

  private busDown(error: unknown): void {
    this.metrics.errors.inc({ code: 'bus_unavailable' });
    this.logger.warn({ err: error }, 'Relay bus unavailable');
  }
}

export function rawSize(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, chunk) => sum + chunk.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
