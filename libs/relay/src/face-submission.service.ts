import { Inject, Injectable, Logger } from '@nestjs/common';
import { KioskRegistryService } from '@app/kiosk-registry';
import { PairingSession, SessionService } from '@app/session';
import { VaultService } from '@app/vault';
import { clientCopyOfAnswer } from './privacy/upstream-answer';
import { RelayErrorCode, ResultCode } from './protocol/messages';
import { UpstreamClient, UpstreamOutcome } from './upstream/upstream.client';
import { RelayMetrics } from './relay.metrics';
import { relayConfig, RelaySettings } from './relay.config';

/** Who submits: the session and, for the audit trail, the kiosk. */
export interface SubmissionRequest {
  sessionId: string;
  deviceId?: string;
  /** The key the kiosk authenticated with (new protocol; legacy hardware has no identity). */
  keyFingerprint?: string;
  expiresAt: Date;
}

/**
 * What became of a submission, for the protocol handlers to turn into frames:
 * - `refused`: the submission itself was wrong or came at the wrong time (an `error` frame);
 * - `decided`: the one upstream submission of the session; every upstream outcome is one of
 *   these, with the HTTP status and body the clients get. `final` says the session is completed
 *   (the image may have reached the upstream); otherwise the kiosk may submit again.
 */
export type SubmissionOutcome =
  | {
      kind: 'refused';
      code: RelayErrorCode;
      message: string;
      /** The kiosk lost its standing (blocked, key rotated): its session ends. */
      revoked?: 'device_blocked' | 'device_key_rotated';
    }
  | {
      kind: 'decided';
      status: 'success' | 'failure';
      code?: ResultCode;
      statusCode: number;
      /**
       * The upstream's body without images or configured secrets (clientCopyOfAnswer), or
       * `{status:'failure', code, message}` when it gave none.
       */
      data: unknown;
      latencyMs: number;
      final: boolean;
      platformId: string;
    };

const JPEG = Buffer.from([0xff, 0xd8, 0xff]);
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** Whitespace a base64 encoder may put in its output: MIME line breaks (CRLF or LF), spaces. */
const BASE64_WHITESPACE = /[\r\n\t ]+/g;
/** A data: URI's head before the base64 (browsers' canvas.toDataURL, some camera SDKs). */
const DATA_URI = /^data:image\/(?:jpeg|png);base64,/;

/**
 * A kiosk's face image → upstream, one upstream submission per session: the store's atomic
 * claim (open → submitting) guards it across instances; the upstream call carries the session's
 * submission id as its Idempotency-Key. The claim is released only when the image provably never
 * reached the upstream; an answer, a timeout or a lost connection complete the session.
 */
@Injectable()
export class FaceSubmissionService {
  private readonly logger = new Logger(FaceSubmissionService.name);
  private readonly maxImageBytes: number;

  constructor(
    private readonly sessions: SessionService,
    private readonly upstream: UpstreamClient,
    private readonly metrics: RelayMetrics,
    private readonly vault: VaultService,
    private readonly kiosks: KioskRegistryService,
    @Inject(relayConfig.KEY) relaySettings: RelaySettings,
  ) {
    this.maxImageBytes = relaySettings.maxImageBytes;
  }

  /** New protocol: `submit_result` from /ws/device. */
  async submitNew(request: SubmissionRequest, image: string): Promise<SubmissionOutcome> {
    const checked = this.checkImage(image);
    if ('kind' in checked) return checked;
    const claimed = await this.claim(request.sessionId);
    if ('kind' in claimed) return claimed;
    const platformId = this.sessions.platformIdOf(claimed);
    if (!platformId) {
      await this.sessions.releaseSubmission(request.sessionId);
      return refused('internal_error', 'The session has no platform id');
    }
    return this.submitClaimed(request, platformId, checked, true);
  }

  /** Legacy: `to_backend` from /ws/hardware, whose platform_id is the session's alias. */
  async submitLegacy(
    request: SubmissionRequest,
    sentId: unknown,
    image: unknown,
  ): Promise<SubmissionOutcome> {
    if (typeof sentId !== 'string' || sentId.length === 0)
      return refused('missing_platform_id', 'to_backend needs data.platform_id');
    if (typeof image !== 'string')
      return refused('invalid_message', 'to_backend needs data.image_base64');
    const known = await this.sessions.find(request.sessionId);
    const platformId = known && this.sessions.platformIdOf(known);
    if (!known?.platformAlias || !platformId || sentId !== known.platformAlias)
      return refused('unknown_platform_id', 'This session holds no such platform_id');
    const checked = this.checkImage(image);
    if ('kind' in checked) return checked;
    const claimed = await this.claim(request.sessionId);
    if ('kind' in claimed) return claimed;
    // the legacy app never comes back for an outcome: its session's app slot is taken once
    return this.submitClaimed(request, platformId, checked, false);
  }

