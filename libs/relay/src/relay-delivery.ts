import { Inject, Injectable, Logger } from '@nestjs/common';
import { BusEnvelope, EnvelopeHandler, RelayBus } from './bus/relay-bus';
import { CLOSE_FOR, CloseSpec, PeerFrame, SerializedFrame } from './handlers/reply';
import { gateKioskText } from './privacy/kiosk-gate';
import {
  CLOSE_CODES,
  closeFor,
  OutboundFrame,
  RelayErrorCode,
  RelayRole,
} from './protocol/messages';
import {
  closeSocket,
  isLegacy,
  KIOSK_ROLES,
  PEER_ROLE,
  PlatformIdSet,
  RelayConnection,
} from './relay-connection';
import { RelayMetrics } from './relay.metrics';
import { relayConfig, RelaySettings } from './relay.config';

/** The close of a completed session's sockets, after their `result` and `session_closed`. */
const COMPLETED = closeFor('completed');

/** How every `result` frame's text begins (its `type` first: pairing.handler resultFrame). */
const RESULT_PREFIX = '{"type":"result"';

/** `ws` sends a Buffer as a binary frame unless told otherwise. */
const TEXT_FRAME = { binary: false } as const;

/**
 * Where each socket of this instance is (session → role → connection) and how a frame reaches
 * one: every frame to a socket leaves through send/sendText, a kiosk's through the kiosk gate;
 * a frame for the peer goes to the local socket or over the bus.
 */
@Injectable()
export class RelayDelivery {
  private readonly logger = new Logger(RelayDelivery.name);
  private readonly sessionsHere = new Map<string, Map<RelayRole, RelayConnection>>();

  constructor(
    private readonly bus: RelayBus,
    private readonly metrics: RelayMetrics,
    @Inject(relayConfig.KEY) private readonly settings: RelaySettings,
  ) {}

  /** Puts a joined socket on the map; the first of its session here subscribes to its channel. */
  async register(conn: RelayConnection): Promise<void> {
    let local = this.sessionsHere.get(conn.sessionId);
    if (!local) {
      local = new Map();
      this.sessionsHere.set(conn.sessionId, local);
      const handler: EnvelopeHandler = (envelope) => this.onEnvelope(conn.sessionId, envelope);
      try {
        await this.bus.subscribe(conn.sessionId, handler);
      } catch (error) {
        if (local.size === 0) this.sessionsHere.delete(conn.sessionId);
        throw error;
      }
    }
    local.set(conn.role, conn);
  }

  /** Takes a socket off the map; the last of its session here unsubscribes (bus errors reject). */
  async unregister(conn: RelayConnection): Promise<void> {
    const local = this.sessionsHere.get(conn.sessionId);
    if (local?.get(conn.role) !== conn) return;
    local.delete(conn.role);
    if (local.size > 0) return;
    this.sessionsHere.delete(conn.sessionId);
    await this.bus.unsubscribe(conn.sessionId);
  }

  /** Sends presence news once per change. */
  notePeer(conn: RelayConnection, present: boolean, frame: OutboundFrame): void {
    if (conn.peerPresent === present) return;
    conn.peerPresent = present;
    this.send(conn, frame);
  }

  closeWithError(
    conn: RelayConnection,
    code: RelayErrorCode,
    message: string,
    close?: CloseSpec,
  ): void {
    if (conn.closing) return;
    this.sendError(conn, code, message);
    this.close(conn, close ?? { code: CLOSE_FOR[code] ?? CLOSE_CODES.forbidden, reason: code });
  }

  /**
   * Closes an accepted socket. Its last frames may still be on their way to a slow link, so `ws`
   * waits its own 30 s for the peer's close; `cut` (a reader that stopped reading) cuts it after
   * CLOSE_GRACE_MS instead.
   */
  close(conn: RelayConnection, close: CloseSpec, cut = false): void {
    if (conn.closing) return;
    conn.closing = true;
    // the phone is told its outcome only if its result was written and this close goes out on an
    // open socket (one the phone began closing, or that is gone, was written nothing more)
    if (conn.role === 'mobile' && close.reason === COMPLETED.reason)
      conn.toldOutcome = conn.resultWritten && conn.ws.readyState === conn.ws.OPEN;
    if (cut) closeSocket(conn.ws, close.code, close.reason);
    else conn.ws.close(close.code, close.reason);
    // the socket's last frames and the close frame leave now: a shutdown may end it this tick
    uncork(conn);
  }

