/**
 * The codes a frame can carry (`error.code`, `result.code`) and the close codes, each with the
 * meaning docs/protocol.md prints.
 */

/**
 * Why a submission failed, in `result.code` (new protocol) and `backend_response.data.code`
 * (legacy). Every upstream outcome is a `result` / `backend_response`, never an `error` frame.
 */
export const RESULT_CODES = {
  upstream_rejected:
    'the identity API answered, but not with success: a 2xx whose body says `status: "failure"`, or a 3xx/4xx (see status_code)',
  upstream_error: 'the identity API answered 5xx (status_code is its status)',
  upstream_timeout:
    'the identity API did not answer in time; it may have received the image, so it is not sent again (status_code 504; the session is completed)',
  upstream_connection_lost:
    'the connection broke after the image was sent; not sent again (status_code 502; the session is completed)',
  upstream_unusable_answer:
    'the identity API answered with a body nested too deep to pass on; it received the image, so it is not sent again (status_code 502; the session is completed)',
  upstream_invalid_answer:
    'the identity API answered 2xx, but its body is not a JSON object whose `status` is `"success"` or `"failure"` (no status, another value, not JSON, empty): nothing was verified; it received the image, so it is not sent again (status_code 502; the session is completed)',
  upstream_answer_too_large:
    'the identity API answered with a body over 1 MiB; it received the image, so it is not sent again (status_code 502; the session is completed)',
  upstream_unreachable:
    'the identity API could not be reached, the image never left (status_code 502; the kiosk may submit again)',
  upstream_not_configured:
    'UPSTREAM_URL is not set on the server (status_code 502; the kiosk may submit again)',
  store_failed:
    'the image could not be stored, nothing was sent upstream (status_code 503; the kiosk may submit again)',
} as const;

export type ResultCode = keyof typeof RESULT_CODES;

export const RELAY_ERROR_CODES = {
  invalid_json:
    'the frame is not a JSON object, or not I-JSON (RFC 7493) as REST bodies must be: a member name repeated in one object, a member named `__proto__`/`constructor`/`prototype`, a lone surrogate, a number no 64-bit float holds (on /ws/hardware the ones `JSON.parse` takes drop the frame without this error: the fielded hardware takes any error as fatal)',
  unknown_type:
    'the frame has no type, or one this socket does not take (or no longer takes: a second `auth` after a successful one)',
  invalid_message:
    'a field of the frame is missing, of the wrong type or out of its bounds, or the frame nests deeper or holds more object members than allowed (see Limits; on /ws/hardware those two drop the frame without this error: the fielded hardware takes any error as fatal)',
  unsupported_frame: 'binary frames are not accepted',
  payload_too_large: 'the frame (or the image in it) is over the limit',
  rate_limited: 'too many frames per second: this one was dropped',
  not_authenticated:
    'missing, invalid or repeated token (`?token=` given more than once), or a device frame before a successful auth',
  wrong_token_type: 'the token is for another socket path',
  session_not_found: 'the token names a session that does not exist',
  session_expired:
    'the token or the session is past its deadline when the socket opens (on every socket), or a submission came after it. An open socket at the deadline gets the `session_expired` frame instead (legacy sockets: no frame, close 4000)',
  session_closed:
    "the session is already completed (a phone socket whose session's result it never had gets that `result` instead: see A phone that comes back for its result)",
  already_connected:
    'the session already has a socket of this role, or (legacy) its app socket was already used once',
  session_mismatch: 'auth.session_id is not the session of the token',
  invalid_signature: 'the auth signature does not verify with the registered key',
  device_not_registered: 'auth.device_id is not a registered kiosk',
  device_blocked:
    'the kiosk is blocked: at auth, or while it is in a session (blocked by an admin: its socket closes, the phone gets `session_closed` with this reason), or at a submission',
  device_key_rotated:
    "the kiosk's key was rotated while it was in a session: the key it authenticated with no longer speaks for it (its socket closes, the phone gets `session_closed` with this reason); it authenticates again with the new key",
  standing_unavailable:
    "the kiosk's standing (blocked, key) could not be checked before its submission went upstream (the store did not answer): nothing was sent; submit again",
  auth_timeout: 'no auth frame in time after the challenge',
  peer_not_connected: 'the other side of the session is not connected: the frame was not delivered',
  invalid_image:
    'the image is not base64 of a JPEG or PNG. Accepted: standard base64 (`+/`), with or without `=` padding, with whitespace anywhere (MIME line breaks, CRLF or LF), optionally after a `data:image/jpeg;base64,` or `data:image/png;base64,` head; not base64url (`-_`)',
  missing_platform_id: 'legacy: to_backend without data.platform_id',
  unknown_platform_id: 'legacy: to_backend with a platform_id this session does not know',
  already_submitted:
    'the session already has its one successful submission (legacy hardware: a `status` frame `already submitted` instead)',
  submission_in_progress:
    'a submission of this session is being processed (legacy hardware: a `status` frame `submission in progress` instead)',
  platform_id_already_set:
    'legacy: to_hardware with a platform_id other than the one the session already holds (the frame is not relayed)',
  bus_unavailable:
    'the relay bus (Redis) is unavailable: the socket cannot be served (reconnect later)',
  privacy_violation: 'a frame toward a kiosk still held the platform id and was dropped',
  server_restarting:
    'the server is shutting down; reconnect within the session window (legacy sockets get the close only)',
  internal_error:
    "an unexpected server error (close 1011; 1013 `app_use_unrecorded` when a legacy app's use of its session could not be recorded: reconnect)",
} as const;

