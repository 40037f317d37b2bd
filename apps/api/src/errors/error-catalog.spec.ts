import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CODE_BY_STATUS } from '@app/common';
import { renderErrorDoc } from './error-doc';
import { ERROR_CATALOGS, ERROR_STATUS, StatusTable } from './error-status';
import { PROXY_ERRORS } from './proxy-errors';

const root = join(__dirname, '..', '..', '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sources(path);
    return path.endsWith('.ts') && !path.endsWith('.spec.ts') ? [path] : [];
  });
}

describe('error catalog', () => {
  it('should have docs/errors.md as generated from the catalogs (npm run docs:errors)', () => {
    expect(readFileSync(join(root, 'docs', 'errors.md'), 'utf8')).toBe(renderErrorDoc());
  });

  it('should list every module that declares error codes, once', () => {
    const declared = [...sources(join(root, 'libs')), ...sources(join(root, 'apps', 'api'))]
      .map((path) => readFileSync(path, 'utf8'))
      .filter((text) => /extends DomainError</.test(text))
      .map((text) => /^\s+module: '([^']+)',$/m.exec(text)?.[1]);
    const modules = ERROR_CATALOGS.map((c) => c.module);
    expect(new Set(modules).size).toBe(modules.length);
    expect([...declared].sort()).toEqual([...modules].sort());
  });

  it('should give every code a status the filter can answer with', () => {
    for (const catalog of ERROR_CATALOGS) {
      const statuses: Readonly<Record<string, number>> = ERROR_STATUS[catalog.module];
      for (const code of Object.keys(catalog.codes)) {
        expect([catalog.module, code, statuses[code] >= 400]).toEqual([catalog.module, code, true]);
        expect(code).toMatch(/^[a-z][a-z0-9_]*$/);
      }
    }
  });

  it('should not compile a status row that misses a code or maps an undeclared one (npm run typecheck)', () => {
    // @ts-expect-error not_found has no status
    const missing: StatusTable['console'] = { console_not_built: 404 };
    const extra: StatusTable['console'] = {
      console_not_built: 404,
      not_found: 404,
      // @ts-expect-error no catalog declares this code
      console_on_fire: 500,
    };
    expect([missing, extra]).toHaveLength(2);
  });

  it('should answer storage failures with 507 storage_full and 503 storage_unavailable', () => {
    expect([ERROR_STATUS.common.storage_full, ERROR_STATUS.common.storage_unavailable]).toEqual([
      507, 503,
    ]);
  });

  it("should list as the proxy's errors exactly what deploy/nginx.conf answers itself, each code with the status it has in the API", () => {
    const conf = readFileSync(join(root, 'deploy', 'nginx.conf'), 'utf8');
    // every `error_page … =status /.proxy-error/name` and what its internal location returns
    // (its body may hold one `{ … }` block, `types { }`)
    const pages = [
      ...conf.matchAll(/^\s*error_page ([\d ]+) =(\d+) (\/\.proxy-error\/\w+);$/gm),
    ].map((m) => ({ status: Number(m[2]), location: m[3] }));
    expect(pages.length).toBe([...conf.matchAll(/^\s*error_page /gm)].length);
    const answers = pages.map(({ status, location }) => {
      const block = new RegExp(
        `location = ${location.replace(/\./g, '\\.')} \\{(?:[^{}]|\\{[^{}]*\\})*?\\binternal;(?:[^{}]|\\{[^{}]*\\})*?return (\\d+) '(\\{[^']*\\})\\\\n';`,
        's',
      ).exec(conf);
      expect([location, block !== null]).toEqual([location, true]);
      const body = JSON.parse(block![2].replace('$request_id', 'id')) as Record<string, unknown>;
      expect([location, Number(block![1]), body.statusCode]).toEqual([location, status, status]);
      expect(Object.keys(body)).toEqual(['statusCode', 'code', 'message', 'correlationId']);
      return { code: body.code, status };
    });
    expect(answers).toEqual(PROXY_ERRORS.map(({ code, status }) => ({ code, status })));
    // the same code means the same status wherever the API answers it
    const elsewhere = (code: string) => [
      ...ERROR_CATALOGS.flatMap((c) => {
        const statuses: Readonly<Record<string, number>> = ERROR_STATUS[c.module];
        return code in c.codes ? [statuses[code]] : [];
      }),
      ...Object.entries(CODE_BY_STATUS).flatMap(([s, c]) => (c === code ? [Number(s)] : [])),
    ];
    // nginx's alone: no replica answers them over HTTP (a 504 is a replica that did not answer)
    const nginxOwn = ['not_implemented', 'upstream_timeout', 'http_version_not_supported'];
    for (const { code, status } of PROXY_ERRORS) {
      expect([code, [...new Set(elsewhere(code))]]).toEqual([
        code,
        nginxOwn.includes(code) ? [] : [status],
      ]);
    }
  });
});
