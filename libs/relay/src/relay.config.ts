import { defineConfig, Env, validateEnv, IsInt, IsOmittable, Max, Min } from '@app/common';

/** The largest RELAY_MAX_IMAGE_BYTES (decoded bytes of one face image). */
export const MAX_IMAGE_BYTES = 12 * 1024 * 1024;

class RelayEnv {
  @IsOmittable() @IsInt() @Min(1024) @Max(1024 * 1024) RELAY_MAX_FRAME_BYTES?: number;
  @IsOmittable() @IsInt() @Min(1024) @Max(MAX_IMAGE_BYTES) RELAY_MAX_IMAGE_BYTES?: number;
  @IsOmittable() @IsInt() @Min(1) @Max(10_000) RELAY_RATE_PER_SECOND?: number;
  @IsOmittable() @IsInt() @Min(1) @Max(10_000) RELAY_RATE_BURST?: number;
  @IsOmittable() @IsInt() @Min(100) @Max(300_000) RELAY_PING_INTERVAL_MS?: number;
  @IsOmittable() @IsInt() @Min(1000) @Max(120_000) RELAY_AUTH_TIMEOUT_MS?: number;
  @IsOmittable() @IsInt() @Min(300) @Max(300_000) RELAY_SLOT_TTL_MS?: number;
  @IsOmittable()
  @IsInt()
  @Min(64 * 1024)
  @Max(256 * 1024 * 1024)
  RELAY_MAX_SEND_BUFFER_BYTES?: number;
  @IsOmittable() @IsInt() @Min(1) @Max(100_000) RELAY_MAX_QUEUED_FRAMES?: number;
  @IsOmittable()
  @IsInt()
  @Min(64 * 1024)
  @Max(256 * 1024 * 1024)
  RELAY_MAX_QUEUED_BYTES?: number;
}

export interface RelaySettings {
  /** Largest frame of any type but an image submission (bytes). */
  maxFrameBytes: number;
  /** Largest decoded face image (bytes); its frame may be 4/3 of it plus a little. */
  maxImageBytes: number;
  ratePerSecond: number;
  rateBurst: number;
  pingIntervalMs: number;
  /** How long a kiosk has to answer the challenge on /ws/device. */
  authTimeoutMs: number;
  /**
   * How long a socket's slot (one socket per role per session, across instances) outlives its
   * holder: refreshed every third of it while the socket lives, so a crashed instance frees its
   * slots within this time instead of at the session's deadline.
   */
  slotTtlMs: number;
  /**
   * What the server may hold unsent for one socket (bytes its client has not read yet). A socket
   * over it when a frame is due is closed (1008): a client that stops reading holds no more.
   */
  maxSendBufferBytes: number;
  /**
   * What one socket may send while an earlier frame's handling waits (its join, a store call):
   * at most this many frames, `maxQueuedBytes` in all (one frame alone is always held, its size
   * bounded by the frame limit). One more closes it (1008, `rate_limited`): a client cannot make
   * the server hold its frames without bound while, say, its join waits on a slow store.
   */
  maxQueuedFrames: number;
  maxQueuedBytes: number;
}

function readRelayConfig(env: Env): RelaySettings {
  const v = validateEnv(RelayEnv, env);
  return {
    maxFrameBytes: v.RELAY_MAX_FRAME_BYTES ?? 64 * 1024,
    maxImageBytes: v.RELAY_MAX_IMAGE_BYTES ?? 5 * 1024 * 1024,
    ratePerSecond: v.RELAY_RATE_PER_SECOND ?? 20,
    rateBurst: v.RELAY_RATE_BURST ?? 40,
    pingIntervalMs: v.RELAY_PING_INTERVAL_MS ?? 20_000,
    authTimeoutMs: v.RELAY_AUTH_TIMEOUT_MS ?? 15_000,
    slotTtlMs: v.RELAY_SLOT_TTL_MS ?? 15_000,
    maxSendBufferBytes: v.RELAY_MAX_SEND_BUFFER_BYTES ?? 4 * 1024 * 1024,
    maxQueuedFrames: v.RELAY_MAX_QUEUED_FRAMES ?? 100,
    maxQueuedBytes: v.RELAY_MAX_QUEUED_BYTES ?? 8 * 1024 * 1024,
  };
}

export const relayConfig = defineConfig('relay', readRelayConfig);

/** Extra room over the base64 of the largest image for the rest of a submission frame. */
const SUBMISSION_FRAME_OVERHEAD = 4096;

/**
 * The largest frame a kiosk socket may send (a submission: the base64 of the largest image), with
 * room for MIME line breaks in it (a CRLF, written `\r\n` in JSON, after every 76 characters:
 * Android's Base64.DEFAULT and other MIME encoders), which the image check accepts.
 */
export function kioskFrameLimit(settings: Pick<RelaySettings, 'maxImageBytes'>): number {
  return Math.ceil(((settings.maxImageBytes * 4) / 3) * (80 / 76)) + SUBMISSION_FRAME_OVERHEAD;
}

/**
 * The bytes a socket may have queued behind the frame being handled (RELAY_MAX_QUEUED_BYTES),
 * never less than honest traffic needs: for a kiosk, two of its largest frames (a submission, and
 * a resend of it, as a legacy kiosk sends one) and another frame (a ping) after them. A kiosk
 * whose RELAY_MAX_IMAGE_BYTES was raised is not closed for a ping behind a submission.
 */
export function queuedBytesCap(
  settings: Pick<RelaySettings, 'maxImageBytes' | 'maxFrameBytes' | 'maxQueuedBytes'>,
  kiosk: boolean,
): number {
  if (!kiosk) return settings.maxQueuedBytes;
  return Math.max(settings.maxQueuedBytes, 2 * kioskFrameLimit(settings) + settings.maxFrameBytes);
}
