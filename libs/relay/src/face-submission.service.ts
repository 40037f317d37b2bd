import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '@app/common';
import { PairingSession, SessionService } from '@app/session';
import { VaultService } from '@app/vault';
import { JsonObject, OutboundFrame, RelayErrorCode } from './protocol/messages';
import { UpstreamClient, UpstreamOutcome } from './upstream/upstream.client';
import { RelayMetrics } from './relay.metrics';

/** What a submission needs of the socket that made it (given by RelayService). */
export interface SubmissionContext {
  sessionId: string;
  deviceId?: string;
  expiresAt: Date;
  platformAlias?: string;
  reply: (frame: OutboundFrame) => void;
  error: (code: RelayErrorCode, message: string) => void;
  toPeer: (frame: OutboundFrame) => Promise<void>;
  closeBoth: (frame: OutboundFrame) => Promise<void>;
  learnAlias: (alias: string, platformId: string) => void;
}

const JPEG = Buffer.from([0xff, 0xd8, 0xff]);
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const DATA_URI = /^data:image\/(?:jpeg|png);base64,/;

/**
 * A kiosk's face image → upstream, exactly one successful submission per session: the store's
 * atomic claim (open → submitting) guards it across instances; a failed upstream call releases
 * the claim so the kiosk may retry before the deadline.
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
    config: ConfigService<AppConfig, true>,
  ) {
    this.maxImageBytes = config.get('relay', { infer: true }).maxImageBytes;
  }

  /** New protocol: `submit_result` from /ws/device. */
  async submitNew(ctx: SubmissionContext, image: string): Promise<void> {
    const checked = this.checkImage(ctx, image);
    if (!checked) return;
    const session = await this.claim(ctx);
    if (!session) return;
    const platformId = this.sessions.platformIdOf(session);
    if (!platformId) {
      await this.sessions.releaseSubmission(ctx.sessionId);
      return ctx.error('internal_error', 'The session has no platform id');
    }
    if (!(await this.storeImage(ctx, checked))) return;
    const outcome = await this.callUpstream(ctx, platformId, checked.base64);
    if (outcome.kind === 'unavailable') return this.failed(ctx, outcome.message);
    const deviceFrame: OutboundFrame = {
      type: 'result',
      status: outcome.status,
      status_code: outcome.statusCode,
      data: outcome.data,
      latency_ms: outcome.latencyMs,
    };
    await ctx.toPeer({ ...deviceFrame, platform_id: platformId });
    ctx.reply(deviceFrame);
    await ctx.closeBoth({ type: 'session_closed', reason: 'completed' });
  }

  /** Legacy: `to_backend` from /ws/hardware, whose platform_id is the session's alias. */
  async submitLegacy(ctx: SubmissionContext, data: JsonObject): Promise<void> {
    const sentId = data.platform_id;
    if (typeof sentId !== 'string' || sentId.length === 0) {
      return ctx.error('missing_platform_id', 'to_backend needs data.platform_id');
    }
    if (typeof data.image_base64 !== 'string')
      return ctx.error('invalid_message', 'to_backend needs data.image_base64');
    const known = await this.sessions.find(ctx.sessionId);
    const platformId = known && this.sessions.platformIdOf(known);
    if (!known?.platformAlias || !platformId || sentId !== known.platformAlias) {
      return ctx.error('unknown_platform_id', 'This session holds no such platform_id');
    }
    ctx.learnAlias(known.platformAlias, platformId);
    const checked = this.checkImage(ctx, data.image_base64);
    if (!checked) return;
    if (!(await this.claim(ctx))) return;
    if (!(await this.storeImage(ctx, checked))) return;
    const outcome = await this.callUpstream(ctx, platformId, checked.base64);
    if (outcome.kind === 'unavailable') return this.failed(ctx, outcome.message);
    const frame: OutboundFrame = {
      type: 'backend_response',
      status_code: outcome.statusCode,
      data: outcome.data,
      latency_ms: outcome.latencyMs,
    };
    await ctx.toPeer(frame);
    // the hardware's copy goes through the kiosk gate: the real id becomes the alias
    ctx.reply(frame);
  }

  private checkImage(
    ctx: SubmissionContext,
    image: string,
  ): { base64: string; bytes: Buffer; contentType: string } | undefined {
    const base64 = image.replace(DATA_URI, '');
    if (base64.length % 4 !== 0 || !BASE64.test(base64)) {
      ctx.error('invalid_image', 'The image must be base64');
      return undefined;
    }
    const bytes = Buffer.from(base64, 'base64');
    if (bytes.length > this.maxImageBytes) {
      ctx.error('payload_too_large', `Images are limited to ${this.maxImageBytes} bytes`);
      return undefined;
    }
    const contentType = startsWith(bytes, JPEG)
      ? 'image/jpeg'
      : startsWith(bytes, PNG)
        ? 'image/png'
        : undefined;
    if (!contentType) {
      ctx.error('invalid_image', 'The image must be a JPEG or a PNG');
      return undefined;
    }
    return { base64, bytes, contentType };
  }

  /**
   * The face image is encrypted into the Vault before it goes anywhere; the session keeps the
   * file id. If the Vault cannot take it, nothing is sent upstream and the claim is released.
   */
  private async storeImage(
    ctx: SubmissionContext,
    image: { bytes: Buffer; contentType: string },
  ): Promise<boolean> {
    try {
      const stored = await this.vault.storeBuffer(
        image.bytes,
        image.contentType,
        { actor: `kiosk:${ctx.deviceId ?? 'legacy'}`, role: 'relay' },
        `face submission, session ${ctx.sessionId}`,
      );
      await this.sessions.attachImage(ctx.sessionId, stored.fileId);
      return true;
    } catch (error) {
      this.logger.error({ err: error, sessionId: ctx.sessionId }, 'Storing the face image failed');
      await this.sessions.releaseSubmission(ctx.sessionId);
      ctx.error('internal_error', 'The image could not be stored; try again');
      return false;
    }
  }

  private async claim(ctx: SubmissionContext): Promise<PairingSession | undefined> {
    if (await this.sessions.claimSubmission(ctx.sessionId))
      return this.sessions.find(ctx.sessionId);
    const session = await this.sessions.find(ctx.sessionId);
    if (session?.status === 'completed')
      ctx.error('already_submitted', 'This session already has its result');
    else if (session?.status === 'submitting')
      ctx.error('submission_in_progress', 'A submission is being processed');
    else ctx.error('session_expired', 'The session has expired');
    return undefined;
  }

  private async callUpstream(
    ctx: SubmissionContext,
    platformId: string,
    imageBase64: string,
  ): Promise<UpstreamOutcome> {
    const outcome = await this.upstream.submit(platformId, imageBase64, ctx.expiresAt);
    const label = outcome.kind === 'answered' ? outcome.status : 'unavailable';
    this.metrics.upstreamLatency.observe({ outcome: label }, outcome.latencyMs / 1000);
    if (outcome.kind === 'answered') {
      await this.sessions.completeSubmission(ctx.sessionId, {
        status: outcome.status,
        statusCode: outcome.statusCode,
        latencyMs: outcome.latencyMs,
      });
    }
    this.logger.log(
      {
        sessionId: ctx.sessionId,
        deviceId: ctx.deviceId,
        outcome: label,
        latencyMs: outcome.latencyMs,
      },
      'Face submission',
    );
    return outcome;
  }

  private async failed(ctx: SubmissionContext, message: string): Promise<void> {
    await this.sessions.releaseSubmission(ctx.sessionId);
    ctx.error('upstream_failed', message);
    await ctx.toPeer({ type: 'error', code: 'upstream_failed', message });
  }
}

function startsWith(bytes: Buffer, magic: Buffer): boolean {
  return bytes.length >= magic.length && bytes.subarray(0, magic.length).equals(magic);
}