  /**
   * `keepOutcome`: a final outcome is kept in the session, sealed, for a phone whose socket is
   * gone when it is known (RelayHub gives it to the phone when it comes back).
   */
  private async submitClaimed(
    request: SubmissionRequest,
    platformId: string,
    image: CheckedImage,
    keepOutcome: boolean,
  ): Promise<SubmissionOutcome> {
    // before the Vault write: a kiosk without standing leaves no image behind
    const standing = await this.checkStanding(request);
    if (standing) {
      await this.sessions.releaseSubmission(request.sessionId);
      return standing;
    }
    if (!(await this.storeImage(request, image))) {
      await this.sessions.releaseSubmission(request.sessionId);
      return decided(
        platformId,
        'store_failed',
        503,
        'The image could not be stored; try again',
        0,
        false,
      );
    }
    const outcome = await this.upstream.submit(
      submissionIdOf(request.sessionId),
      platformId,
      image.base64,
      request.expiresAt,
    );
    const label = outcome.kind === 'answered' ? outcome.status : outcome.reason;
    this.metrics.upstreamLatency.observe({ outcome: label }, outcome.latencyMs / 1000);
    this.logger.log(
      {
        sessionId: request.sessionId,
        deviceId: request.deviceId,
        outcome: label,
        attempts: outcome.attempts,
        latencyMs: outcome.latencyMs,
      },
      'Face submission',
    );
    const result = toDecided(outcome, platformId);
    if (result.final) {
      const { status, code, statusCode, latencyMs, data } = result;
      await this.sessions.completeSubmission(
        request.sessionId,
        { status, statusCode, latencyMs },
        keepOutcome ? { status, code, statusCode, latencyMs, data } : undefined,
      );
    } else {
      await this.sessions.releaseSubmission(request.sessionId);
    }
    return result;
  }

  /**
   * The second line behind the relay's kick (RelayHub.endKioskSessions, which a Redis outage
   * can keep from another instance): before its image is stored or sent, the kiosk must still
   * be registered, unblocked and on the key it authenticated with. A store that does not answer
   * refuses the submission (fail closed); the kiosk may submit again.
   */
  private async checkStanding(
    request: SubmissionRequest,
  ): Promise<(SubmissionOutcome & { kind: 'refused' }) | undefined> {
    if (request.deviceId === undefined) return undefined;
    let standing;
    try {
      standing = await this.kiosks.standing(request.deviceId, request.keyFingerprint ?? '');
    } catch (error) {
      this.logger.error(
        { err: error, sessionId: request.sessionId },
        "The kiosk's standing could not be checked",
      );
      return refused(
        'standing_unavailable',
        "The kiosk's standing could not be checked; nothing was sent, submit again",
      );
    }
    switch (standing) {
      case 'ok':
        return undefined;
      case 'blocked':
      case 'not_registered':
        return {
          ...refused('device_blocked', 'This kiosk is blocked: nothing was sent'),
          revoked: 'device_blocked',
        };
      case 'key_rotated':
        return {
          ...refused('device_key_rotated', "This kiosk's key was rotated: nothing was sent"),
          revoked: 'device_key_rotated',
        };
    }
  }

  /**
   * Lenient on the form of the base64, strict on what it holds: a `data:image/jpeg|png;base64,`
   * head, whitespace (MIME line breaks) and missing `=` padding are accepted, since encoders
   * differ there and the bytes are the same; the decoded bytes must be a JPEG or a PNG. The
   * upstream gets the standard padded base64 of the decoded bytes.
   */
  private checkImage(image: string): CheckedImage | SubmissionOutcome {
    const unpadded = image.replace(DATA_URI, '').replace(BASE64_WHITESPACE, '');
    const base64 =
      unpadded.length % 4 === 0 ? unpadded : unpadded + '='.repeat(4 - (unpadded.length % 4));
    if (unpadded.length % 4 === 1 || !BASE64.test(base64))
      return refused('invalid_image', 'The image must be base64');
    const bytes = Buffer.from(base64, 'base64');
    if (bytes.length > this.maxImageBytes)
      return refused('payload_too_large', `Images are limited to ${this.maxImageBytes} bytes`);
    const contentType = startsWith(bytes, JPEG)
      ? 'image/jpeg'
      : startsWith(bytes, PNG)
        ? 'image/png'
        : undefined;
    if (!contentType) return refused('invalid_image', 'The image must be a JPEG or a PNG');
    // the upstream gets the bytes that were checked, encoded anew: never a text that decodes to
    // them only leniently (non-zero bits after the last byte, which Buffer.from ignores)
    return { base64: bytes.toString('base64'), bytes, contentType };
  }

