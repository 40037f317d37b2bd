import { Injectable } from '@nestjs/common';
import { PLATFORM_ID_PATTERN, SessionService } from '@app/session';
import { FaceSubmissionService } from '../face-submission.service';
import { kioskCopyOfAnswer } from '../privacy/kiosk-gate';
import {
  BackendResponseFrame,
  InboundFrame,
  isHandlerFrame,
  JsonObject,
  LEGACY_PROTOCOL,
} from '../protocol/messages';
import type { RelayedData } from '../protocol/parse-frame';
import { ConnectionView } from '../relay-connection';
import { errorReply, PeerFrame, Reply, SerializedFrame, toPeerReply } from './reply';

/** The `status` frame a repeated `to_backend` gets, in place of an error (see onToBackend). */
const LEGACY_REPEAT_STATUS = {
  submission_in_progress: 'submission in progress',
  already_submitted: 'already submitted',
} as const;

/**
 * The fielded legacy protocol (/ws/app, /ws/hardware), one method per frame type. The hardware
 * only ever sees the session's alias: the hub's kiosk gate writes it in place of every platform
 * id the session holds. Nothing the hardware sends is ever rewritten toward the real id.
 */
@Injectable()
export class LegacyHandler {
  constructor(
    private readonly sessions: SessionService,
    private readonly submissions: FaceSubmissionService,
  ) {}

  /** One case per frame the legacy sockets send (HandlerFrame): no default. */
  handle(conn: ConnectionView, frame: InboundFrame): Promise<Reply> | Reply {
    if (!isHandlerFrame(LEGACY_PROTOCOL, frame))
      return errorReply('unknown_type', `This socket does not take ${frame.type} frames`);
    switch (frame.type) {
      case 'to_hardware':
        return this.onToHardware(conn, frame.data);
      case 'to_app':
        // as sent: the real id is never written into what the hardware controls
        return this.relay(conn, { type: 'from_hardware', data: frame.data });
      case 'to_backend':
        return this.onToBackend(conn, frame.data);
    }
  }

  /** The app's frame; a `data.platform_id` is kept by the server (one per session). */
  async onToHardware(conn: ConnectionView, data: JsonObject): Promise<Reply> {
    const sent = data.platform_id;
    if (sent !== undefined && typeof sent !== 'string')
      return errorReply('invalid_message', 'data.platform_id must be a string');
    if (sent !== undefined && sent !== conn.platformId) {
      if (!PLATFORM_ID_PATTERN.test(sent)) {
        return errorReply(
          'invalid_message',
          'data.platform_id is not a platform id (PLT_ and at least 10 letters or digits)',
        );
      }
      // the session's id is known here: the store keeps the first one for good, so another one
      // is refused without a store call (a burst of them would queue behind slow reads)
      if (conn.platformId !== undefined)
        return errorReply('platform_id_already_set', 'This session already holds a platform_id');
      const session = await this.sessions.find(conn.sessionId);
      if (!session) return errorReply('session_not_found', 'The session does not exist', true);
      const held = this.sessions.platformIdOf(session);
      if (held && held !== sent) {
        conn.platformId = held;
        conn.platformAlias = session.platformAlias;
        conn.platformIds.add(held);
        return errorReply('platform_id_already_set', 'This session already holds a platform_id');
      }
      // known before it is stored: the gate must hold it from the first frame that could carry it
      conn.platformIds.add(sent);
      const alias = await this.sessions.setLegacyPlatformId(session, sent);
      if (alias === undefined) {
        // another writer recorded another one first (the store keeps the first)
        const now = await this.sessions.find(conn.sessionId);
        const first = now && this.sessions.platformIdOf(now);
        if (first) {
          conn.platformId = first;
          conn.platformAlias = now.platformAlias;
          conn.platformIds.add(first);
        }
        return errorReply('platform_id_already_set', 'This session already holds a platform_id');
      }
      conn.platformAlias = alias;
      conn.platformId = sent;
    }
    return this.relay(conn, { type: 'from_app', data });
  }

  /**
   * `to_app` recognised without parsing (parse-frame.ts `relayedData`): `data` holds the text of
   * its data, written as JSON.stringify writes it, so the frame to the app is that text in its
   * frame, as `handle` would have written it.
   */
  relayData(conn: ConnectionView, data: RelayedData): Reply {
    return this.relay(conn, SerializedFrame.relayed(data));
  }

  private relay(conn: ConnectionView, frame: PeerFrame): Reply {
    if (!conn.peerPresent) {
      const peer = conn.role === 'app' ? 'hardware' : 'app';
      return errorReply('peer_not_connected', `The ${peer} is not connected`);
    }
    return toPeerReply([frame]);
  }

  /**
   * The hardware's upload. Every upstream outcome is a `backend_response` (the fielded client
   * takes it as the acknowledgement whatever its status): the app's copy with the upstream's body,
   * the hardware's with an allowlisted one.
   */
  async onToBackend(conn: ConnectionView, data: JsonObject): Promise<Reply> {
    const outcome = await this.submissions.submitLegacy(
      { sessionId: conn.sessionId, expiresAt: conn.expiresAt },
      data.platform_id,
      data.image_base64,
    );
    if (outcome.kind === 'refused') {
      // the fielded hardware takes any error frame as fatal: a repeated upload is told apart
      // with a status frame (it reads those), and its first upload's answer still comes
      if (outcome.code === 'submission_in_progress' || outcome.code === 'already_submitted')
        return { frames: [{ type: 'status', msg: LEGACY_REPEAT_STATUS[outcome.code] }] };
      return errorReply(outcome.code, outcome.message);
    }
    conn.platformIds.add(outcome.platformId);
    conn.platformAlias ??= data.platform_id as string;
    const response: BackendResponseFrame = {
      type: 'backend_response',
      status_code: outcome.statusCode,
      data: outcome.data,
      latency_ms: outcome.latencyMs,
    };
    return {
      frames: [{ ...response, data: kioskCopyOfAnswer(outcome.data) }],
      toPeer: [response],
    };
  }
}
