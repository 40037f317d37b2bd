/**
 * Every WebSocket message of the relay, each declared once with `message()`: its fields (type,
 * check and bound), the sockets and direction it travels, a description and an example the
 * compiler checks against the fields. Everything else is derived from MESSAGES: the frame types
 * below, the inbound types per socket (INBOUND_TYPES), the parser (parse-frame.ts) and
 * docs/protocol.md (`npm run docs:protocol`; a test checks it is current and every example valid).
 */
import { KIOSK_AUTH_INPUT } from '@app/kiosk-registry/domain/kiosk-auth';
import { RELAY_ERROR_CODES, RESULT_CODES } from './codes';
import { anyJson, codeOf, isoTime, jsonObject, oneOf, optional, text, wholeNumber } from './fields';
import {
  AnyMessageDef,
  Direction,
  frameProblem,
  FrameSent,
  FrameSentOn,
  message,
  Route,
} from './message';
import { EVERY_SOCKET, LEGACY_PROTOCOL, NEW_PROTOCOL, RELAY_PATHS, RelayRole } from './sockets';

export * from './codes';
export * from './sockets';
export type { JsonObject } from './fields';

const toServer = <const S extends RelayRole>(sockets: readonly S[], description: string) =>
  ({ direction: 'client → server', sockets, description }) as const;
const toClient = <const S extends RelayRole>(sockets: readonly S[], description: string) =>
  ({ direction: 'server → client', sockets, description }) as const;

/** Longest kiosk id and auth signature accepted in `auth`. */
const MAX_DEVICE_ID = 128;
const MAX_SIGNATURE = 4096;
/** Most liveness passes a kiosk reports in `submit_result`. */
const MAX_PASSES = 1000;

// ---- the messages, in the order docs/protocol.md lists them ------------------------------

export const JOINED = message({
  type: 'joined',
  fields: {
    role: oneOf(NEW_PROTOCOL),
    session_id: text(),
    expires_at: isoTime(),
  },
  routes: [
    toClient(NEW_PROTOCOL, 'The socket is in the session (device: after a successful auth).'),
  ],
  example: {
    type: 'joined',
    role: 'mobile',
    session_id: '6560f1c2a3b4c5d6e7f80912',
    expires_at: '2026-11-21T15:03:00.000Z',
  },
});

export const JOINED_LEGACY = message({
  type: 'joined',
  fields: { role: oneOf(LEGACY_PROTOCOL) },
  routes: [
    toClient(LEGACY_PROTOCOL, "Legacy: the socket is in the session named by the token's jti."),
  ],
  example: { type: 'joined', role: 'hardware' },
});

export const CHALLENGE = message({
  type: 'challenge',
  fields: { nonce: text() },
  routes: [
    toClient(
      ['device'],
      `Sent on connect: sign \`${KIOSK_AUTH_INPUT}\` (UTF-8) with RSASSA-PSS, SHA-256, salt length 32, with the kiosk key.`,
    ),
  ],
  example: { type: 'challenge', nonce: 'q2X1c0m9bV8pQ4r7t1w3yA' },
});

export const AUTH = message({
  type: 'auth',
  fields: {
    session_id: text(),
    device_id: text({ max: MAX_DEVICE_ID }),
    signature: text({ max: MAX_SIGNATURE }),
  },
  routes: [
    toServer(
      ['device'],
      'The kiosk proves its identity; `signature` is base64. One try: a failure closes the socket, and so does a malformed `auth` frame (its `invalid_json` / `invalid_message` / `unknown_type` error, close 4401) or any other JSON frame than `auth`, `ping` or `pong` before a successful auth (`not_authenticated`, 4401). A frame refused before it is read (binary: `unsupported_frame`; over the size limit: `payload_too_large`; over the rate: `rate_limited`) gets its error and leaves the socket open, its auth still due (`auth_timeout`).',
    ),
  ],
  example: {
    type: 'auth',
    session_id: '6560f1c2a3b4c5d6e7f80912',
    device_id: 'TEE-RDKX5-0001',
    signature: 'base64…',
  },
});

export const STATUS = message({
  type: 'status',
  fields: {
    peer: oneOf(['device', 'mobile']),
    state: oneOf(['connected', 'disconnected']),
    device_id: optional(text()),
  },
  routes: [
    toClient(
      NEW_PROTOCOL,
      'The other side connected or left. To the mobile, `device_id` names the kiosk.',
    ),
  ],
  example: { type: 'status', peer: 'device', state: 'connected', device_id: 'TEE-RDKX5-0001' },
});

export const STATUS_LEGACY = message({
  type: 'status',
  fields: { msg: text() },
  routes: [
    toClient(
      LEGACY_PROTOCOL,
      'Legacy: the other side connected or left (`hardware connected`, `app disconnected`, …); to the hardware also `submission in progress` / `already submitted` for a repeated `to_backend`.',
    ),
  ],
  example: { type: 'status', msg: 'hardware connected' },
});

