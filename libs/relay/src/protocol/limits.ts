import { sessionConfig } from '@app/session';
import { relayConfig } from '../relay.config';
import { upstreamConfig } from '../upstream/upstream.config';
import { RelayRole } from './sockets';

/**
 * The hard cap per socket at which `ws` itself closes the socket (1009), far above the relay's
 * own limits (which answer with an `error` frame): kiosk sockets carry the face image.
 */
export const WS_MAX_PAYLOAD: Record<RelayRole, number> = {
  mobile: 1024 * 1024,
  app: 1024 * 1024,
  device: 24 * 1024 * 1024,
  hardware: 24 * 1024 * 1024,
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
