/**
 * The errors the shipped nginx (deploy/nginx.conf) answers itself, before or instead of a
 * replica, in the API's error body. docs/errors.md lists them (section "proxy"), and
 * error-catalog.spec.ts holds this table, the config's `error_page` answers and the codes'
 * meaning elsewhere in the API to each other. `upstream_timeout`, `not_implemented` and
 * `http_version_not_supported` are nginx's alone (no replica answers them over HTTP; the relay's
 * WebSocket `upstream_timeout` is a 504 too).
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
    code: 'not_found',
    status: 404,
    meaning:
      'a path nginx refuses itself: `/metrics` (for the scraper inside the network only), and a path of the long route class only once nginx decodes it (`/api/v5/sites/x%2Fpayroll`: an encoded slash does not choose the long class and its 300 s timeout)',
  },
  {
    code: 'method_not_allowed',
    status: 405,
    meaning: 'a method nginx refuses itself (TRACE)',
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
    code: 'not_implemented',
    status: 501,
    meaning: 'a `Transfer-Encoding` nginx does not implement (anything but chunked)',
  },
  {
    code: 'service_unavailable',
    status: 503,
    meaning:
      'no replica took the request: every one tried refused or reset it, none is in the rotation, or the one holding a request that is not resent closed its connection without an answer (it died: nginx cannot tell whether before or after applying it); `Retry-After` says when to resend (a sync is idempotent by packetId: resend it whole)',
  },
  {
    code: 'upstream_timeout',
    status: 504,
    meaning:
      "a replica took the request and did not answer within its route's read timeout (30 s; WebSockets and the vault 60 s; the long answers 300 s, not resent to the other replica): it may have been applied, so no `Retry-After`. A GET can be sent again; check before resending a POST, PATCH or DELETE (a vault store, a worker's or thekedar's creation: list what is there first). A sync is idempotent by packetId: resend it whole. Also both replicas' connects over 2 s (rare: the request was not sent)",
  },
  {
    code: 'http_version_not_supported',
    status: 505,
    meaning: 'an HTTP version nginx does not speak on this port (HTTP/1.0 and 1.1 only)',
  },
];