export const TO_DEVICE = message({
  type: 'to_device',
  fields: { data: jsonObject() },
  routes: [
    toServer(
      ['mobile'],
      'Relay `data` to the kiosk. The platform id is removed from it at any depth first.',
    ),
  ],
  example: { type: 'to_device', data: { step: 'look_at_camera' } },
});

export const FROM_MOBILE = message({
  type: 'from_mobile',
  fields: { data: jsonObject() },
  routes: [toClient(['device'], 'What the mobile sent, without the platform id.')],
  example: { type: 'from_mobile', data: { step: 'look_at_camera' } },
});

export const TO_MOBILE = message({
  type: 'to_mobile',
  fields: { data: jsonObject() },
  routes: [toServer(['device'], 'Relay `data` to the mobile.')],
  example: { type: 'to_mobile', data: { progress: 3, of: 5 } },
});

export const FROM_DEVICE = message({
  type: 'from_device',
  fields: { data: jsonObject() },
  routes: [toClient(['mobile'], 'What the kiosk sent.')],
  example: { type: 'from_device', data: { progress: 3, of: 5 } },
});

export const SUBMIT_RESULT = message({
  type: 'submit_result',
  fields: {
    image: text({ min: 1 }),
    passes: optional(wholeNumber({ min: 0, max: MAX_PASSES })),
  },
  routes: [
    toServer(
      ['device'],
      "The face image (base64 JPEG or PNG). Stored encrypted, then sent upstream with the session's platform id. One successful submission per session.",
    ),
  ],
  example: { type: 'submit_result', image: '/9j/4AAQSkZJRg…', passes: 5 },
});

const RESULT_FIELDS = {
  status: oneOf(['success', 'failure']),
  /** Set on a failure: what happened. */
  code: optional(codeOf(RESULT_CODES, 'a result code (see Result codes)')),
  status_code: wholeNumber(),
  latency_ms: wholeNumber({ min: 0 }),
};

export const RESULT = message({
  type: 'result',
  fields: { ...RESULT_FIELDS, platform_id: optional(text()), data: anyJson() },
  routes: [
    toClient(
      ['mobile'],
      "The submission's outcome, for every upstream outcome (answer, 5xx, timeout, unreachable), with the platform id and the upstream's body in `data` (less any echoed image and configured secret: see What an upstream answer carries). A failure carries `code` (see Result codes). `session_closed` follows and both sockets close, except after `upstream_unreachable`, `upstream_not_configured` or `store_failed`, when the image never left and the kiosk may submit again. A phone whose socket was gone when a final outcome was known gets this same frame, once, when it reconnects with the same token before the deadline (see A phone that comes back for its result).",
    ),
  ],
  example: {
    type: 'result',
    status: 'success',
    platform_id: 'PLT_jjbmYWeq3o1W',
    status_code: 200,
    data: { status: 'success' },
    latency_ms: 412,
  },
});

export const RESULT_KIOSK = message({
  type: 'result',
  fields: { ...RESULT_FIELDS, data: jsonObject() },
  routes: [
    toClient(
      ['device'],
      "The kiosk's copy of the outcome: no `platform_id`, and `data` keeps only the upstream body's `status`, `code` and `message`. `session_closed` follows when the phone's does.",
    ),
  ],
  example: {
    type: 'result',
    status: 'failure',
    code: 'upstream_rejected',
    status_code: 404,
    data: { status: 'failure', message: 'No such user' },
    latency_ms: 230,
  },
});

export const SESSION_CLOSED = message({
  type: 'session_closed',
  fields: { reason: oneOf(['completed', 'device_blocked', 'device_key_rotated']) },
  routes: [
    toClient(
      NEW_PROTOCOL,
      "The session is over. `completed`: its submission is done; the socket closes with 1000. `device_blocked` / `device_key_rotated` (the phone's socket): the session's kiosk was blocked, or its key rotated, while in the session; the socket closes with 4409 and the phone opens a new session.",
    ),
  ],
  example: { type: 'session_closed', reason: 'completed' },
});

export const TO_HARDWARE = message({
  type: 'to_hardware',
  fields: { data: jsonObject() },
  routes: [
    toServer(
      ['app'],
      'Legacy: relay `data` to the hardware. A `data.platform_id` (a string, `PLT_` and at least 10 letters or digits; any other value: `invalid_message`, not relayed) is kept by the server and replaced by a per-session alias (`PLT_ALIAS_…`); a session holds one platform id (another one: `platform_id_already_set`).',
    ),
  ],
  example: { type: 'to_hardware', data: { platform_id: 'PLT_jjbmYWeq3o1W' } },
});

