import { describeReplicas, http, slowOnMongo, startTestApp, TestApp } from './support/test-app';
import { enrollPhone, Phone } from './support/worker-client';
import { fill, verifyLedger } from './support/ledger-client';
import { jpegBytes } from './support/image-bytes';

/** Small batches: many appends and seals while the verifier walks. */
const BATCHES = 40;
const PER_BATCH = 3;
const UPLOADS = 30;

// each case syncs or stores while it verifies: slower on the MongoDB test server, which the
// other spec files of that run share
jest.setTimeout(slowOnMongo(120_000));

interface Verdicts {
  count: number;
  /** each answer that was not ok, with its reason and where */
  failures: string[];
}

/** Verifies again and again until `busy` settles, then once more on the quiet log. */
async function verifyWhile(busy: Promise<unknown>, verify: () => Promise<any>): Promise<Verdicts> {
  let done = false;
  const settled = busy.finally(() => {
    done = true;
  });
  const verdicts: Verdicts = { count: 0, failures: [] };
  const record = (body: any) => {
    verdicts.count++;
    if (!body.ok) verdicts.failures.push(`${body.reason} at ${body.brokenAtSeq} of ${body.length}`);
  };
  while (!done) record(await verify());
  await settled;
  record(await verify());
  return verdicts;
}

const verifyAudit = async (t: TestApp) => {
  const res = await http(t.baseUrl, 'GET', '/api/v5/vault/audit/verify', { key: t.keys.auditor });
  expect(res.status).toBe(200);
  return res.body;
};

const upload = (t: TestApp) =>
  http(t.baseUrl, 'POST', '/api/v5/vault', {
    key: t.keys.admin,
    rawBody: jpegBytes(2048),
    headers: { 'content-type': 'image/jpeg' },
  });

async function uploads(t: TestApp, count: number): Promise<void> {
  for (let i = 0; i < count; i++) expect((await upload(t)).status).toBe(201);
}

/**
 * An auditor verifies a log while the site keeps syncing. Each sync appends entries, then
 * seals them (tree nodes, a witness line, then the checkpoint row), so a verify that walks
 * the log meets entries whose seal is still running, and witness lines whose rows are being
 * written. None of that is tampering: every answer must be ok. (Before the fix, one verify
 * in three on MongoDB and a few on SQLite answered `checkpoint_missing`.)
 */
describe('verify while the log grows (e2e)', () => {
  let t: TestApp;
  let phone: Phone;
  beforeAll(async () => {
    t = await startTestApp();
    phone = await enrollPhone(t.baseUrl, t.keys.admin);
  });
  afterAll(() => t?.close());

  it('should answer ok for a site ledger verified while its phone syncs', async () => {
    const verdicts = await verifyWhile(fill(t, phone, BATCHES, PER_BATCH), () =>
      verifyLedger(t, phone.siteId),
    );
    expect(verdicts.failures).toEqual([]);
    expect(verdicts.count).toBeGreaterThan(1);
    expect(await verifyLedger(t, phone.siteId)).toMatchObject({
      ok: true,
      length: BATCHES * PER_BATCH,
    });
  });

  it('should answer ok for the vault audit log verified while images are stored', async () => {
    const verdicts = await verifyWhile(uploads(t, UPLOADS), () => verifyAudit(t));
    expect(verdicts.failures).toEqual([]);
    expect(await verifyAudit(t)).toMatchObject({ ok: true });
  });
});

/** The same on two replicas sharing MongoDB and the witness file: one syncs, the other verifies. */
describeReplicas('verify on one replica while the other appends (e2e)', (replicas) => {
  it('should answer ok for a site ledger synced through the other replica', async () => {
    const { a, b } = replicas();
    const phone = await enrollPhone(a.baseUrl, a.keys.admin);
    const verdicts = await verifyWhile(fill(a, phone, BATCHES, PER_BATCH), () =>
      verifyLedger(b, phone.siteId),
    );
    expect(verdicts.failures).toEqual([]);
    expect(await verifyLedger(b, phone.siteId)).toMatchObject({
      ok: true,
      length: BATCHES * PER_BATCH,
    });
  });

  it('should answer ok for the vault audit log written through both replicas', async () => {
    const { a, b } = replicas();
    const verdicts = await verifyWhile(
      Promise.all([uploads(a, UPLOADS), uploads(b, UPLOADS)]),
      () => verifyAudit(b),
    );
    expect(verdicts.failures).toEqual([]);
  });
});
