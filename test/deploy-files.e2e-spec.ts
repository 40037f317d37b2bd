import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { BlockList } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { witnessPlacementWarning } from '@app/tlog';
import { http, startTestApp } from './support/test-app';
import {
  composeDocument,
  composeEnvironment,
  initEnv,
  interpolate,
  parseDotenv,
  read,
} from './topology/support/compose';
import { freePort, run } from './topology/support/processes';

/**
 * docker-compose.yml, deploy/nginx.conf and .dockerignore as an operator meets them: what
 * `docker compose up` cannot be run here to show (no Docker engine on this machine).
 */

/**
 * Values of compose's `environment:` that belong to the topology itself, not to the operator:
 * nginx and the healthcheck reach the replica on 3000, the volume is mounted at /data, the
 * stub listens where `UPSTREAM_URL`'s default points.
 */
const TOPOLOGY_OWN: Record<string, string[]> = {
  api: ['NODE_ENV', 'PORT', 'DATA_DIR', 'TLOG_WITNESS_FILE'],
  upstream: ['UPSTREAM_STUB_PORT'],
};

describe('docker-compose.yml', () => {
  const compose = composeDocument();
  const services = Object.keys(compose.services);

  it('should let .env set every value of `environment:` but the topology own ones (environment wins over env_file)', () => {
    const fixed: string[] = [];
    for (const service of ['api', 'upstream']) {
      for (const [name, value] of Object.entries(composeEnvironment(service))) {
        if (TOPOLOGY_OWN[service].includes(name)) {
          fixed.push(`${service}.${name}`);
          continue;
        }
        expect([service, name, value]).toEqual([
          service,
          name,
          expect.stringMatching(new RegExp(`^\\$\\{${name}(:-[^}]*)?\\}$`)),
        ]);
      }
    }
    expect(fixed).toEqual([
      'api.NODE_ENV',
      'api.PORT',
      'api.DATA_DIR',
      'api.TLOG_WITNESS_FILE',
      'upstream.UPSTREAM_STUB_PORT',
    ]);
  });

  it('should keep the witness file on a volume of its own, not in the data volume (findings M2)', () => {
    const api = composeEnvironment('api');
    const mounts = (compose.services.api.volumes ?? []).map((m) => {
      const [source, target] = m.split(':');
      return { source, target };
    });
    const holding = (path: string) =>
      mounts.filter((m) => path === m.target || path.startsWith(`${m.target}/`));
    const [data] = holding(api.DATA_DIR);
    const [witness] = holding(api.TLOG_WITNESS_FILE);
    expect(data).toBeDefined();
    expect(witness).toBeDefined();
    expect(witness.source).not.toBe(data.source);
    expect(Object.keys(compose.volumes ?? {})).toEqual(
      expect.arrayContaining([data.source, witness.source]),
    );
    // what the server warns of at boot in production: none here
    expect(
      witnessPlacementWarning(api.TLOG_WITNESS_FILE, { dataDir: api.DATA_DIR, production: true }),
    ).toBeUndefined();
    // the image makes the mount point, owned by the runtime user (a fresh volume copies it)
    const runtime = read('Dockerfile')
      .split(/^FROM /m)
      .pop()!;
    const dir = api.TLOG_WITNESS_FILE.slice(0, api.TLOG_WITNESS_FILE.lastIndexOf('/'));
    expect(runtime).toMatch(
      new RegExp(`^RUN .*mkdir -p .*${dir}\\b.*&& chown (-R )?node:node .*${dir}\\b`, 'm'),
    );
  });

  it('should send the replicas to the UPSTREAM_URL of .env, and to the stub when .env keeps the example', () => {
    const api = composeEnvironment('api');
    const real = 'https://identity.example.org/v1';
    expect(interpolate(api.UPSTREAM_URL, { UPSTREAM_URL: real })).toBe(real);
    expect(interpolate(api.UPSTREAM_URL, {})).toBe('http://upstream:4010');
    // .env as scripts/init-env.sh writes it (from .env.example) names the stub compose runs
    const dir = mkdtempSync(join(tmpdir(), 'mdai-deploy-'));
    try {
      const dotenv = initEnv(dir);
      expect(dotenv.UPSTREAM_URL).toBe('http://upstream:4010');
      expect(parseDotenv(read('.env.example')).UPSTREAM_URL).toBe('http://upstream:4010');
      expect(interpolate(api.UPSTREAM_URL, dotenv)).toBe('http://upstream:4010');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should restart every service unless stopped, and start the proxy on healthy replicas', () => {
    expect(services.map((s) => [s, compose.services[s].restart])).toEqual(
      services.map((s) => [s, 'unless-stopped']),
    );
    expect(compose.services.proxy.depends_on).toEqual({ api: { condition: 'service_healthy' } });
    expect(compose.services.api.depends_on).toMatchObject({
      mongo: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
    const health = compose.services.api.healthcheck!;
    // the image has node and no curl
    expect(health.test.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
    expect(health).toMatchObject({ timeout: expect.any(String), start_period: expect.any(String) });
  });

  it("should trust X-Forwarded-For from nginx's fixed address only: in the network's subnet, outside the range other containers get", () => {
    const address = compose.services.proxy.networks?.default?.ipv4_address;
    expect(address).toEqual(expect.any(String));
    // what the replicas trust when .env does not say (.env.example leaves it commented out)
    expect(interpolate(composeEnvironment('api').TRUST_PROXY, {})).toBe(address);
    expect(parseDotenv(read('.env.example')).TRUST_PROXY).toBeUndefined();
    const [pool] = compose.networks?.default?.ipam?.config ?? [];
    const block = (cidr: string) => {
      const [network, prefix] = cidr.split('/');
      const list = new BlockList();
      list.addSubnet(network, Number(prefix), 'ipv4');
      return list;
    };
    expect(block(pool.subnet!).check(address!, 'ipv4')).toBe(true);
    expect(block(pool.ip_range!).check(address!, 'ipv4')).toBe(false);
    expect(block(pool.subnet!).check(pool.gateway!, 'ipv4')).toBe(true);
    expect(pool.gateway).not.toBe(address);
    // every other service is on that network alone, with an address from ip_range
    for (const service of services.filter((s) => s !== 'proxy')) {
      expect([service, compose.services[service].networks]).toEqual([service, undefined]);
    }
  });

  it('should run an nginx that re-resolves `api` when the shipped config asks it to (1.27.3 or later)', () => {
    const conf = read('deploy/nginx.conf');
    expect(conf).toMatch(/^\s*server api:3000 resolve( [\w=]+)*;$/m);
    expect(conf).toMatch(/^\s*zone mdai_api \d+k;$/m);
    expect(conf).toMatch(/^resolver 127\.0\.0\.11 /m);
    const version = /^nginx:(\d+)\.(\d+)(?:\.(\d+))?-/.exec(compose.services.proxy.image ?? '');
    expect(version).not.toBeNull();
    // a tag without the patch (`1.28`) is at least its .0 (a cached 1.27 may be 1.27.0)
    const [major, minor, patch] = version!.slice(1).map((v) => Number(v ?? 0));
    expect(major * 1e6 + minor * 1e3 + patch).toBeGreaterThanOrEqual(1_027_003);
  });

  it('should take a replica out after three failures, and never for a long answer (300 s class) over its time', () => {
    const conf = read('deploy/nginx.conf');
    // nginx counts every error and timeout toward max_fails, whatever proxy_next_upstream says
    const maxFails = new Map(
      [...conf.matchAll(/^upstream (\w+) \{[^}]*?^\s*server api:3000 resolve([^;]*);/gms)].map(
        (m) => [m[1], Number(/ max_fails=(\d+)/.exec(m[2])?.[1] ?? 1)],
      ),
    );
    // each location that proxies: its read timeout (the server's 30 s unless it sets one)
    const routes = [...conf.matchAll(/^\s*location ([^{]+)\{([^}]*)\}/gm)]
      .filter((m) => m[2].includes('proxy_pass'))
      .map((m) => ({
        location: m[1].trim(),
        group: /proxy_pass http:\/\/(\w+);/.exec(m[2])![1],
        read: /proxy_read_timeout (\d+)s;/.exec(m[2])?.[1] ?? '30',
      }));
    expect(routes.length).toBeGreaterThan(3);
    for (const { location, group, read: timeout } of routes) {
      const fails = maxFails.get(group);
      // the 300 s class counts no failure (0); every other class three (one slow request is not
      // a replica gone)
      expect([location, timeout, fails]).toEqual([location, timeout, timeout === '300' ? 0 : 3]);
    }
    expect(routes.filter((r) => r.read === '300')).toHaveLength(1);
  });

  it('should log paths without their query string: no session token of a WebSocket URL in the access log', () => {
    const conf = read('deploy/nginx.conf');
    // the one access log (the image's) in a format of the shipped file's own, not the image's `main`
    const logs = [...conf.matchAll(/^\s*access_log\s+([^;]*);$/gm)].map((m) => m[1].split(/\s+/));
    expect(logs).toEqual([['/var/log/nginx/access.log', 'mdai_no_query']]);
    const format = /^log_format mdai_no_query((?:\s+'[^']*')+);$/m.exec(conf);
    expect(format).not.toBeNull();
    const variables = format![1].match(/\$\w+/g) ?? [];
    const carriers = ['$request', '$request_uri', '$args', '$query_string', '$http_referer'];
    expect(variables.filter((v) => carriers.includes(v) || v.startsWith('$arg_'))).toEqual([]);
    // the request line is the client's (an error nginx answers itself is an internal redirect:
    // `$request_method $uri` logged it as `GET /.proxy-error/…`), its query string cut by a map
    expect(variables).toContain('$mdai_request_line');
    expect(variables).not.toContain('$uri');
    const map =
      /^map \$request \$mdai_request_line \{\n\s*"~([^"]+)" ([^;]+);\n\s*default \$request;\n\}$/m.exec(
        conf,
      );
    expect(map).not.toBeNull();
    // nginx's PCRE pattern as JS reads it, the value's variables its named captures
    const pattern = new RegExp(map![1]);
    const logged = (line: string) => {
      const groups = pattern.exec(line)?.groups;
      return groups ? map![2].replace(/\$(\w+)/g, (_, name: string) => groups[name]) : line;
    };
    expect(
      [
        'GET /ws/mobile?token=secret-token HTTP/1.1',
        'POST /api/v5/vault?a=1&b=2?c HTTP/1.1',
        'GET /health HTTP/1.1',
        `GET /api/kiosks?pad=${'a'.repeat(64)}`,
      ].map(logged),
    ).toEqual([
      'GET /ws/mobile HTTP/1.1',
      'POST /api/v5/vault HTTP/1.1',
      'GET /health HTTP/1.1',
      'GET /api/kiosks',
    ]);
  });

  it('should resend a long answer (300 s class) only when its connect failed, never one that timed out reading (two full verifies, 600 s)', () => {
    const conf = read('deploy/nginx.conf');
    const server = /^server \{([\s\S]*)^\}/m.exec(conf)![1];
    const inherited = /^ {2}proxy_next_upstream ([^;]+);$/m.exec(server)?.[1] ?? 'error timeout';
    const resendsOn = [...conf.matchAll(/^\s*location ([^{]+)\{([^}]*)\}/gm)]
      .filter((m) => m[2].includes('proxy_pass'))
      .map((m) => ({
        location: m[1].trim(),
        read: /proxy_read_timeout (\d+)s;/.exec(m[2])?.[1] ?? '30',
        on: (/proxy_next_upstream ([^;]+);/.exec(m[2])?.[1] ?? inherited).split(/\s+/),
        within: /proxy_next_upstream_timeout (\d+)s;/.exec(m[2])?.[1],
      }));
    const connect = Number(/^ {2}proxy_connect_timeout (\d+)s;$/m.exec(server)?.[1]);
    const long = resendsOn.filter((r) => r.read === '300');
    expect(long).toHaveLength(1);
    // a replica that refused or reset it, or whose connect timed out (a stopped replica's
    // address still resolved): the other, within a bound past the connect timeout and far
    // under the read timeout; one that held it past its 300 s: 504
    expect(long[0].on).toEqual(expect.arrayContaining(['error', 'timeout']));
    const within = Number(long[0].within);
    expect(within).toBeGreaterThan(connect);
    expect(within).toBeLessThan(30);
    // the ordinary classes still resend an idempotent request that timed out
    expect(resendsOn.filter((r) => r.read !== '300').every((r) => r.on.includes('timeout'))).toBe(
      true,
    );
  });

  describe("the replicas' healthcheck, run as compose runs it", () => {
    const check = (port: number) => {
      const [, command, ...args] = composeDocument().services.api.healthcheck?.test ?? ['', ''];
      return run(command, args, { env: { PATH: process.env.PATH, PORT: String(port) } });
    };

    it('should pass on a healthy API and fail on one whose Redis is down, and where nothing listens', async () => {
      const dead = await freePort();
      const healthy = await startTestApp();
      const unhealthy = await startTestApp({ REDIS_URL: `redis://127.0.0.1:${dead}` });
      try {
        const portOf = (baseUrl: string) => Number(new URL(baseUrl).port);
        expect((await check(portOf(healthy.baseUrl))).code).toBe(0);
        // what the healthcheck (anyone) sees: the status, not which dependency or where it is
        const open = await http(unhealthy.baseUrl, 'GET', '/health');
        expect([open.status, open.body]).toEqual([
          503,
          {
            statusCode: 503,
            code: 'unhealthy',
            message: 'Unhealthy',
            correlationId: expect.any(String),
            status: 'error',
          },
        ]);
        const admin = await http(unhealthy.baseUrl, 'GET', '/health', {
          key: unhealthy.keys.admin,
        });
        expect([admin.status, admin.body.message, admin.body.error.redis.status]).toEqual([
          503,
          'Unhealthy: redis',
          'down',
        ]);
        expect((await check(portOf(unhealthy.baseUrl))).code).toBe(1);
        expect((await check(dead)).code).toBe(1);
      } finally {
        await healthy.close();
        await unhealthy.close();
      }
    });
  });
});

describe('.dockerignore', () => {
  const rules = parseDockerignore(readFileSync(join(__dirname, '..', '.dockerignore'), 'utf8'));

  it('should keep out of the build context the host node_modules, secrets, data, outputs and history', () => {
    const mustExclude = [
      'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
      'apps/console/node_modules/x/index.js',
      '.env',
      '.env.production',
      'data/secrets.json',
      'data/mdai.sqlite',
      'data/uploads/ab/cd.bin',
      'dist/apps/api/apps/api/src/main.js',
      '.git/HEAD',
      'artifacts/report.json',
      'coverage/lcov.info',
      'npm-debug.log',
    ];
    expect(mustExclude.filter((path) => !excluded(rules, path))).toEqual([]);
  });

  it('should keep in it everything `npm run build` in the Dockerfile reads', () => {
    // the build stage: package files, then `npm run build` (nest build with apps/api's
    // tsconfig, scripts/bundle-api.ts, scripts/support/record-resolutions.js, the console)
    const files = execFileSync('git', ['ls-files'], {
      cwd: join(__dirname, '..'),
      encoding: 'utf8',
    })
      .split('\n')
      .filter((f) => f.length > 0);
    const needed = files.filter(
      (f) =>
        /^(apps|libs|scripts)\//.test(f) ||
        /^(package(-lock)?\.json|tsconfig\.json|nest-cli\.json|\.swcrc)$/.test(f),
    );
    expect(needed.length).toBeGreaterThan(100);
    expect(needed.filter((path) => excluded(rules, path))).toEqual([]);
    expect(excluded(rules, '.env.example')).toBe(false);
  });

  it('should be what the Dockerfile relies on: one `COPY . .`, after `npm ci`', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile.match(/^COPY \. \.$/gm)).toHaveLength(1);
    expect(dockerfile.indexOf('RUN npm ci')).toBeLessThan(dockerfile.indexOf('COPY . .'));
  });
});

interface Rule {
  negate: boolean;
  pattern: RegExp;
}

/**
 * .dockerignore as Docker reads it: one pattern a line, `#` comments, `!` re-includes, `**`
 * any number of directories, `*` and `?` within one name; the last matching line decides, and
 * a pattern that matches a directory matches everything under it.
 */
function parseDockerignore(text: string): Rule[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const glob = (negate ? line.slice(1) : line).replace(/^\/+/, '').replace(/\/+$/, '');
      let source = '';
      for (let i = 0; i < glob.length; i++) {
        if (glob.startsWith('**/', i)) {
          source += '(?:.*/)?';
          i += 2;
        } else if (glob.startsWith('**', i)) {
          source += '.*';
          i += 1;
        } else if (glob[i] === '*') source += '[^/]*';
        else if (glob[i] === '?') source += '[^/]';
        else source += glob[i].replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, pattern: new RegExp(`^${source}$`) };
    });
}

function excluded(rules: Rule[], path: string): boolean {
  const parts = path.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let out = false;
  for (const rule of rules) {
    if (candidates.some((c) => rule.pattern.test(c))) out = !rule.negate;
  }
  return out;
}
