import { describeReplicas, http, startTestApp, TestApp } from './support/test-app';
import {
  checkpointSignedBy,
  inclusionHolds,
  leafOf,
  readCheckpointNote,
} from './support/tlog-check';
import { jpegBytes } from './support/image-bytes';

/** Requests sent at once: reads, and refusals without a key or with another role's. */
const AT_ONCE = 50;

interface Answer {
  kind: 'read' | 'no key' | 'wrong role';
  status: number;
  receipt?: any;
}

async function upload(t: TestApp): Promise<string> {
  const res = await http(t.baseUrl, 'POST', '/api/v5/vault', {
    key: t.keys.admin,
    rawBody: jpegBytes(2000),
    headers: { 'content-type': 'image/jpeg' },
  });
  expect(res.status).toBe(201);
  return res.body.fileId;
}

/**
 * One request of the mix; every answer but a 401 should carry its audit receipt (a caller
 * without a valid key gets none: the receipt's checkpoint is the deployment's to know).
 */
async function ask(t: TestApp, fileId: string, i: number): Promise<Answer> {
  const kind: Answer['kind'] = i % 3 === 0 ? 'read' : i % 3 === 1 ? 'no key' : 'wrong role';
  const headers: Record<string, string> = { 'x-access-purpose': 'case review' };
  if (kind === 'read') headers['x-api-key'] = t.keys.auditor;
  if (kind === 'wrong role') headers['x-api-key'] = t.keys.provisioner;
  const res = await fetch(`${t.baseUrl}/api/v5/vault/${fileId}`, { headers });
  await res.arrayBuffer();
  const header = res.headers.get('x-audit-receipt');
  return {
    kind,
    status: res.status,
    receipt: header ? JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) : undefined,
  };
}

async function activeKey(t: TestApp): Promise<string> {
  const keys = await http(t.baseUrl, 'GET', '/api/v5/tlog/keys?origin=mdai.local/vault-audit');
  return keys.body.keys.find((k: any) => k.status === 'active').publicKey;
}

/** The receipt's proof holds against the signed checkpoint it names (checked from the specs). */
function proven(receipt: any, publicKey: string): boolean {
  const cp = readCheckpointNote(receipt.checkpoint);
  return (
    checkpointSignedBy(receipt.checkpoint, publicKey) &&
    cp.origin === 'mdai.local/vault-audit' &&
    cp.size === receipt.treeSize &&
    inclusionHolds(
      receipt.leafIndex,
      cp.size,
      leafOf(receipt.recordHash),
      receipt.inclusionProof,
      cp.root,
    )
  );
}

async function verify(t: TestApp) {
  const res = await http(t.baseUrl, 'GET', '/api/v5/vault/audit/verify', { key: t.keys.auditor });
  expect(res.status).toBe(200);
  return res.body;
}

function expectAllProven(answers: Answer[], publicKey: string): void {
  const status = { read: 200, 'no key': 401, 'wrong role': 403 };
  expect(answers.map((a) => [a.kind, a.status])).toEqual(
    answers.map((a) => [a.kind, status[a.kind]]),
  );
  const anonymous = answers.filter((a) => a.kind === 'no key');
  expect(anonymous.filter((a) => a.receipt)).toEqual([]);
  const receipted = answers.filter((a) => a.kind !== 'no key');
  expect(receipted.filter((a) => !a.receipt).map((a) => a.kind)).toEqual([]);
  expect(receipted.filter((a) => !proven(a.receipt, publicKey)).map((a) => a.receipt)).toEqual([]);
  // one record each
  expect(new Set(receipted.map((a) => a.receipt.seq)).size).toBe(receipted.length);
}

describe('vault audit seals in groups (e2e)', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp();
  });
  afterEach(async () => t.close());

  it('should answer concurrent reads and refusals each with a receipt proven in a signed checkpoint, with far fewer checkpoints than records', async () => {
    const fileId = await upload(t);
    const answers = await Promise.all(Array.from({ length: AT_ONCE }, (_, i) => ask(t, fileId, i)));
    expectAllProven(answers, await activeKey(t));
    // the refusals are audited as such
    const denied = await http(t.baseUrl, 'GET', `/api/v5/vault/audit?result=denied&limit=100`, {
      key: t.keys.auditor,
    });
    expect(denied.body.filter((r: any) => r.actor === 'anonymous')).toHaveLength(
      answers.filter((a) => a.kind === 'no key').length,
    );
    expect(denied.body.filter((r: any) => r.actor.startsWith('provisioner:'))).toHaveLength(
      answers.filter((a) => a.kind === 'wrong role').length,
    );
    const result = await verify(t);
    expect(result).toMatchObject({ ok: true, length: AT_ONCE + 1 });
    // one checkpoint per record before group commit; a seal now covers those that came meanwhile
    expect(result.checkpointsChecked).toBeLessThan((AT_ONCE + 1) / 2);
  });

  it("should hand a known key's lone refusal its receipt under a checkpoint of its own record, and a keyless caller none (audited all the same)", async () => {
    const answer = await ask(t, 'f-unknown', 2);
    expect(answer.status).toBe(403);
    expect(answer.receipt).toMatchObject({ seq: 1, treeSize: 1 });
    expect(proven(answer.receipt, await activeKey(t))).toBe(true);
    const anonymous = await ask(t, 'f-unknown', 1);
    expect(anonymous.status).toBe(401);
    expect(anonymous.receipt).toBeUndefined();
    expect(await verify(t)).toMatchObject({ ok: true, length: 2 });
  });
});

/**
 * Two API processes on one store (MongoDB), both sealing the one audit log in groups at once:
 * every answer proven, the log verifies on both, and no replica raises an alarm.
 */
describeReplicas('vault audit group seals on two replicas (e2e)', (replicas) => {
  it('should prove every answer of both replicas and keep the log verifiable', async () => {
    const { a, b } = replicas();
    const fileId = await upload(a);
    const answers = await Promise.all(
      Array.from({ length: AT_ONCE }, (_, i) => ask(i % 2 === 0 ? a : b, fileId, i)),
    );
    expectAllProven(answers, await activeKey(a));
    for (const t of [a, b]) {
      const result = await verify(t);
      expect(result).toMatchObject({ ok: true, length: AT_ONCE + 1 });
      expect(result.checkpointsChecked).toBeLessThan(AT_ONCE + 1);
      expect(t.logs()).not.toContain('ALARM');
    }
  });
});