export const FROM_APP = message({
  type: 'from_app',
  fields: { data: jsonObject() },
  routes: [
    toClient(['hardware'], 'Legacy: what the app sent, the platform id replaced by the alias.'),
  ],
  example: { type: 'from_app', data: { platform_id: 'PLT_ALIAS_k3J9sQ0aZx1b' } },
});

export const TO_APP = message({
  type: 'to_app',
  fields: { data: jsonObject() },
  routes: [
    toServer(
      ['hardware'],
      'Legacy: relay `data` to the app, as sent (the server never writes the real id into what the hardware sent).',
    ),
  ],
  example: { type: 'to_app', data: { message: 'hello' } },
});

export const FROM_HARDWARE = message({
  type: 'from_hardware',
  fields: { data: jsonObject() },
  routes: [toClient(['app'], 'Legacy: what the hardware sent.')],
  example: { type: 'from_hardware', data: { message: 'hello' } },
});

export const TO_BACKEND = message({
  type: 'to_backend',
  fields: { data: jsonObject() },
  routes: [
    toServer(
      ['hardware'],
      'Legacy: the face image with the platform id the hardware holds (the alias), as `data.platform_id` and `data.image_base64`; the server calls upstream with the real id. A `to_backend` sent while the first is still with the upstream, or after its answer, gets a `status` frame (`submission in progress` / `already submitted`), never an error: the fielded hardware takes any error frame as fatal.',
    ),
  ],
  example: {
    type: 'to_backend',
    data: { platform_id: 'PLT_ALIAS_k3J9sQ0aZx1b', image_base64: '/9j/4AAQSkZJRg…' },
  },
});

export const BACKEND_RESPONSE = message({
  type: 'backend_response',
  fields: { status_code: wholeNumber(), data: anyJson(), latency_ms: wholeNumber({ min: 0 }) },
  routes: [
    toClient(
      LEGACY_PROTOCOL,
      "Legacy: the submission's outcome, to both, for every upstream outcome: the upstream's status and body (less any echoed image and configured secret: see What an upstream answer carries), or 502/504 with `data` = `{status:'failure', code, message}` when it could not be reached or did not answer. The hardware's `data` keeps only `status`, `code` and `message`, with the alias in place of the real id and any other platform id replaced.",
    ),
  ],
  example: {
    type: 'backend_response',
    status_code: 200,
    data: { status: 'success' },
    latency_ms: 412,
  },
});

export const PING = message({
  type: 'ping',
  fields: {},
  routes: [
    toClient(
      EVERY_SOCKET,
      'Keepalive every `RELAY_PING_INTERVAL_MS` (see Limits); answer `pong`. A socket that answered neither this nor the WebSocket ping by the next round is closed.',
    ),
    toServer(EVERY_SOCKET, 'The server answers `pong`.'),
  ],
  example: { type: 'ping' },
});

export const PONG = message({
  type: 'pong',
  fields: {},
  routes: [
    toServer(EVERY_SOCKET, "Answer to the server's `ping`."),
    toClient(EVERY_SOCKET, "Answer to the client's `ping`."),
  ],
  example: { type: 'pong' },
});

export const SESSION_EXPIRED = message({
  type: 'session_expired',
  fields: {},
  routes: [
    toClient(
      NEW_PROTOCOL,
      "The session's deadline passed while the socket was open; the socket closes with 4408. Legacy sockets get no frame: they close with 4000, as the old server did.",
    ),
  ],
  example: { type: 'session_expired' },
});

export const ERROR = message({
  type: 'error',
  fields: {
    code: codeOf(RELAY_ERROR_CODES, 'an error code (see Error codes)'),
    message: text(),
  },
  routes: [
    toClient(
      EVERY_SOCKET,
      'Something was refused; see the codes below. The socket stays open unless the code says it closes.',
    ),
  ],
  example: { type: 'error', code: 'peer_not_connected', message: 'The device is not connected' },
});

/** The keepalive frames as sent (the same text every time: serialized once). */
export const PING_TEXT = JSON.stringify({ type: 'ping' } satisfies PingFrame);
export const PONG_TEXT = JSON.stringify({ type: 'pong' } satisfies PongFrame);

/** Every message; a new one is declared above and listed here. */
export const MESSAGES = [
  JOINED,
  JOINED_LEGACY,
  CHALLENGE,
  AUTH,
  STATUS,
  STATUS_LEGACY,
  TO_DEVICE,
  FROM_MOBILE,
  TO_MOBILE,
  FROM_DEVICE,
  SUBMIT_RESULT,
  RESULT,
  RESULT_KIOSK,
  SESSION_CLOSED,
  TO_HARDWARE,
  FROM_APP,
  TO_APP,
  FROM_HARDWARE,
  TO_BACKEND,
  BACKEND_RESPONSE,
  PING,
  PONG,
  SESSION_EXPIRED,
  ERROR,
] as const;

type Message = (typeof MESSAGES)[number];

