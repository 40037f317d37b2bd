import { sessionConfig } from '@app/session';
import { kioskFrameLimit, MAX_IMAGE_BYTES, relayConfig } from '../relay.config';
import { upstreamConfig } from '../upstream/upstream.config';
import { RelayRole } from './sockets';

const MIB = 1024 * 1024;

/**
 * The hard cap per socket at which `ws` itself closes the socket (1009), at or above the relay's
 * own limits (which answer with an `error` frame) at their largest setting: phone and app frames
 * up to RELAY_MAX_FRAME_BYTES (at most 1 MiB), kiosk frames up to a submission of the largest
 * RELAY_MAX_IMAGE_BYTES (12 MiB decoded, its base64 16 MiB and a little), rounded up to a MiB.
 */
export const WS_MAX_PAYLOAD: Record<RelayRole, number> = {
  mobile: MIB,
  app: MIB,
  device: Math.ceil(kioskFrameLimit({ maxImageBytes: MAX_IMAGE_BYTES }) / MIB) * MIB,
  hardware: Math.ceil(kioskFrameLimit({ maxImageBytes: MAX_IMAGE_BYTES }) / MIB) * MIB,
};

/** The defaults docs/protocol.md states: what the config reads from an empty environment. */
export function defaultLimits() {
  return {
    relay: relayConfig.read({}),
    upstream: upstreamConfig.read({}),
    session: sessionConfig.read({}),
  };
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
