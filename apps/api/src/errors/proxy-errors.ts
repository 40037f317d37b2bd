/**
 * The errors the shipped nginx (deploy/nginx.conf) answers itself, before or instead of a
 * replica, in the API's error body. docs/errors.md lists them (section "proxy"), and
 * error-catalog.spec.ts holds this table, the config's `error_page` answers and the codes'
 * meaning elsewhere in the API to each other.
 */
export interface ProxyError {
  code: string;
  status: number;
  meaning: string;
}

export const PROXY_ERRORS: readonly ProxyError[] = [
  {
    code: 'malformed_request',
    status: 400,
    meaning: 'nginx could not parse the request (a bad request line or header)',
  },
  {
    code: 'payload_too_large',
    status: 413,
    meaning: 'the request body is over 32 MiB (client_max_body_size, the vault limit)',
  },
  {
    code: 'headers_too_large',
    status: 431,
    meaning:
      "the request line, a request header or the headers together are over nginx's buffers (large_client_header_buffers, 8 KiB a line): nginx's 414 and 494, answered as the API answers the same over its 16 KiB",
  },
  {
    code: 'service_unavailable',
    status: 503,
    meaning:
      'no replica answered: every one tried refused, reset or timed out (or a request that is not resent died with its replica); `Retry-After` says when to resend (a sync is idempotent by packetId: resend it whole)',
  },
];
