import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoTestServer, startMongoTestServer } from '../../support/mongo-test-server';
import {
  composeDocument,
  composeEnvironment,
  composeReplicas,
  dockerfileCommand,
  Env,
  initEnv,
  interpolate,
  ROOT,
} from './compose';
import { RunningNginx, startNginx } from './nginx';
import { freePort, Service, waitForHttp, waitUntil } from './processes';

/**
 * nginx's fixed address on the compose network (the replicas' TRUST_PROXY names it), and the
 * loopback address that stands in for it here: nginx connects to the replicas from it
 * (`proxy_bind`), and no test client uses it, as no client outside shares nginx's address.
 */
export const COMPOSE_PROXY_ADDRESS = proxyAddress();
export const LOCAL_PROXY_ADDRESS = '127.0.0.10';

/** Compose's service names and what they listen on inside the compose network, and nginx's address. */
const COMPOSE_ADDRESSES = [
  'mongo:27017',
  'redis:6379',
  'upstream:4010',
  'localhost:8080',
  COMPOSE_PROXY_ADDRESS,
];

export interface Replica {
  name: string;
  service: Service;
  baseUrl: string;
  wsUrl: string;
}

/**
 * docker-compose.yml, run from a clean clone on free local ports: the MongoDB test server
 * for `mongo`, a private redis-server for `redis`, scripts/upstream-stub.js for `upstream`
 * (its compose command and environment), two API processes for `api` (the Dockerfile's CMD,
 * .env from .env.example with the secrets filled as the README says, then compose's
 * `environment:`), and nginx running deploy/nginx.conf for `proxy`. Only addresses change.
 */
export class Topology {
  readonly dotenv: Env;
  readonly replicaEnv: Env[] = [];
  readonly replicas: Replica[] = [];
  readonly services: Service[] = [];
  proxyUrl = '';
  upstreamPort = 0;
  nginx!: RunningNginx;
  private mongo?: MongoTestServer;
  private readonly dir = mkdtempSync(join(tmpdir(), 'mdai-topology-'));
  /** compose's named volume `api-data`, mounted at /data in both replicas. */
  readonly dataDir = join(this.dir, 'api-data');

  /**
   * A topology started for a spec: when the start fails, everything started is stopped again
   * and the error carries the services' last log lines.
   */
  static async started(): Promise<Topology> {
    const stack = new Topology();
    try {
      return await stack.start();
    } catch (error) {
      const logs = stack.logs();
      await stack.stop();
      throw new Error(`${(error as Error).message}\n${logs}`);
    }
  }

  constructor() {
    this.dotenv = initEnv(this.dir);
    // a key of our own rather than the example's, so both sides visibly read it from .env
    this.dotenv.UPSTREAM_API_KEY = `topology-${Date.now()}`;
  }

  get keys(): Record<'admin' | 'provisioner' | 'auditor' | 'mobile' | 'hardware', string> {
    const first = (name: string) => this.dotenv[name].split(',')[0];
    return {
      admin: first('ADMIN_API_KEYS'),
      provisioner: first('PROVISIONER_API_KEYS'),
      auditor: first('AUDITOR_API_KEYS'),
      mobile: first('MOBILE_API_KEYS'),
      hardware: first('HARDWARE_API_KEYS'),
    };
  }

  async start(): Promise<this> {
    const replicas = composeReplicas('api');
    const [redisPort, upstreamPort, proxyPort, ...apiPorts] = await Promise.all(
      Array.from({ length: 3 + replicas }, () => freePort()),
    );
    this.upstreamPort = upstreamPort;
    this.proxyUrl = `http://127.0.0.1:${proxyPort}`;
    this.mongo = await startMongoTestServer();
    const local = {
      'mongo:27017': new URL(this.mongo.uri).host,
      'redis:6379': `127.0.0.1:${redisPort}`,
      'upstream:4010': `127.0.0.1:${upstreamPort}`,
      'localhost:8080': `127.0.0.1:${proxyPort}`,
      [COMPOSE_PROXY_ADDRESS]: LOCAL_PROXY_ADDRESS,
    };
    const substitute = (value: string) => {
      let out = value;
      for (const [from, to] of Object.entries(local)) out = out.split(from).join(to);
      return out;
    };

    const redis = this.track(
      Service.start(
        'redis',
        'redis-server',
        ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        {},
      ),
    );
    await waitUntil(redis, 'redis ready', async () => /Ready to accept/.test(redis.logs()));

    const stubEnv = this.composeServiceEnv('upstream', substitute);
    const stub = this.track(
      Service.start('upstream', 'node', ['scripts/upstream-stub.js'], {
        cwd: ROOT,
        // compose publishes no port for it; here it listens on loopback only
        env: {
          ...process.env,
          ...stubEnv,
          UPSTREAM_STUB_PORT: String(upstreamPort),
          UPSTREAM_STUB_HOST: '127.0.0.1',
        },
      }),
    );
    await waitForHttp(stub, `http://127.0.0.1:${upstreamPort}/health`);

    const [command, ...args] = dockerfileCommand();
    for (const [index, port] of apiPorts.entries()) {
      const env: Env = {};
      for (const [name, value] of Object.entries(this.dotenv)) env[name] = substitute(value);
      Object.assign(env, this.composeServiceEnv('api', substitute));
      env.PORT = String(port);
      env.DATA_DIR = this.dataDir;
      // compose's volume `api-witness`, mounted at /witness in both replicas
      env.TLOG_WITNESS_FILE = join(this.dir, 'api-witness', 'tlog-witness.ndjson');
      this.assertOnlyLocalAddresses(env);
      this.replicaEnv.push(env);
      const name = `api-${index + 1}`;
      const service = this.track(
        Service.start(name, command, args, { cwd: ROOT, env: { PATH: process.env.PATH, ...env } }),
      );
      this.replicas.push({
        name,
        service,
        baseUrl: `http://127.0.0.1:${port}`,
        wsUrl: `ws://127.0.0.1:${port}`,
      });
    }
    // compose starts the replicas together: both boot against the same store and volume
    await Promise.all(this.replicas.map((r) => waitForHttp(r.service, `${r.baseUrl}/health`)));

    this.nginx = await startNginx(
      join(this.dir, 'nginx'),
      this.replicas.map((r) => new URL(r.baseUrl).host),
      proxyPort,
      LOCAL_PROXY_ADDRESS,
    );
    this.track(this.nginx.service);
    return this;
  }

  /** compose's `environment:` of a service, interpolated from .env, addresses made local. */
  composeServiceEnv(service: string, substitute: (v: string) => string): Env {
    const env: Env = {};
    for (const [name, value] of Object.entries(composeEnvironment(service))) {
      env[name] = substitute(interpolate(value, this.dotenv));
    }
    return env;
  }

  async stop(): Promise<void> {
    for (const service of [...this.services].reverse()) await service.stop();
    await this.mongo?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  logs(): string {
    return this.services.map((s) => `--- ${s.name}\n${s.logs().slice(-4000)}`).join('\n');
  }

  private track(service: Service): Service {
    this.services.push(service);
    return service;
  }

  private assertOnlyLocalAddresses(env: Env): void {
    for (const [name, value] of Object.entries(env)) {
      for (const address of COMPOSE_ADDRESSES) {
        if (value.includes(address)) throw new Error(`${name} still points at ${address}`);
      }
    }
  }
}

/** The proxy service's `ipv4_address` on the compose network (docker-compose.yml). */
function proxyAddress(): string {
  const address = composeDocument().services.proxy.networks?.default?.ipv4_address;
  if (!address) throw new Error('docker-compose.yml gives the proxy no fixed ipv4_address');
  return address;
}
