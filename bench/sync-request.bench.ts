/**
 * The request path of `POST /api/v5/sync` around the ledger: reading a 500-packet body and
 * writing its ~650 KiB answer, each against the bare Node/express way in the same run.
 *
 * - Body: the body pipeline's work on the bytes (strict UTF-8 decode, the I-JSON scan of
 *   `parseJsonBody`, JSON.parse) against a bare `JSON.parse(buffer.toString())`.
 * - Answer: the CPU of the route's last step, `sendJson` (the answer encoded member by member
 *   into a pooled buffer) against `res.json` (one string, then one Buffer), on a real express
 *   server on 127.0.0.1 with a real client; the time is the handler's own (encoding, ETag,
 *   handing the bytes to the socket). The two answers are checked to be the same bytes first.
 * SYNC_REQUEST_ROUNDS (default 40) interleaved rounds; medians.
 */
import express from 'express';
import { randomBytes, randomUUID } from 'node:crypto';
import { request, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { DEFAULT_JSON_LIMITS, parseJsonBody, sendJson } from '@app/common';
import { signWith } from '@app/offline-sync/testing/mixed-packet-batch';
import { cpuMsSince, median, printRows } from './support';

const PACKETS = 500;
const PROOF_LENGTH = 14;

function syncBody(): Buffer {
  const secret = randomBytes(32);
  const packets = Array.from({ length: PACKETS }, (_, i) => {
    const payload = {
      packetId: randomUUID(),
      workerId: 'worker-0001',
      siteId: 'site-bench',
      deviceId: 'device-0001',
      type: i % 2 === 0 ? 'check_in' : 'check_out',
      timestamp: new Date(Date.now() + i * 400).toISOString(),
      geo: { lat: 1.00001, lng: 1.00002, accuracyM: 5 },
    };
    return { payload, signature: signWith(secret, payload) };
  });
  return Buffer.from(JSON.stringify({ packets }));
}

/** The shape of a sync answer with receipts: results, counts, one signed checkpoint. */
function syncAnswer(): Record<string, unknown> {
  const hex = () => randomBytes(32).toString('hex');
  return {
    results: Array.from({ length: PACKETS }, (_, i) => ({
      packetId: randomUUID(),
      status: 'accepted',
      seq: 10_000 + i,
      recordHash: hex(),
      receipt: {
        seq: 10_000 + i,
        leafIndex: 9_999 + i,
        leafHash: hex(),
        treeSize: 10_500,
        inclusionProof: Array.from({ length: PROOF_LENGTH }, hex),
      },
    })),
    accepted: PACKETS,
    duplicates: 0,
    rejected: 0,
    checkpoints: [
      {
        siteId: 'site-bench',
        origin: 'mdai.example/ledger/site-bench',
        treeSize: 10_500,
        rootHash: hex(),
        note: `mdai.example/ledger/site-bench\n10500\n${randomBytes(32).toString('base64')}\n\n— mdai.example/ledger/site-bench ${randomBytes(40).toString('base64')}\n`,
      },
    ],
  };
}

function cpuMs(f: () => void): number {
  const since = process.cpuUsage();
  f();
  return cpuMsSince(since);
}

export async function run(): Promise<void> {
  const rounds = Number(process.env.SYNC_REQUEST_ROUNDS ?? 40);
  const body = syncBody();
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  const answers = Array.from({ length: 8 }, syncAnswer);
  const handlerCpu = { ours: [] as number[], baseline: [] as number[] };
  const app = express();
  app.disable('x-powered-by');
  let next = 0;
  app.get('/ours', (_req, res) => {
    const answer = answers[next++ % answers.length];
    handlerCpu.ours.push(cpuMs(() => sendJson(res, 200, answer)));
  });
  app.get('/baseline', (_req, res) => {
    const answer = answers[next++ % answers.length];
    handlerCpu.baseline.push(cpuMs(() => res.status(200).json(answer)));
  });
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  const get = (path: string) =>
    new Promise<Buffer>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  try {
    next = 0;
    const ours = await get('/ours');
    next = 0;
    const baseline = await get('/baseline');
    if (!ours.equals(baseline)) throw new Error('sendJson and res.json answered different bytes');
    handlerCpu.ours.length = 0;
    handlerCpu.baseline.length = 0;
    const parseCpu = { ours: [] as number[], baseline: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? (['ours', 'baseline'] as const) : (['baseline', 'ours'] as const);
      for (const side of order) {
        if (side === 'ours') {
          parseCpu.ours.push(cpuMs(() => parseJsonBody(decoder.decode(body), DEFAULT_JSON_LIMITS)));
        } else {
          parseCpu.baseline.push(cpuMs(() => JSON.parse(body.toString('utf8'))));
        }
        await get(`/${side}`);
      }
    }
    printRows('Sync request path (body in, answer out)', [
      {
        metric: `CPU ms to read a ${PACKETS}-packet body (${(body.length / 1024).toFixed(0)} KiB): decode + I-JSON scan + parse vs bare JSON.parse`,
        ours: median(parseCpu.ours),
        baseline: median(parseCpu.baseline),
        unit: 'ms',
      },
      {
        metric: `CPU ms in the handler to write a ${PACKETS}-packet answer (${(ours.length / 1024).toFixed(0)} KiB): sendJson vs res.json`,
        ours: median(handlerCpu.ours),
        baseline: median(handlerCpu.baseline),
        unit: 'ms',
      },
    ]);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}
