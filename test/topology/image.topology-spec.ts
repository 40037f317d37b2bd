import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jpegBytes } from '../support/image-bytes';
import { MongoTestServer, startMongoTestServer } from '../support/mongo-test-server';
import { http } from '../support/test-app';
import { dockerfileCommand, Env, initEnv, read, ROOT } from './support/compose';
import { freePort, Service, waitForHttp, waitUntil } from './support/processes';

/**
 * Issue 11 item 3: the image runs as an unprivileged user (`USER node`) with its data volume
 * at /data. No Docker here: the built app (the Dockerfile's CMD) runs under setpriv as that
 * user (or `nobody` where the image's user does not exist), on a fresh data directory prepared
 * the way the Dockerfile prepares /data. Switching users needs root (CI runs as root).
 */
const ROOT_USER = process.getuid?.() === 0;
if (!ROOT_USER) {
  process.stdout.write(
    'image tier skipped: starting the app as an unprivileged user needs root (setpriv); run as root (CI does)\n',
  );
}

/** The runtime stage of the Dockerfile: its USER and what it does to /data before it. */
function runtimeStage() {
  const stages = read('Dockerfile').split(/^FROM /m);
  const stage = stages[stages.length - 1];
  const user = /^USER\s+(\S+)\s*$/m.exec(stage)?.[1];
  const dataDir = /^ENV\s+DATA_DIR=(\S+)\s*$/m.exec(stage)?.[1];
  return { stage, user, dataDir };
}

function uidOf(user: string): { uid: number; gid: number; name: string } {
  try {
    const [name, , uid, gid] = execFileSync('getent', ['passwd', user], { encoding: 'utf8' })
      .trim()
      .split(':');
    return { uid: Number(uid), gid: Number(gid), name };
  } catch {
    return { uid: 65534, gid: 65534, name: 'nobody' };
  }
}

/**
 * The runtime stage's /app: node_modules, dist and package.json, copied where the runtime user
 * can read them (the checkout may sit under a directory only root may enter, as /root does).
 * node_modules is hard-linked where the filesystem allows it, copied otherwise.
 */
function stageApp(parent: string): string {
  const app = join(parent, 'app');
  mkdirSync(app, { mode: 0o755 });
  chmodSync(app, 0o755);
  try {
    execFileSync('cp', ['-al', join(ROOT, 'node_modules'), app]);
  } catch {
    rmSync(join(app, 'node_modules'), { recursive: true, force: true });
    execFileSync('cp', ['-a', join(ROOT, 'node_modules'), app]);
  }
  execFileSync('cp', ['-a', join(ROOT, 'dist'), join(ROOT, 'package.json'), app]);
  execFileSync('chmod', ['-R', 'a+rX', join(app, 'dist'), join(app, 'package.json')]);
  return app;
}

(ROOT_USER ? describe : describe.skip)('the image: the app as an unprivileged user', () => {
  const { stage, user, dataDir } = runtimeStage();
  const runtime = uidOf(user ?? 'node');
  let dir: string;
  let app: string;
  let mongo: MongoTestServer;
  const services: Service[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-image-'));
    chmodSync(dir, 0o711);
    app = stageApp(dir);
    mongo = await startMongoTestServer();
  });
  afterAll(async () => {
    for (const service of services) await service.stop();
    await mongo?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startAsRuntimeUser(
    env: Env,
  ): Promise<{ service: Service; baseUrl: string; keys: { admin: string; auditor: string } }> {
    const port = await freePort();
    const secrets = initEnv(mkdtempSync(join(dir, 'env-')));
    const [command, ...args] = dockerfileCommand();
    const service = Service.start(
      `api as ${runtime.name}`,
      'setpriv',
      [
        `--reuid=${runtime.uid}`,
        `--regid=${runtime.gid}`,
        '--clear-groups',
        '--',
        command,
        ...args,
      ],
      {
        cwd: app,
        env: {
          PATH: process.env.PATH,
          ...secrets,
          NODE_ENV: 'production',
          PORT: String(port),
          PUBLIC_URL: `http://127.0.0.1:${port}`,
          ...env,
        },
      },
    );
    services.push(service);
    const keys = { admin: secrets.ADMIN_API_KEYS, auditor: secrets.AUDITOR_API_KEYS };
    return { service, baseUrl: `http://127.0.0.1:${port}`, keys };
  }

  it('should create the data directory in the runtime stage, owned by the runtime user', () => {
    expect(user).toBe('node');
    expect(dataDir).toBe('/data');
    const prepare = /^RUN .*mkdir -p \/data.*&& chown (-R )?node:node \/data\s*$/m.exec(stage);
    expect(prepare).not.toBeNull();
    // prepared before the switch to the unprivileged user (after it, chown would be refused)
    expect(stage.indexOf(prepare![0])).toBeLessThan(stage.indexOf('USER node'));
  });

  it('should boot as that user on a fresh data directory (SQLite there) and store and read vault files', async () => {
    const data = join(dir, 'data-fresh');
    mkdirSync(data);
    chownSync(data, runtime.uid, runtime.gid); // what `chown node:node /data` does in the image
    const { service, baseUrl, keys } = await startAsRuntimeUser({ DATA_DIR: data });
    await waitForHttp(service, `${baseUrl}/health`);
    const health = await http(baseUrl, 'GET', '/health', { key: keys.admin });
    expect(health.body.info).toMatchObject({
      store: { status: 'up', driver: 'sqlite' },
      disk: { status: 'up' },
    });
    const image = jpegBytes(256 * 1024);
    const stored = await http(baseUrl, 'POST', '/api/v5/vault', {
      key: keys.admin,
      rawBody: image,
      headers: { 'content-type': 'image/jpeg' },
    });
    expect(stored.status).toBe(201);
    const back = await fetch(`${baseUrl}/api/v5/vault/${stored.body.fileId}`, {
      headers: { 'x-api-key': keys.auditor, 'x-access-purpose': 'image check' },
    });
    expect(back.status).toBe(200);
    expect(Buffer.from(await back.arrayBuffer()).equals(image)).toBe(true);
  });

  it('should say so in /health and refuse uploads with 503 when the volume is root-owned (the old image), on MongoDB', async () => {
    const data = join(dir, 'data-root-owned');
    mkdirSync(data, { mode: 0o755 }); // a volume mounted where the image made no /data
    const { service, baseUrl, keys } = await startAsRuntimeUser({
      DATA_DIR: data,
      DATABASE_URL: `${mongo.uri}mdai-image`,
    });
    await waitUntil(service, 'the API answering /health', async () => {
      const res = await fetch(`${baseUrl}/health`);
      return res.status === 200 || res.status === 503;
    });
    const health = await http(baseUrl, 'GET', '/health', { key: keys.admin });
    expect(health.status).toBe(503);
    expect(health.body.error).toEqual({
      disk: { status: 'down', message: 'the uploads directory is not writable (EACCES)' },
    });
    const refused = await http(baseUrl, 'POST', '/api/v5/vault', {
      key: keys.admin,
      rawBody: jpegBytes(1024, 1),
      headers: { 'content-type': 'image/jpeg' },
    });
    // the upload's blob or the audit's witness file (both on the unwritable volume) fails first
    expect(refused.status).toBe(503);
    expect(['storage_unavailable', 'audit_unavailable']).toContain(refused.body.code);
  });
});
