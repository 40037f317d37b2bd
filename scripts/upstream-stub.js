// A stand-in for the upstream identity API (POST /api/admin/hardware/next), for local runs,
// docker compose and `npm run demo`. Plain Node (no build step) so compose can run it as is.
// It checks x-api-key and answers `success` for a PLT_ platform_id with a non-empty image.
//
//   UPSTREAM_STUB_PORT=4010 UPSTREAM_API_KEY=dev-upstream-key node scripts/upstream-stub.js
'use strict';
const { createServer } = require('node:http');

const MAX_BODY = 16 * 1024 * 1024;

/**
 * @param {{ port: number, apiKey: string | undefined, host?: string }} options apiKey undefined: a
 *   request must carry no x-api-key (a server started with UPSTREAM_URL but no UPSTREAM_API_KEY
 *   sends none)
 * @returns {Promise<import('node:http').Server>} rejected when it cannot listen (port taken)
 */
function startUpstreamStub(options) {
  const server = createServer((req, res) => {
    handle(req, res, options.apiKey).catch(() => {
      res.writeHead(500);
      res.end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

async function handle(req, res, apiKey) {
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method === 'GET' && req.url === '/health') return send(200, { status: 'ok' });
  if (req.method !== 'POST' || req.url !== '/api/admin/hardware/next')
    return send(404, { error: 'not found' });
  if (req.headers['x-api-key'] !== apiKey)
    return send(401, { status: 'error', message: 'bad api key' });
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) return send(413, { status: 'error', message: 'too large' });
    chunks.push(chunk);
  }
  let body;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return send(400, { status: 'error', message: 'invalid json' });
  }
  const ok =
    typeof body?.platform_id === 'string' &&
    body.platform_id.startsWith('PLT_') &&
    typeof body.image_base64 === 'string' &&
    body.image_base64.length > 0;
  if (!ok) return send(422, { status: 'failure', message: 'platform_id or image missing' });
  return send(200, {
    status: 'success',
    message: 'face verified',
    image_bytes: Buffer.from(body.image_base64, 'base64').length,
  });
}

module.exports = { startUpstreamStub };

if (require.main === module) {
  const port = Number(process.env.UPSTREAM_STUB_PORT ?? 4010);
  const apiKey = process.env.UPSTREAM_API_KEY ?? 'dev-upstream-key';
  startUpstreamStub({ port, apiKey, host: process.env.UPSTREAM_STUB_HOST ?? '0.0.0.0' }).then(() =>
    process.stdout.write(`upstream stub listening on ${port}\n`),
  );
}