  /**
   * To the session's other socket: directly when it is on this instance, else over the bus.
   * A kiosk-bound frame passes the sender's gate first (the sender knows the platform ids), so
   * none crosses Redis toward a kiosk. Rejects with BusUnavailableError when the bus fails.
   */
  async deliver(
    from: RelayConnection,
    frames: PeerFrame[],
    close?: CloseSpec,
    peer?: BusEnvelope['peer'],
  ): Promise<boolean> {
    return this.deliverNow(from, frames, close, peer);
  }

  /**
   * `deliver`, done before returning when the peer's socket is on this instance (no promise
   * per frame on the relay's hot path); a promise only when the frames go over the bus.
   */
  deliverNow(
    from: RelayConnection,
    frames: PeerFrame[],
    close?: CloseSpec,
    peer?: BusEnvelope['peer'],
  ): boolean | Promise<boolean> {
    const to = PEER_ROLE[from.role];
    const local = this.sessionsHere.get(from.sessionId)?.get(to);
    if (!local) return this.publish(from, to, frames, close, peer);
    const last = frames.length - 1;
    for (let i = 0; i <= last; i++) {
      const frame = frames[i];
      const text = this.outgoingText(from, to, frame);
      if (text === undefined) return this.refused(from);
      // a serialized frame: what it knows of its text serves while `text` is that text (sendText)
      const source = frame instanceof SerializedFrame ? frame : undefined;
      // the text passed the gate with the sender's ids just now (in this process only)
      this.deliverTo(local, text, peer, i === last ? close : undefined, from.platformIds, source);
    }
    return true;
  }

  private async publish(
    from: RelayConnection,
    to: RelayRole,
    frames: PeerFrame[],
    close?: CloseSpec,
    peer?: BusEnvelope['peer'],
  ): Promise<boolean> {
    for (let i = 0; i < frames.length; i++) {
      const envelope = this.envelope(from, to, frames, i, close, peer);
      if (!envelope) return false;
      await this.bus.publish(from.sessionId, envelope);
    }
    return true;
  }

  /** Frame i as it travels: serialized once, through the sender's gate when bound for a kiosk. */
  private envelope(
    from: RelayConnection,
    to: RelayRole,
    frames: PeerFrame[],
    i: number,
    close?: CloseSpec,
    peer?: BusEnvelope['peer'],
  ): BusEnvelope | undefined {
    const text = this.outgoingText(from, to, frames[i]);
    if (text === undefined) return void this.refused(from);
    const envelope: BusEnvelope = { to, text };
    if (peer) envelope.peer = peer;
    if (close && i === frames.length - 1) envelope.close = close;
    return envelope;
  }

  /** The sender's frame held a platform id even after scrubbing: it went nowhere. */
  private refused(from: RelayConnection): false {
    this.sendError(from, 'privacy_violation', 'The frame still held the platform id');
    return false;
  }

  private outgoingText(from: RelayConnection, to: RelayRole, frame: PeerFrame) {
    const [text, ascii] =
      frame instanceof SerializedFrame ? [frame.text, frame.ascii] : [JSON.stringify(frame), false];
    return KIOSK_ROLES.has(to) ? this.gate(text, to as 'device' | 'hardware', from, ascii) : text;
  }

  /** `ascii`: the text is known to be all ASCII (SerializedFrame.ascii; see gateKioskText). */
  private gate(
    text: string,
    role: 'device' | 'hardware',
    holder: RelayConnection,
    ascii = false,
  ): string | undefined {
    const { matcher } = holder.platformIds;
    const clean = gateKioskText(text, role, matcher, holder.platformAlias, ascii);
    if (clean === undefined) {
      this.logger.error(
        { sessionId: holder.sessionId },
        'Dropped a kiosk-bound frame that held a platform id',
      );
      this.metrics.errors.inc({ code: 'privacy_violation' });
    }
    return clean;
  }

  /**
   * A frame for a socket of this instance from the bus. A frame from its peer here goes to
   * deliverTo with `gatedWith`: the ids the text already passed the kiosk gate with (never over
   * the bus).
   */
  onEnvelope(sessionId: string, envelope: BusEnvelope): void {
    const conn = this.sessionsHere.get(sessionId)?.get(envelope.to);
    if (conn) this.deliverTo(conn, envelope.text, envelope.peer, envelope.close);
  }