  /**
   * The face image is encrypted into the Vault before it goes anywhere; the session keeps the
   * file id. If the Vault cannot take it, nothing is sent upstream.
   */
  private async storeImage(request: SubmissionRequest, image: CheckedImage): Promise<boolean> {
    try {
      const stored = await this.vault.storeBuffer(
        image.bytes,
        image.contentType,
        { actor: `kiosk:${request.deviceId ?? 'legacy'}`, role: 'relay' },
        `face submission, session ${request.sessionId}`,
      );
      await this.sessions.attachImage(request.sessionId, stored.fileId);
      return true;
    } catch (error) {
      this.logger.error(
        { err: error, sessionId: request.sessionId },
        'Storing the face image failed',
      );
      return false;
    }
  }

  private async claim(sessionId: string): Promise<PairingSession | SubmissionOutcome> {
    if (await this.sessions.claimSubmission(sessionId)) {
      const session = await this.sessions.find(sessionId);
      if (session) return session;
    }
    const session = await this.sessions.find(sessionId);
    if (session?.status === 'completed')
      return refused('already_submitted', 'This session already has its result');
    if (session?.status === 'submitting')
      return refused('submission_in_progress', 'A submission is being processed');
    return refused('session_expired', 'The session has expired');
  }
}

interface CheckedImage {
  base64: string;
  bytes: Buffer;
  contentType: string;
}

/** The Idempotency-Key of the session's one upstream submission. */
export function submissionIdOf(sessionId: string): string {
  return `mdai-submission-${sessionId}`;
}

function refused(code: RelayErrorCode, message: string): SubmissionOutcome & { kind: 'refused' } {
  return { kind: 'refused', code, message };
}

function decided(
  platformId: string,
  code: ResultCode,
  statusCode: number,
  message: string,
  latencyMs: number,
  final: boolean,
): SubmissionOutcome & { kind: 'decided' } {
  return {
    kind: 'decided',
    status: 'failure',
    code,
    statusCode,
    data: { status: 'failure', code, message },
    latencyMs,
    final,
    platformId,
  };
}

/** The result code and status of each outcome that may have reached the upstream. */
const UNKNOWN_OUTCOME: Record<
  (UpstreamOutcome & { kind: 'unknown' })['reason'],
  [ResultCode, number]
> = {
  timed_out: ['upstream_timeout', 504],
  connection_lost: ['upstream_connection_lost', 502],
  unusable_answer: ['upstream_unusable_answer', 502],
  invalid_answer: ['upstream_invalid_answer', 502],
  answer_too_large: ['upstream_answer_too_large', 502],
};

/** Every upstream outcome as the status and body the clients get. */
function toDecided(
  outcome: UpstreamOutcome,
  platformId: string,
): SubmissionOutcome & { kind: 'decided' } {
  switch (outcome.kind) {
    case 'answered':
      return {
        kind: 'decided',
        status: outcome.status,
        code:
          outcome.status === 'success'
            ? undefined
            : outcome.statusCode >= 500
              ? 'upstream_error'
              : 'upstream_rejected',
        statusCode: outcome.statusCode,
        // what every client and the kept outcome get: never an echoed image or secret
        data: clientCopyOfAnswer(outcome.data),
        latencyMs: outcome.latencyMs,
        final: true,
        platformId,
      };
    case 'unknown': {
      const [code, status] = UNKNOWN_OUTCOME[outcome.reason];
      return decided(platformId, code, status, outcome.message, outcome.latencyMs, true);
    }
    case 'not_sent':
      return decided(
        platformId,
        outcome.reason === 'not_configured' ? 'upstream_not_configured' : 'upstream_unreachable',
        502,
        outcome.message,
        outcome.latencyMs,
        false,
      );
  }
}

function startsWith(bytes: Buffer, magic: Buffer): boolean {
  return bytes.length >= magic.length && bytes.subarray(0, magic.length).equals(magic);
}
