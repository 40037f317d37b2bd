import { DEFAULT_JSON_LIMITS } from '@app/common';
import { defaultLimits, formatBytes, formatMs, WS_MAX_PAYLOAD } from './limits';
import { MAX_FRAME_DEPTH } from './parse-frame';
import { CLOSE_GRACE_MS } from '../relay-connection';
import { AnyMessageDef } from './message';
import {
  CLOSE_CODES,
  CLOSE_FOR,
  MESSAGE_CATALOG,
  OTHER_CLOSES,
  MESSAGES,
  RELAY_ERROR_CODES,
  RELAY_PATHS,
  RelayRole,
  RESULT_CODES,
} from './messages';

/**
 * docs/protocol.md (`npm run docs:protocol` writes it; a test checks it is current). Messages,
 * their fields and bounds come from the declarations in messages.ts; the limits from the
 * config's defaults; the codes from codes.ts. Only the narrative below is written here.
 */
export function renderProtocolDoc(): string {
  const { relay, upstream, session } = defaultLimits();
  const lines: string[] = [];
  const push = (...more: string[]) => lines.push(...more);
  push(
    '# WebSocket protocol',
    '',
    '<!-- Generated from libs/relay/src/protocol/ (messages.ts declares every message) by `npm run docs:protocol`. Do not edit by hand. -->',
    '',
    'Every frame is one JSON object with a `type`. Text frames only; binary frames get an',
    '`unsupported_frame` error. A bad frame gets an `error` frame, never a dropped connection,',
    'unless its code says the socket closes.',
    '',
    '## Sockets',
    '',
    '| path | who | token |',
    '|---|---|---|',
    `| \`${RELAY_PATHS.mobile}?token=…\` | the phone (new protocol) | \`token\` of \`POST /api/auth/mobile\` |`,
    `| \`${RELAY_PATHS.device}?token=…\` | the kiosk (new protocol) | \`qr_payload.token\`, then a signed \`auth\` |`,
    `| \`${RELAY_PATHS.app}?token=…\` | the legacy app | \`token\` of \`POST /auth\` (same as the hardware's) |`,
    `| \`${RELAY_PATHS.hardware}?token=…\` | the legacy kiosk | \`token\` of \`POST /auth\` |`,
    '',
    'A token opens only its own path(s): a mobile token on `/ws/device` is refused with',
    '`wrong_token_type`. One socket per role per session, across all API instances. `joined` is',
    'sent once the server knows whether the peer is there: a frame sent right after it reaches a',
    'peer that is connected, on whichever instance.',
    '',
    '## New protocol, in order',
    '',
    '1. Phone: `POST /api/auth/mobile` → `token`, `session_id`, `expires_at`, `qr_payload`; shows `qr_payload` as a QR.',
    '2. Phone opens `/ws/mobile?token=<token>` → `joined`.',
    '3. Kiosk scans the QR, opens `/ws/device?token=<qr_payload.token>` → `challenge`; answers `auth`',
    '   signed with its TrustZone key → `joined`; the phone gets `status` (`device_id`).',
    '4. `to_device` / `to_mobile` are relayed as `from_mobile` / `from_device`. The platform id is',
    '   removed from anything bound for the kiosk, at any depth, under any key.',
    '5. Kiosk sends `submit_result` → the server calls the identity API with the platform id it',
    "   kept → `result` to both (the kiosk's copy without `platform_id`, its `data` reduced to",
    '   `status`, `code`, `message`) → `session_closed`, close 1000. Every upstream outcome is a',
    '   `result`: a failure has `status:"failure"` and a `code` (see Result codes).',
    '6. At the deadline both sockets get `session_expired` and close with 4408.',
    '',
    '## A phone that comes back for its result',
    '',
    "A phone whose socket is gone when its session's outcome is known (dropped while the image was",
    'with the identity API) reconnects to `/ws/mobile` with the **same session token**, on any',
    "instance, until the session's deadline. If the session completed meanwhile, the socket gets",
    "the `result` the phone would have had (the same frame: `platform_id`, the upstream's `data`),",
    'then `session_closed` (`completed`), then close 1000, with no `joined` before them. At least',
    'once: the session keeps the outcome (sealed, never the image) until a phone socket answers the',
    'close that follows its `result` (live or on return) with 1000, the echo of ours; a socket that',
    'read nothing and answered no close, or closed on its own with another code such as 1001, leaves',
    'it kept. So a phone may get it twice: when it read it live but its answer to the close was lost',
    '(1006), or two of its sockets came back at once; the result is the same. After that, or for',
    'a session completed without a kept outcome, a phone socket is refused with `session_closed`',
    '(4409) as before; after the deadline with `session_expired` (4408); and a kiosk socket never',
    'gets it (`session_closed`). A phone back while the submission is still upstream joins as usual',
    'and gets the `result` when it is known; while the server still holds its previous socket (the',
    "phone's network went without a close), that reconnect is refused `already_connected` until the",
    'keepalive lets the old socket go (two ping rounds): retry; once the session is completed the',
    'result is given whatever the old socket. Keep the same socket URL (token) for a reconnect; a',
    'new session (`POST /api/auth/mobile`) is a new submission.',
    '',
    '## A kiosk blocked or re-keyed during a session',
    '',
    '`POST /api/kiosks/:device_id/block` or `/rotate-key` ends every session the kiosk is in, on',
    "whichever instance its socket is (the other instances are told over Redis): the kiosk's",
    'socket gets `error` `device_blocked` (close 4403) or `device_key_rotated` (close 4401), the',
    'phone `session_closed` with that reason (close 4409); the phone opens a new session. Before',
    'a submission goes upstream the server checks again that the kiosk is registered, unblocked',
    'and on the key it authenticated with (the same error and closes when not: a kick Redis could',
    'not carry still stops the image); a store that does not answer refuses the submission',
    '(`standing_unavailable`, nothing sent). The legacy hardware has no registered identity (it',
    'holds the shared `HARDWARE_API_KEYS` key), so there is no kiosk to block there: a hardware key',
    'is withdrawn by removing it from `HARDWARE_API_KEYS`.',
    '',
    '## Legacy protocol (fielded hardware, unchanged)',
    '',
    `\`POST /auth {"api_key"}\` → \`{"token","expires_in":${session.ttlSeconds}}\`; hardware on \`/ws/hardware\`, app on`,
    "`/ws/app`, same token (paired by its `jti`). The app's `to_hardware` with `data.platform_id` is",
    'kept by the server; the hardware receives a per-session alias (`PLT_ALIAS_…`) in its place, and',
    'its `to_backend` with that alias is sent upstream with the real id. `backend_response` goes to',
    "both, for every upstream outcome (502/504 with `data` = `{status:'failure', code, message}`",
    "when the upstream could not be reached or did not answer); the hardware's copy keeps only",
    '`status`, `code` and `message` of the body, with the alias in place of the real id. The',
    'fielded hardware treats any `error` frame as fatal, so it never gets one for an upstream',
    'outcome. What the hardware sends to the app is relayed as sent (the server never writes the',
    "real id into it). A session's app slot is taken once: a second `/ws/app` is refused with",
    '`already_connected`. At the deadline both sockets close with **4000** and no frame; at',
    'shutdown with 1012 and no frame.',
    '',
    '## Platform ids',
    '',
    '`PLT_` followed by 10 to 124 letters or digits (`POST /api/auth/mobile` answers 400',
    'otherwise; a legacy `to_hardware` with another shape gets `invalid_message`). Toward a kiosk',
    'the server removes every platform id the session holds in any letter case and in base64 or',
    'base64url, from keys and values at any depth; a frame that would still carry one is dropped',
    '(`privacy_violation`). Keys named like a platform id (`platform_id`, `platformId`, …) are',
    'dropped at any depth, except, toward the legacy hardware, `data.platform_id` holding a string',
    '(the alias); toward the legacy hardware any other `PLT_`-shaped id, one the session never held',
    'included, is replaced with `[platform_id removed]` wherever it appears.',
    '',
    '## Upstream submission policy',
    '',
    'One upstream submission per session. Every attempt carries `Idempotency-Key: mdai-submission-<session_id>`.',
    'An attempt that may have reached the upstream (timed out, connection lost after sending) is',
    'never sent again: the outcome is a 504/502 failure and the session is completed. Retries',
    `(at most \`UPSTREAM_RETRIES\`, default ${upstream.retries}) happen only when the request provably did not arrive`,
    '(connection refused, name not resolved) or the upstream answered 503 with `Retry-After`',
    '(delta-seconds, or an HTTP-date; any other value, `-5` or `1.5`, is ignored: no retry). One',
    `attempt waits \`UPSTREAM_TIMEOUT_MS\` (default ${formatMs(upstream.timeoutMs)}), and nothing runs past the kiosk's 120 s`,
    'acknowledgement wait or the session deadline (1 s is kept to deliver the answer). That bound',
    'is on the whole attempt, from sending the request to the last byte of the answer: an answer',
    'still arriving when it is reached (headers sent, its body trickling in) is cut off, its',
    'connection closed, and the outcome is `upstream_timeout` (504), as for no answer. When the',
    'image never left (unreachable, not configured, not stored) the session stays open and the',
    'kiosk may submit again under the same key.',
    '',
    'What counts as success: a **2xx whose body is a JSON object with `status: "success"`** (what',
    'the identity API, and `scripts/upstream-stub.js`, answer for a verified face). A 2xx with',
    '`status: "failure"` is its verdict (`upstream_rejected`, with its status code); a 2xx with any',
    'other body (no `status`, another value, not JSON, empty) verified nothing: the outcome is a',
    'failure `upstream_invalid_answer` with status_code 502 (legacy: `backend_response` 502), and',
    'the session is completed (the image reached it). Any 3xx/4xx is `upstream_rejected`, any',
    '5xx `upstream_error`, whatever the body says. An answer body over 1 MiB is',
    '`upstream_answer_too_large` (502; legacy: `backend_response` 502). With `UPSTREAM_URL` set and',
    '`UPSTREAM_API_KEY` unset the server warns at boot and sends no `x-api-key` header.',
    '',
    '## When Redis is down',
    '',
    'With `REDIS_URL` set, a socket that cannot be served because the bus does not answer gets',
    '`bus_unavailable` and close 1013 (try again later); the server stays up, `/health` answers',
    "503 naming `redis`, and pairing works again by itself when Redis is back. A socket's slot",
    'lives `RELAY_SLOT_TTL_MS` (15 s) and is refreshed every third of it while the socket lives,',
    'so a crashed instance frees its slots within seconds.',
    '',
    'A Redis that comes back empty (restarted without persistence) has lost every slot. Each',
    'instance re-asserts the slots of the sockets it holds the moment its connection is back, and',
    'for `RELAY_SLOT_TTL_MS` after the store came back a socket whose slot is free does not get it',
    'at once: its join waits (no frame) until that window ends, then claims again. So the first',
    'holder keeps its session: a second socket of the role (a second kiosk with the QR token) is',
    'refused `already_connected` (4409), as it would be without the restart, and the pair still',
    "relays. A socket whose session's slot really is free (its holder's instance is gone) gets",
    '`joined` after the wait. New sessions opened in that window join after it too.',
    '',
    'Should another kiosk ever hold the session after all (a first kiosk whose instance could not',
    'refresh its slot for `RELAY_SLOT_TTL_MS`), the first kiosk gets `already_connected` and',
    "close 4409, and the phone gets a `status` `connected` with the new kiosk's `device_id`: a",
    'phone that sees `device_id` change knows another kiosk now holds its session.',
    '',
    '## When an instance dies',
    '',
    'An instance that stops without closing its sockets (killed, its machine gone; one that shuts',
    "down closes them with 1012) tells nobody. Its socket's peer, on another instance:",
    '',
    '- gets no `status` `disconnected`; what it sends to the gone side is neither delivered nor',
    '  refused (no `peer_not_connected`);',
    "- the gone socket's slot expires within `RELAY_SLOT_TTL_MS`: that side may then join again, on",
    '  any instance, with its token (a kiosk: the QR token and a new `auth`; not the legacy app,',
    '  whose slot is taken once). Its peer gets no new `status`: it was never told it left;',
    '- a submission that was with the identity API on the dead instance has no outcome: the',
    '  session stays in progress (a new `submit_result` is answered `submission_in_progress`;',
    '  legacy hardware: the `status` frame), and both sides get `session_expired` at its deadline.',
    '',
    'A client waiting for its peer or for a result bounds that wait itself (the fielded kiosk waits',
    '120 s for `backend_response`); `session_expired` at the deadline ends it at the latest.',
    '',
    '## Messages',
    '',
  );
  for (const spec of MESSAGE_CATALOG) {
    push(
      `### \`${spec.type}\` (${spec.direction}; ${spec.sockets.map((s: RelayRole) => `\`${RELAY_PATHS[s]}\``).join(', ')})`,
      '',
      spec.description,
      '',
      ...fieldLines(spec.message),
      '```json',
      JSON.stringify(spec.example),
      '```',
      '',
    );
  }
  push(
    '## Error codes',
    '',
    'An error that ends the socket is followed by the close code of its row, with the error code',
    'as the close reason; the others leave the socket open (unless Close codes lists it there).',
    '',
    '| code | meaning | closes with |',
    '|---|---|---|',
  );
  for (const [code, meaning] of Object.entries(RELAY_ERROR_CODES)) {
    const always = CLOSE_FOR[code as keyof typeof CLOSE_FOR];
    const sometimes = OTHER_CLOSES[code as keyof typeof OTHER_CLOSES];
    const close = always ?? (sometimes ? `${sometimes.code} when ${sometimes.when}` : '');
    push(`| \`${code}\` | ${meaning} | ${close} |`);
  }
  push('', '## Result codes', '', '| code | meaning |', '|---|---|');
  for (const [code, meaning] of Object.entries(RESULT_CODES)) push(`| \`${code}\` | ${meaning} |`);
  push(
    '',
    '## Close codes',
    '',
    'Every close the server makes, with the reason it carries. Refusals of the token (at connect)',
    "and of the kiosk's `auth` come as an `error` frame, then the close. The keepalive cuts a",
    'socket that answered no ping without a close frame (clients see 1006). The WebSocket library',
    'closes a client that breaks the WebSocket protocol itself with 1002 or 1007, and one that sends',
    'a frame far over the limit with 1009 (see Limits). An upgrade over the rate limit is refused',
    'before any socket exists: HTTP 429 `rate_limited` with `Retry-After`.',
    '',
    '| code | name | reason (what came before) |',
    '|---|---|---|',
  );
  for (const [name, code] of Object.entries(CLOSE_CODES)) {
    const errors = Object.entries(CLOSE_FOR)
      .filter(([, c]) => c === code)
      .map(([error]) => `\`${error}\` (its \`error\` frame)`);
    const others = Object.entries(OTHER_CLOSES)
      .filter(([, c]) => c.code === code)
      .map(([reason, c]) => `\`${reason}\` (${c.frame}): ${c.when}`);
    push(`| ${code} | ${name} | ${[...errors, ...others].join('; ')} |`);
  }
  push(
    '',
    '## Limits',
    '',
    `- Frames: \`RELAY_MAX_FRAME_BYTES\` (${formatBytes(relay.maxFrameBytes)}); a submission frame may carry an image of up to`,
    `  \`RELAY_MAX_IMAGE_BYTES\` (${formatBytes(relay.maxImageBytes)} decoded). Over the limit: \`payload_too_large\`, the socket stays.`,
    `  Far over it (${formatBytes(WS_MAX_PAYLOAD.mobile)} on phone/app sockets, ${formatBytes(WS_MAX_PAYLOAD.device)} on kiosk sockets) the WebSocket library closes with 1009.`,
    `- Rate: \`RELAY_RATE_PER_SECOND\` (${relay.ratePerSecond}) with bursts of \`RELAY_RATE_BURST\` (${relay.rateBurst}) per socket; frames`,
    '  over it are dropped with one `rate_limited` error per second. WebSocket pings count as frames: one over',
    '  the rate gets no pong. Before a socket is accepted (token and session checked) it may send at most',
    `  \`RELAY_RATE_BURST\` frames (WebSocket pings included, answered once it is) of one frame's size in`,
    '  all; more closes it with 1008 (`rate_limited`). It is accepted by the time its first frame from',
    '  the server (`joined`; a kiosk on `/ws/device`: `challenge`) is sent: a frame sent once that is',
    '  read meets the limits above as any later frame does (`payload_too_large`, `rate_limited`: the',
    '  socket stays).',
    `- Held frames: frames a socket sends while an earlier one is still being handled (its join, a`,
    '  store call, the bus) wait their turn, in order: at most `RELAY_MAX_QUEUED_FRAMES`',
    `  (${relay.maxQueuedFrames}) of them, \`RELAY_MAX_QUEUED_BYTES\` (${formatBytes(relay.maxQueuedBytes)}) in all (one frame alone is always held).`,
    '  One more closes the socket with 1008 after its error `rate_limited`; the frames held are dropped.',
    `- Nesting: a frame may nest objects and arrays ${MAX_FRAME_DEPTH} levels deep (the frame is level 1;`,
    `  deeper: \`invalid_message\`), and hold at most ${DEFAULT_JSON_LIMITS.maxKeys} object members in all (more: \`invalid_message\`); on`,
    '  `/ws/hardware` such a frame is dropped (logged, counted) without the error, which the fielded',
    '  hardware takes as fatal. An upstream answer nested deeper than its place in a frame allows is',
    '  the failure `upstream_unusable_answer` (legacy: `backend_response` 502).',
    `- Unread frames: the server holds at most \`RELAY_MAX_SEND_BUFFER_BYTES\` (${formatBytes(relay.maxSendBufferBytes)}) a client has not read;`,
    '  a socket over it when a frame is due is closed with 1008 (`too_slow`), without an error frame, and its',
    `  peer is told it left. A refused socket, and one closed as \`too_slow\`, that does not answer the`,
    `  close frame within ${formatMs(CLOSE_GRACE_MS)} is cut; other sockets get the close after their last frames.`,
    '- Upgrades: every WebSocket upgrade counts toward the per-IP HTTP rate limit (`RATE_LIMIT_PER_IP`);',
    '  over it the upgrade is answered HTTP 429 with the error body (`rate_limited`) and `Retry-After`.',
    '- Paths: a WebSocket upgrade to a path other than the four sockets is answered HTTP 404 with the error',
    '  body (`not_found`) and `Connection: close`; a request target that is not a URL, 400 (`bad_request`).',
    '  An `Upgrade` to another protocol (`h2c`, say) at such a path is ignored (RFC 9110 §7.8): the request is',
    '  served as the HTTP request it also is, as without the header (its body read, the connection kept alive);',
    '  one with more header lines than the server reads (~1000) is answered HTTP 431 (`headers_too_large`) and closed.',
    '- Shutdown: an upgrade that arrives while the server closes its sockets is answered HTTP 503 with the',
    '  error body (`service_unavailable`) and `Connection: close`.',
    '- Handshake: an upgrade to a socket the WebSocket handshake refuses (no or a bad `Sec-WebSocket-Key`,',
    '  a `Sec-WebSocket-Version` other than 13 or 8, an `Upgrade` other than `websocket`, an unparsable',
    '  `Sec-WebSocket-Protocol`) is answered HTTP 400 with the error body (`bad_request`, plus',
    '  `Sec-WebSocket-Version: 13, 8` for a version), a method other than GET 405 (`method_not_allowed`, `Allow: GET`).',
    `- Keepalive: a \`ping\` frame and a WebSocket ping every \`RELAY_PING_INTERVAL_MS\` (${formatMs(relay.pingIntervalMs)}); a socket`,
    '  that answered neither by the next round is closed.',
    `- Kiosk auth: \`RELAY_AUTH_TIMEOUT_MS\` (${formatMs(relay.authTimeoutMs)}) after the challenge.`,
    '- Fields (a frame outside them gets `invalid_message`):',
    ...boundedInboundFields().map((line) => `  - ${line}`),
    '',
    '## Adding a message type',
    '',
    '1. Declare it once in `libs/relay/src/protocol/messages.ts` with `message({type, fields, routes, example})`',
    '   and list it in `MESSAGES`: its frame type, the parser, the inbound list of its sockets, this',
    '   document and the example check all follow from the declaration.',
    '2. Handle it: an inbound message in the handler of its protocol',
    '   (`libs/relay/src/handlers/pairing.handler.ts` or `legacy.handler.ts`, one `onX` method returning',
    '   a `Reply`; its `switch` does not compile until it takes the new type); an outbound one where it is sent.',
    '3. Run `npm run docs:protocol` (rewrites this file). Tests: an inbound type joins the per-socket',
    '   lists pinned in `libs/relay/src/protocol/messages.spec.ts`; add a case to the handler spec',
    '   (`libs/relay/src/handlers/handlers.spec.ts`) or an e2e spec. The docs test checks the example',
    '   against the declaration and that this file is current.',
    '',
  );
  return lines.join('\n');
}

/** The fields of a message, each with what it must be. */
function fieldLines(def: AnyMessageDef): string[] {
  const fields = Object.entries(def.fields);
  if (fields.length === 0) return [];
  return [
    ...fields.map(
      ([name, field]) => `- \`${name}\`${field.optional ? ' (optional)' : ''}: ${field.expected}`,
    ),
    '',
  ];
}

/** Every bound a client's frame must respect, from the inbound declarations. */
function boundedInboundFields(): string[] {
  const out: string[] = [];
  for (const def of MESSAGES as readonly AnyMessageDef[]) {
    if (!def.routes.some((route) => route.direction === 'client → server')) continue;
    for (const [name, field] of Object.entries(def.fields))
      if (field.bounded) out.push(`\`${def.type}.${name}\`: ${field.expected}`);
  }
  return out;
}