// ---- derived: the frame types -------------------------------------------------------------

/** What a client may send (on some socket). */
export type InboundFrame = FrameSent<Message, 'client → server'>;
/** What the server sends. */
export type OutboundFrame = FrameSent<Message, 'server → client'>;

type Sent<T extends string, D extends Direction = Direction> = Extract<
  FrameSent<Message, D>,
  { type: T }
>;
export type PingFrame = Sent<'ping'>;
export type PongFrame = Sent<'pong'>;
export type AuthFrame = Sent<'auth'>;
export type ToDeviceFrame = Sent<'to_device'>;
export type ToMobileFrame = Sent<'to_mobile'>;
export type SubmitResultFrame = Sent<'submit_result'>;
export type ToHardwareFrame = Sent<'to_hardware'>;
export type ToAppFrame = Sent<'to_app'>;
export type ToBackendFrame = Sent<'to_backend'>;
export type JoinedFrame = Sent<'joined'>;
export type ChallengeFrame = Sent<'challenge'>;
export type StatusFrame = Sent<'status'>;
export type FromMobileFrame = Sent<'from_mobile'>;
export type FromDeviceFrame = Sent<'from_device'>;
export type FromAppFrame = Sent<'from_app'>;
export type FromHardwareFrame = Sent<'from_hardware'>;
export type ResultFrame = Sent<'result'>;
export type BackendResponseFrame = Sent<'backend_response'>;
export type SessionClosedFrame = Sent<'session_closed'>;
export type SessionExpiredFrame = Sent<'session_expired'>;
export type ErrorFrame = Sent<'error'>;

/**
 * What the protocol handler of the sockets `S` is given: what those sockets send, but the
 * keepalive (`ping`, `pong`), which the intake answers itself. A handler switches over it
 * without a default, so a new inbound message does not compile until its handler takes it.
 */
export type HandlerFrame<S extends RelayRole> = Extract<
  Exclude<FrameSentOn<Message, 'client → server', S>, PingFrame | PongFrame>,
  InboundFrame
>;

/** Whether `frame` is one the handler of the sockets `sockets` takes (HandlerFrame). */
export function isHandlerFrame<S extends RelayRole>(
  sockets: readonly S[],
  frame: InboundFrame,
): frame is HandlerFrame<S> {
  if (frame.type === 'ping' || frame.type === 'pong') return false;
  for (const role of sockets) if (ROUTED[role]['client → server'].has(frame.type)) return true;
  return false;
}

// ---- derived: who sends what where ------------------------------------------------------

/** By role, then direction (looked up per frame: no key is built per call). */
const ROUTED = {} as Record<RelayRole, Record<Direction, ReadonlyMap<string, AnyMessageDef>>>;
for (const role of EVERY_SOCKET) {
  const byDirection = {} as Record<Direction, ReadonlyMap<string, AnyMessageDef>>;
  for (const direction of ['client → server', 'server → client'] as const) {
    const byType = new Map<string, AnyMessageDef>();
    for (const def of MESSAGES as readonly AnyMessageDef[])
      if (def.routes.some((r) => r.direction === direction && r.sockets.includes(role)))
        byType.set(def.type, def);
    byDirection[direction] = byType;
  }
  ROUTED[role] = byDirection;
}

/** The declarations travelling on `role` in `direction`, by type (one shape per type each). */
export function messagesOn(
  role: RelayRole,
  direction: Direction,
): ReadonlyMap<string, AnyMessageDef> {
  return ROUTED[role][direction];
}

/** The inbound types each role may send. */
export const INBOUND_TYPES = {} as Record<RelayRole, ReadonlyArray<InboundFrame['type']>>;
for (const role of EVERY_SOCKET)
  INBOUND_TYPES[role] = [...messagesOn(role, 'client → server').keys()] as InboundFrame['type'][];

/** One route of one message, as docs/protocol.md lists it. */
export interface MessageSpec extends Route {
  type: string;
  example: { readonly type: string };
  message: AnyMessageDef;
}

/** Every message × route, in declaration order. */
export const MESSAGE_CATALOG: MessageSpec[] = (MESSAGES as readonly AnyMessageDef[]).flatMap(
  (def) =>
    def.routes.map((route) => ({ ...route, type: def.type, example: def.example, message: def })),
);

/**
 * Why `value` is not a frame the server may send on `role`, or undefined when it is one: its
 * type travels server → client on that socket and its fields are exactly the declared ones.
 */
export function outboundProblem(role: RelayRole, value: unknown): string | undefined {
  const type = (value as { type?: unknown } | null)?.type;
  const def = typeof type === 'string' ? messagesOn(role, 'server → client').get(type) : undefined;
  if (!def) return `${RELAY_PATHS[role]} is not sent frames of type ${String(type)}`;
  return frameProblem(def, value);
}
