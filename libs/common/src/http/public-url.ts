import { Request } from 'express';

/**
 * The base URL clients use to reach this API (no trailing slash), for absolute URLs the server
 * hands out: `PUBLIC_URL` when set (always in production), else derived from the request as
 * the client sent it: its scheme and Host, as forwarded by a trusted proxy (`TRUST_PROXY`).
 */
export function publicBaseUrl(configured: string | undefined, request: Request): string {
  if (configured) return configured;
  return `${request.protocol}://${request.host ?? 'localhost'}`;
}
