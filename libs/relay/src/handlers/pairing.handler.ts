import { Injectable, Logger } from '@nestjs/common';
import { KioskRegistryService } from '@app/kiosk-registry';
import { SessionOutcome, SessionService } from '@app/session';
import { FaceSubmissionService } from '../face-submission.service';
import { kioskCopyOfAnswer } from '../privacy/kiosk-gate';
import {
  AuthFrame,
  closeFor,
  InboundFrame,
  isHandlerFrame,
  NEW_PROTOCOL,
  ResultCode,
  ResultFrame,
} from '../protocol/messages';
import type { RelayedData } from '../protocol/parse-frame';
import { ConnectionView } from '../relay-connection';
import { errorReply, PeerFrame, Reply, SerializedFrame, toPeerReply } from './reply';

/**
 * The new protocol (/ws/mobile, /ws/device), one method per frame type: kiosk auth, relaying,
 * the face submission. Returns what to send; the hub sends it.
 */
@Injectable()
export class PairingHandler {
  private readonly logger = new Logger(PairingHandler.name);

  constructor(
    private readonly sessions: SessionService,
    private readonly kiosks: KioskRegistryService,
    private readonly submissions: FaceSubmissionService,
  ) {}

  /** One case per frame the new protocol's sockets send (HandlerFrame): no default. */
  handle(conn: ConnectionView, frame: InboundFrame): Promise<Reply> | Reply {
    if (!isHandlerFrame(NEW_PROTOCOL, frame))
      return errorReply('unknown_type', `This socket does not take ${frame.type} frames`);
    switch (frame.type) {
      case 'auth':
        return this.onAuth(conn, frame);
      case 'to_device':
        return this.relay(conn, { type: 'from_mobile', data: frame.data });
      case 'to_mobile':
        return this.relay(conn, { type: 'from_device', data: frame.data });
      case 'submit_result':
        return this.onSubmit(conn, frame.image);
    }
  }

  /** The kiosk's answer to the challenge: one try, a refusal closes the socket. */
  async onAuth(conn: ConnectionView, frame: AuthFrame): Promise<Reply> {
    if (conn.role !== 'device' || !conn.nonce) {
      return errorReply(
        'unknown_type',
        conn.role === 'device' ? 'Already authenticated' : 'This socket does not take auth frames',
      );
    }
    const nonce = conn.nonce;
    conn.nonce = undefined;
    if (frame.session_id !== conn.sessionId)
      return errorReply(
        'session_mismatch',
        'auth.session_id is not the session of this token',
        true,
      );
    // noted before the store is read: a block or a key rotation that lands while the kiosk is
    // authenticating finds the socket (RelayHub.endKioskSessions), which then never joins. The
    // id is the one claimed; a socket whose auth fails closes anyway.
    conn.deviceId = frame.device_id;
    // a store failure throws here and is reported as internal_error, never as a verdict
    const { verdict, keyFingerprint } = await this.kiosks.authenticate(
      frame.device_id,
      conn.sessionId,
      nonce,
      frame.signature,
    );
    switch (verdict) {
      case 'not_registered':
        return errorReply('device_not_registered', 'This kiosk is not registered', true);
      case 'blocked':
        return errorReply('device_blocked', 'This kiosk is blocked', true);
      case 'invalid_signature':
        this.logger.warn(
          { sessionId: conn.sessionId, deviceId: frame.device_id },
          'Kiosk auth signature refused',
        );
        return errorReply(
          'invalid_signature',
          'The signature does not verify with the registered key',
          true,
        );
      case 'ok':
        break;
    }
    const session = await this.sessions.find(conn.sessionId);
    if (!session) return errorReply('session_not_found', 'The session does not exist', true);
    conn.deviceId = frame.device_id;
    conn.keyFingerprint = keyFingerprint;
    conn.platformId = this.sessions.platformIdOf(session);
    conn.platformIds.add(conn.platformId);
    // recorded in the session once its slot is taken (RelayHub.takeSession), not here: a kiosk
    // refused `already_connected` is not the session's
    return { frames: [], join: true };
  }

