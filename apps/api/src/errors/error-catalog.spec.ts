import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { renderErrorDoc } from './error-doc';
import { ERROR_CATALOGS, ERROR_STATUS, StatusTable } from './error-status';

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
});