export type RelayErrorCode = keyof typeof RELAY_ERROR_CODES;

/** The close code and reason of each socket close the server makes. */
export const CLOSE_CODES = {
  normal: 1000,
  policyViolation: 1008,
  internalError: 1011,
  serverRestart: 1012,
  tryAgainLater: 1013,
  legacyExpired: 4000,
  notAuthenticated: 4401,
  forbidden: 4403,
  notFound: 4404,
  expired: 4408,
  conflict: 4409,
} as const;

/**
 * The error codes that end the socket: an `error` frame with the code, then this close code,
 * with the code as the close reason (a token refused at connect, a failed kiosk auth, …).
 */
export const CLOSE_FOR: Partial<Record<RelayErrorCode, number>> = {
  not_authenticated: CLOSE_CODES.notAuthenticated,
  wrong_token_type: CLOSE_CODES.forbidden,
  session_not_found: CLOSE_CODES.notFound,
  session_expired: CLOSE_CODES.expired,
  session_closed: CLOSE_CODES.conflict,
  already_connected: CLOSE_CODES.conflict,
  session_mismatch: CLOSE_CODES.notAuthenticated,
  invalid_signature: CLOSE_CODES.notAuthenticated,
  device_not_registered: CLOSE_CODES.forbidden,
  device_blocked: CLOSE_CODES.forbidden,
  device_key_rotated: CLOSE_CODES.notAuthenticated,
  auth_timeout: CLOSE_CODES.notAuthenticated,
  bus_unavailable: CLOSE_CODES.tryAgainLater,
};

/**
 * Every other close the server makes, by its close reason: the code, what the socket gets
 * before it (`frame`) and when. The relay closes with these entries (`closeFor`), so the table
 * in docs/protocol.md is what it sends.
 */
export const OTHER_CLOSES = {
  completed: {
    code: CLOSE_CODES.normal,
    frame: '`session_closed`',
    when: 'the session completed (its one successful submission)',
  },
  kiosk_revoked: {
    code: CLOSE_CODES.conflict,
    frame: '`session_closed` (reason `device_blocked` or `device_key_rotated`)',
    when: "the phone's socket, when the session's kiosk is blocked or its key rotated (the kiosk's socket gets the error of that code and its close); open a new session",
  },
  invalid_json: {
    code: CLOSE_CODES.notAuthenticated,
    frame: 'error `invalid_json`',
    when: "a kiosk's frame before its successful auth that is not JSON (its one try is spent)",
  },
  invalid_message: {
    code: CLOSE_CODES.notAuthenticated,
    frame: 'error `invalid_message`',
    when: "a kiosk's frame before its successful auth whose fields are wrong (a malformed `auth`)",
  },
  unknown_type: {
    code: CLOSE_CODES.notAuthenticated,
    frame: 'error `unknown_type`',
    when: "a kiosk's frame before its successful auth of a type its socket does not take",
  },
  too_slow: {
    code: CLOSE_CODES.policyViolation,
    frame: 'none',
    when: 'the client left more than `RELAY_MAX_SEND_BUFFER_BYTES` unread when a frame was due',
  },
  rate_limited: {
    code: CLOSE_CODES.policyViolation,
    frame: 'error `rate_limited`',
    when: 'more than `RELAY_RATE_BURST` frames before the socket was accepted, or more than `RELAY_MAX_QUEUED_FRAMES` frames (`RELAY_MAX_QUEUED_BYTES` bytes) waiting on an earlier frame still being handled (its join, a store call)',
  },
  internal_error: {
    code: CLOSE_CODES.internalError,
    frame: 'error `internal_error`',
    when: 'the socket could not be accepted, or its session loaded (an unexpected server error)',
  },
  app_use_unrecorded: {
    code: CLOSE_CODES.tryAgainLater,
    frame: 'error `internal_error`',
    when: "a legacy app's socket whose use of its session the session store could not record: the use is given back, reconnect",
  },
  server_restarting: {
    code: CLOSE_CODES.serverRestart,
    frame: 'error `server_restarting`',
    when: 'the server shuts down (new protocol)',
  },
  restarting: {
    code: CLOSE_CODES.serverRestart,
    frame: 'none',
    when: 'the server shuts down (legacy sockets, and any socket it was still accepting)',
  },
  session_expired: {
    code: CLOSE_CODES.expired,
    frame: '`session_expired`',
    when: "the session's deadline, on an open new-protocol socket",
  },
  expired: {
    code: CLOSE_CODES.legacyExpired,
    frame: 'none',
    when: "the session's deadline, on a legacy socket",
  },
} as const satisfies Record<string, { code: number; frame: string; when: string }>;

export type CloseReason = keyof typeof OTHER_CLOSES;

/** The close frame (code and reason) of one of OTHER_CLOSES. */
export function closeFor(reason: CloseReason): { code: number; reason: string } {
  return { code: OTHER_CLOSES[reason].code, reason };
}
