import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { read } from './compose';
import { run, Service, waitUntil } from './processes';

export const NGINX = process.env.NGINX_BIN ?? '/usr/sbin/nginx';

/**
 * deploy/nginx.conf with only its addresses substituted: each `upstream` block's
 * `server api:3000 resolve …` becomes one `server` line per replica with the same parameters
 * (compose resolves `api` to both replicas; `resolve` goes with the name: it re-resolves
 * names, and there are none here, and Debian's nginx 1.22 predates it), `listen 80` becomes a local port, and the image's
 * access log (/var/log/nginx/access.log, its stdout there) the file `accessLog`. With `bind`,
 * nginx connects to the replicas from that address (`proxy_bind`, beside the server's proxy
 * settings, so every location has it), as compose's nginx does
 * from its fixed address on the compose network. Each substitution must match exactly once
 * (the `server` line once in each upstream block), so a changed shipped file fails here instead
 * of being tested in a form nobody runs.
 */
export function renderShippedConfig(
  replicas: string[],
  listen: string,
  accessLog: string,
  bind?: string,
): string {
  const shipped = read('deploy/nginx.conf');
  const replace = (text: string, pattern: RegExp, by: string, times = 1) => {
    const count = text.match(new RegExp(pattern.source, 'gm'))?.length ?? 0;
    if (count !== times) {
      throw new Error(`deploy/nginx.conf: expected ${times} of ${pattern} (found ${count})`);
    }
    return text.replace(new RegExp(pattern.source, 'gm'), by);
  };
  const upstreams = shipped.match(/^upstream \w+ \{$/gm)?.length ?? 0;
  let text = replace(
    shipped,
    /^(\s*)server api:3000 resolve((?: [\w=]+)*);$/,
    replicas.map((address) => `$1server ${address}$2;`).join('\n'),
    upstreams,
  );
  text = replace(text, /^(\s*)listen 80;$/, `$1listen ${listen};`);
  text = replace(
    text,
    /^(\s*)access_log \/var\/log\/nginx\/access\.log (\w+);$/,
    `$1access_log ${accessLog} $2;`,
  );
  if (bind) {
    text = replace(
      text,
      /^(\s*)proxy_http_version 1\.1;$/,
      `$1proxy_http_version 1.1;\n$1proxy_bind ${bind};`,
    );
  }
  return text;
}

/**
 * The part of the official nginx image's /etc/nginx/nginx.conf that matters here (the
 * shipped file goes in its `http` block as conf.d/default.conf does: after the image's
 * `include mime.types`, so a path's extension names its type as there), with every path in a
 * private prefix so the test runs beside anything else on the machine. Its access log is the
 * image's, in the image's `main` format (the whole request line, query string included),
 * unless the shipped file says otherwise.
 */
function mainConfig(prefix: string): string {
  return `daemon off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log stderr warn;
events { worker_connections 512; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                  '$status $body_bytes_sent "$http_referer" '
                  '"$http_user_agent" "$http_x_forwarded_for"';
  access_log ${accessLogPath(prefix)} main;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  include ${prefix}/conf.d/default.conf;
}
`;
}

function accessLogPath(prefix: string): string {
  return join(prefix, 'access.log');
}

export interface RunningNginx {
  service: Service;
  /** What `nginx -t` said about the shipped config (with addresses substituted). */
  testOutput: string;
  /** What it wrote to its access log (the image's stdout) so far. */
  accessLog(): string;
}

export async function startNginx(
  prefix: string,
  replicas: string[],
  port: number,
  bind?: string,
): Promise<RunningNginx> {
  mkdirSync(join(prefix, 'conf.d'), { recursive: true });
  mkdirSync(join(prefix, 'tmp'), { recursive: true });
  // workers run as nginx's unprivileged user when started as root: let them reach the temp dirs
  chmodSync(dirname(prefix), 0o711);
  chmodSync(prefix, 0o755);
  chmodSync(join(prefix, 'tmp'), 0o777);
  writeFileSync(
    join(prefix, 'conf.d', 'default.conf'),
    renderShippedConfig(replicas, `127.0.0.1:${port}`, accessLogPath(prefix), bind),
  );
  const main = join(prefix, 'nginx.conf');
  writeFileSync(main, mainConfig(prefix));
  const checked = await run(NGINX, ['-t', '-p', prefix, '-c', main]);
  if (checked.code !== 0) throw new Error(`nginx -t failed:\n${checked.output}`);
  const service = Service.start('nginx', NGINX, ['-p', prefix, '-c', main], {});
  await waitUntil(service, `nginx on ${port}`, async () => {
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    return res.status === 200;
  });
  return {
    service,
    testOutput: checked.output,
    accessLog: () =>
      existsSync(accessLogPath(prefix)) ? readFileSync(accessLogPath(prefix), 'utf8') : '',
  };
}
