import {
  CLOSE_CODES,
  MESSAGE_CATALOG,
  RELAY_ERROR_CODES,
  RELAY_PATHS,
  RelayRole,
} from './messages';

/** docs/protocol.md, rendered from the message catalog (`npm run docs:protocol` writes it). */
export function renderProtocolDoc(): string {
  const lines: string[] = [];
  const push = (...more: string[]) => lines.push(...more);
  push(
    '# WebSocket protocol',
    '',
    '<!-- Generated from libs/relay/src/protocol/messages.ts by `npm run docs:protocol`. Do not edit by hand. -->',
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
    '`wrong_token_type`. One socket per role per session, across all API instances.',
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
    "   kept → `result` to both (the kiosk's copy without `platform_id`) → `session_closed`, close 1000.",
    '6. At the deadline both sockets get `session_expired` and close with 4408.',
    '',
    '## Legacy protocol (fielded hardware, unchanged)',
    '',
    '`POST /auth {"api_key"}` → `{"token","expires_in":180}`; hardware on `/ws/hardware`, app on',
    "`/ws/app`, same token (paired by its `jti`). The app's `to_hardware` with `data.platform_id` is",
    'kept by the server; the hardware receives a per-session alias (`PLT_ALIAS_…`) in its place, and',
    'its `to_backend` with that alias is sent upstream with the real id. `backend_response` goes to',
    "both; the hardware's copy carries the alias.",
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
      '```json',
      JSON.stringify(spec.example),
      '```',
      '',
    );
  }
  push('## Error codes', '', '| code | meaning |', '|---|---|');
  for (const [code, meaning] of Object.entries(RELAY_ERROR_CODES))
    push(`| \`${code}\` | ${meaning} |`);
  push('', '## Close codes', '', '| code | name |', '|---|---|');
  for (const [name, code] of Object.entries(CLOSE_CODES)) push(`| ${code} | ${name} |`);
  push(
    '',
    '## Limits',
    '',
    '- Frames: `RELAY_MAX_FRAME_BYTES` (64 KiB); a submission frame may carry an image of up to',
    '  `RELAY_MAX_IMAGE_BYTES` (5 MiB decoded). Over the limit: `payload_too_large`, the socket stays.',
    '  Far over it (1 MiB on phone/app sockets, 24 MiB on kiosk sockets) the WebSocket library closes with 1009.',
    '- Rate: `RELAY_RATE_PER_SECOND` (20) with bursts of `RELAY_RATE_BURST` (40) per socket; frames',
    '  over it are dropped with one `rate_limited` error per second.',
    '- Keepalive: a `ping` frame and a WebSocket ping every `RELAY_PING_INTERVAL_MS` (20 s); a socket',
    '  that answered neither by the next round is closed.',
    '- Kiosk auth: `RELAY_AUTH_TIMEOUT_MS` (15 s) after the challenge.',
    '',
  );
  return lines.join('\n');
}