  /**
   * A frame to a socket of this instance (an envelope's fields; on the direct path no envelope
   * is made). `gatedWith`: see onEnvelope; `source`: see sendText.
   */
  private deliverTo(
    conn: RelayConnection,
    text: string,
    peer: BusEnvelope['peer'],
    close: CloseSpec | undefined,
    gatedWith?: PlatformIdSet,
    source?: SerializedFrame,
  ): void {
    if (conn.closing) return;
    if (peer) {
      // another kiosk now holds the session (the first one's slot was lost): the phone is told
      const changed =
        peer.present &&
        peer.deviceId !== undefined &&
        conn.deviceId !== undefined &&
        peer.deviceId !== conn.deviceId;
      if (peer.present && peer.deviceId) conn.deviceId ??= peer.deviceId;
      if (changed) {
        conn.deviceId = peer.deviceId;
        this.logger.warn(
          { sessionId: conn.sessionId },
          "Another kiosk took the session's device socket: the phone is told",
        );
      }
      if (conn.peerPresent !== peer.present || changed) {
        conn.peerPresent = peer.present;
        this.sendText(conn, text, gatedWith, source);
      }
    } else {
      this.sendText(conn, text, gatedWith, source);
    }
    if (close) this.close(conn, close);
  }

  /** Every frame to a socket leaves through here or sendText; a kiosk's pass the gate. */
  send(conn: RelayConnection, frame: OutboundFrame): void {
    this.sendText(conn, JSON.stringify(frame));
  }

  /**
   * `source`: the serialized frame `text` is the text of (SerializedFrame): what it knows of its
   * text (ASCII, its bytes) is used only while the text is that same text.
   */
  sendText(
    conn: RelayConnection,
    text: string,
    gatedWith?: PlatformIdSet,
    source?: SerializedFrame,
  ): void {
    if (conn.ws.readyState !== conn.ws.OPEN) return;
    const known = source?.text === text ? source : undefined;
    // A kiosk's frame passes the gate once: a second pass with ids the first one already held
    // would find nothing (the same role's key check, and no id of this socket left in the text).
    const gated = gatedWith !== undefined && gatedWith.covers(conn.platformIds);
    const out =
      conn.kiosk && !gated
        ? this.gate(text, conn.role as 'device' | 'hardware', conn, known?.ascii)
        : text;
    if (out === undefined) return;
    // the same bytes either way: built from the received ones, or the text encoded by `ws`
    const wire = out === known?.text ? known.wire() : undefined;
    this.write(conn, wire ?? out);
    // a phone's `result` left on its open socket (one too far behind is closing, written nothing)
    if (conn.role === 'mobile' && !conn.closing && out.startsWith(RESULT_PREFIX))
      conn.resultWritten = true;
  }

  /**
   * Frames to one socket within one tick leave in one write: the socket is corked at the first
   * and uncorked when the tick's work is done, so a burst of frames that arrived together (one
   * read from the sender) reaches the peer in one syscall instead of one each. Order is kept:
   * every write to the socket, `ws`'s own included, is held alike. A Buffer is a text frame's
   * UTF-8 (SerializedFrame.wire), sent as a text frame.
   */
  private write(conn: RelayConnection, text: string | Buffer): void {
    if (this.behind(conn)) return;
    if (conn.socket && !conn.corked) {
      conn.corked = true;
      conn.socket.cork();
      process.nextTick(uncork, conn);
    }
    if (typeof text === 'string') conn.ws.send(text);
    else conn.ws.send(text, TEXT_FRAME);
  }

  /**
   * A WebSocket ping from the client: answered within the socket's frame rate (a ping takes a
   * token like any frame; one over the rate gets no pong) and its send buffer bound.
   */
  answerPing(conn: RelayConnection, data: Buffer): void {
    if (conn.closing || conn.ws.readyState !== conn.ws.OPEN) return;
    if (!conn.takeToken()) return void this.metrics.errors.inc({ code: 'rate_limited' });
    if (!this.behind(conn)) conn.ws.pong(data);
  }

  /**
   * True, and the socket closed, when its client left more unread than RELAY_MAX_SEND_BUFFER_BYTES
   * (a consumer that stopped reading): 1008 and no error frame (it would not be read either).
   */
  private behind(conn: RelayConnection): boolean {
    if (conn.ws.bufferedAmount <= this.settings.maxSendBufferBytes) return false;
    if (!conn.closing) {
      conn.droppedForConduct = true;
      this.metrics.errors.inc({ code: 'too_slow' });
      this.logger.warn(
        { sessionId: conn.sessionId, role: conn.role },
        'Closed a socket that stopped reading',
      );
      this.close(conn, closeFor('too_slow'), true);
    }
    return true;
  }

  sendError(conn: RelayConnection, code: RelayErrorCode, message: string): void {
    this.metrics.errors.inc({ code });
    this.send(conn, { type: 'error', code, message });
  }
}

function uncork(conn: RelayConnection): void {
  if (!conn.corked) return;
  conn.corked = false;
  conn.socket?.uncork();
}

/** A peer joined or left, as each protocol says it. */
export function presenceFrame(role: RelayRole, present: boolean, deviceId?: string): OutboundFrame {
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