  /**
   * `to_device` / `to_mobile` recognised without parsing (parse-frame.ts `relayedData`): `data`
   * holds the text of its data, written as JSON.stringify writes it, so the frame to the peer is
   * that text in its frame, as `handle` would have written it.
   */
  relayData(conn: ConnectionView, data: RelayedData): Reply {
    return this.relay(conn, SerializedFrame.relayed(data));
  }

  private relay(conn: ConnectionView, frame: PeerFrame): Reply {
    if (!conn.peerPresent) {
      const peer = conn.role === 'mobile' ? 'device' : 'mobile';
      return errorReply('peer_not_connected', `The ${peer} is not connected`);
    }
    return toPeerReply([frame]);
  }

  /**
   * Every upstream outcome is a `result` to both sides: the phone's copy with the platform id and
   * the upstream's body, the kiosk's with an allowlisted body. A final outcome closes both.
   */
  async onSubmit(conn: ConnectionView, image: string): Promise<Reply> {
    const outcome = await this.submissions.submitNew(
      {
        sessionId: conn.sessionId,
        deviceId: conn.deviceId,
        keyFingerprint: conn.keyFingerprint,
        expiresAt: conn.expiresAt,
      },
      image,
    );
    if (outcome.kind === 'refused' && outcome.revoked) {
      // the kiosk lost its standing and its session was not ended yet (the bus was down)
      const reply = errorReply(outcome.code, outcome.message, true);
      reply.toPeer = [{ type: 'session_closed', reason: outcome.revoked }];
      reply.closePeer = closeFor('kiosk_revoked');
      return reply;
    }
    if (outcome.kind === 'refused') {
      const reply = errorReply(outcome.code, outcome.message);
      // kicked meanwhile: the phone, left open for this outcome, learns the session is over
      // (unless another submission of the session is the one whose outcome it waits for)
      const elsewhere =
        outcome.code === 'submission_in_progress' || outcome.code === 'already_submitted';
      if (conn.revokedBy && !elsewhere) endForPeer(reply, conn.revokedBy);
      return reply;
    }
    const reply: Reply = {
      frames: [{ ...resultFrame(outcome), data: kioskCopyOfAnswer(outcome.data) }],
      toPeer: [phoneResultFrame(outcome, outcome.platformId)],
    };
    if (outcome.final) {
      const closed = { type: 'session_closed', reason: 'completed' } as const;
      const close = closeFor('completed');
      reply.frames.push(closed);
      reply.toPeer?.push(closed);
      reply.close = close;
      reply.closePeer = close;
    } else if (conn.revokedBy) {
      // the kiosk was kicked while its image was out: it may not submit again
      endForPeer(reply, conn.revokedBy);
    }
    return reply;
  }
}

/** A `result` frame of an outcome, without the platform id (the kiosk's copy, before its data is reduced). */
function resultFrame(outcome: SessionOutcome): ResultFrame {
  return {
    type: 'result',
    status: outcome.status,
    ...(outcome.code ? { code: outcome.code as ResultCode } : {}),
    status_code: outcome.statusCode,
    data: outcome.data,
    latency_ms: outcome.latencyMs,
  };
}

/**
 * The phone's `result` frame of an outcome: the same frame whether sent when the outcome is
 * known or when the phone comes back for it (RelayHub), from the session's kept outcome.
 */
export function phoneResultFrame(outcome: SessionOutcome, platformId?: string): ResultFrame {
  return { ...resultFrame(outcome), platform_id: platformId };
}

/** The phone's last frames: the session ended because its kiosk lost its standing. */
function endForPeer(reply: Reply, reason: 'device_blocked' | 'device_key_rotated'): void {
  reply.toPeer = [...(reply.toPeer ?? []), { type: 'session_closed', reason }];
  reply.closePeer = closeFor('kiosk_revoked');
}
