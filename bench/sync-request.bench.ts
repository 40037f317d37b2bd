/**
 * The request path of `POST /api/v5/sync` around the ledger: reading a 500-packet body and
 * writing its ~650 KiB answer, each against the bare Node/express way in the same run.
 *
 * - Body: the body pipeline's parse step on the bytes (the strict UTF-8 check, the I-JSON scan
 *   and JSON.parse of `parseJsonBody`), for a 500-packet body of ASCII and one whose members
 *   have non-ASCII names, against a bare `JSON.parse(buffer.toString())`, and against the parse
 *   step of `BENCH_BEFORE_DIR=<older checkout>` (e.g. `git archive main` with a `node_modules`
 *   link) in the same interleaved rounds; CPU and minor page faults per parse.
 * - Answer: the CPU of the route's last step, `sendJson` (the answer encoded member by member
 *   into a pooled buffer) against `res.json` (one string, then one Buffer), on a real express
 *   server on 127.0.0.1 with a real client; the time is the handler's own (encoding, ETag,
 *   handing the bytes to the socket). The two answers are checked to be the same JSON first.
 * SYNC_REQUEST_ROUNDS (default 40) interleaved rounds; medians.
 */
import express from 'express';
import { randomBytes, randomUUID } from 'node:crypto';
import { request, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { NextFunction, Request, Response } from 'express';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { bodyPipeline, DEFAULT_JSON_LIMITS, sendJson } from '@app/common';
import { signWith } from '@app/offline-sync/testing/mixed-packet-batch';
import { cpuMsSince, median, printRows } from './support';

const PACKETS = 500;
const PROOF_LENGTH = 14;

/** A 500-packet sync body; `names`: each packet also has members with non-ASCII names. */
function syncBody(names = false): Buffer {
  const secret = randomBytes(32);
  const packets = Array.from({ length: PACKETS }, (_, i) => {
    const payload: Record<string, unknown> = {
      packetId: randomUUID(),
      workerId: 'worker-0001',
      siteId: 'site-bench',
      deviceId: 'device-0001',
      type: i % 2 === 0 ? 'check_in' : 'check_out',
      timestamp: new Date(Date.now() + i * 400).toISOString(),
      geo: { lat: 1.00001, lng: 1.00002, accuracyM: 5 },
    };
    if (names) Object.assign(payload, { nom_é: 'Zoë', 中文: '工人', 'ok😀': i });
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

type Parse = (bytes: Buffer) => unknown;

/** The body pipeline's parse step (of the checkout at `root`) as a function of the bytes. */
async function pipelineParse(root?: string): Promise<Parse> {
  const pipeline = root
    ? (
        (await import(join(root, 'libs/common/src/http/body-pipeline'))) as {
          bodyPipeline: typeof bodyPipeline;
        }
      ).bodyPipeline
    : bodyPipeline;
  const parse = pipeline({ ...DEFAULT_JSON_LIMITS, limitBytes: 2 << 20 })[2] as (
    req: Request,
    res: Response,
    next: NextFunction,
  ) => void;
  return (bytes) => {
    const req = { body: bytes } as Request;
    let failed: unknown;
    parse(req, {} as Response, (error?: unknown) => (failed = error));
    if (failed !== undefined) throw failed as Error;
    return req.body as unknown;
  };
}

/** CPU ms and minor page faults of one call. */
function measured(f: () => void): [number, number] {
  const faults = process.resourceUsage().minorPageFault;
  const ms = cpuMs(f);
  return [ms, process.resourceUsage().minorPageFault - faults];
}

export async function run(): Promise<void> {
  const rounds = Number(process.env.SYNC_REQUEST_ROUNDS ?? 40);
  const bodies = { ascii: syncBody(), names: syncBody(true) };
  const parsers: Record<string, Parse> = {
    ours: await pipelineParse(),
    baseline: (bytes) => JSON.parse(bytes.toString('utf8')) as unknown,
  };
  const beforeDir = process.env.BENCH_BEFORE_DIR;
  if (beforeDir) parsers.before = await pipelineParse(beforeDir);
  for (const [kind, body] of Object.entries(bodies)) {
    const expected = JSON.stringify(JSON.parse(body.toString('utf8')));
    for (const [side, parse] of Object.entries(parsers))
      if (JSON.stringify(parse(body)) !== expected)
        throw new Error(`${side} parsed the ${kind} body otherwise than JSON.parse`);
  }
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
    // the same JSON (sendJson writes non-ASCII characters escaped, as the note's em dash)
    if (!isDeepStrictEqual(JSON.parse(ours.toString()), JSON.parse(baseline.toString())))
      throw new Error('sendJson and res.json answered different JSON');
    handlerCpu.ours.length = 0;
    handlerCpu.baseline.length = 0;
    // per body, per side: CPU ms and minor faults of each parse
    const parseRuns = new Map<string, [number, number][]>();
    const sides = Object.keys(parsers);
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? (['ours', 'baseline'] as const) : (['baseline', 'ours'] as const);
      for (const side of order) {
        const parseOrder = r % 2 === 0 ? sides : [...sides].reverse();
        for (const [kind, body] of Object.entries(bodies)) {
          for (const parser of parseOrder) {
            const key = `${kind}/${parser}`;
            if (!parseRuns.has(key)) parseRuns.set(key, []);
            parseRuns.get(key)!.push(measured(() => parsers[parser](body)));
          }
        }
        await get(`/${side}`);
      }
    }
    const of = (kind: string, side: string, k: 0 | 1) =>
      parseRuns.has(`${kind}/${side}`)
        ? median(parseRuns.get(`${kind}/${side}`)!.map((run) => run[k]))
        : undefined;
    const bodyRows = Object.entries(bodies).flatMap(([kind, body]) => {
      const what = `a ${PACKETS}-packet body (${(body.length / 1024).toFixed(0)} KiB, ${kind === 'ascii' ? 'ASCII' : 'non-ASCII member names'})`;
      return [
        {
          metric: `CPU ms to read ${what}: the body pipeline's parse step vs bare JSON.parse`,
          ours: of(kind, 'ours', 0)!,
          baseline: of(kind, 'baseline', 0),
          unit: 'ms',
        },
        ...(beforeDir
          ? [
              {
                metric: `  the same, vs BENCH_BEFORE_DIR's parse step (CPU ms; minor faults ours ${of(kind, 'ours', 1)} / before ${of(kind, 'before', 1)} / bare ${of(kind, 'baseline', 1)})`,
                ours: of(kind, 'ours', 0)!,
                baseline: of(kind, 'before', 0),
                unit: 'ms',
              },
            ]
          : []),
      ];
    });
    printRows('Sync request path (body in, answer out)', [
      ...bodyRows,
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
