import { RuleTester } from 'eslint';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import tseslint from 'typescript-eslint';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const rule = require('../../../../scripts/eslint/sqlite-transaction-mode.js');

const root = join(__dirname, '../../../..');
const tester = new RuleTester({ languageOptions: { parser: tseslint.parser } });

describe('mdai/sqlite-transaction-mode', () => {
  tester.run('sqlite-transaction-mode', rule, {
    valid: [
      'db.transaction(() => read()).immediate();',
      'this.db.transaction(() => { a(); b(); }).immediate(1, 2);',
      'db.transaction(fn).exclusive();',
      // the variant taken as a value: it begins IMMEDIATE whenever it is called
      'const apply = db.transaction(fn).immediate; apply();',
      'turns.write(() => db.transaction<number>(fn).immediate());',
      "db.exec('BEGIN IMMEDIATE');",
      "db.prepare('begin exclusive').run();",
      "db.exec('COMMIT');",
      "db.exec('/* lock */ BEGIN IMMEDIATE; -- now\\n');",
      "db.exec('RELEASE sp');",
      "let sql = 'BEGIN'; sql = 'BEGIN IMMEDIATE'; db.exec(sql);",
      'const deferred = 1;',
      'readTransaction(db, () => read());',
    ],
    invalid: [
      // the bug: a read, then a write, in a transaction begun DEFERRED
      {
        code: 'db.transaction(() => { if (!find.get(id)) insert.run(id); })();',
        errors: [{ messageId: 'deferred' }],
      },
      { code: 'db.transaction(fn).deferred();', errors: [{ messageId: 'deferred' }] },
      { code: 'const t = db.transaction(fn); t.immediate();', errors: [{ messageId: 'deferred' }] },
      { code: 'turns.write(this.db.transaction(fn));', errors: [{ messageId: 'deferred' }] },
      { code: 'db.transaction(fn)["immediate"]();', errors: [{ messageId: 'deferred' }] },
      { code: '(db.transaction(fn) as T).immediate();', errors: [{ messageId: 'deferred' }] },
      { code: "db.exec('BEGIN');", errors: [{ messageId: 'begin' }] },
      { code: "db.exec(' begin deferred');", errors: [{ messageId: 'begin' }] },
      { code: 'db.prepare(`BEGIN TRANSACTION`).run();', errors: [{ messageId: 'begin' }] },
      // a mode function carries the other modes
      {
        code: 'const t = db.transaction(fn).immediate; t.deferred();',
        errors: [{ messageId: 'deferred' }],
      },
      { code: 'db.transaction(fn).immediate.deferred();', errors: [{ messageId: 'deferred' }] },
      { code: "db.transaction(fn)['deferred']();", errors: [{ messageId: 'deferred' }] },
      // transaction other than called: its mode cannot be checked
      {
        code: 'const { transaction } = db; transaction(fn)();',
        errors: [{ messageId: 'unchecked' }],
      },
      { code: "db['transaction'](fn)();", errors: [{ messageId: 'deferred' }] },
      { code: 'const tx = db.transaction.bind(db);', errors: [{ messageId: 'unchecked' }] },
      { code: '(0, db.transaction)(fn)();', errors: [{ messageId: 'unchecked' }] },
      // SQL past a leading comment, in any statement, SAVEPOINT, a const holding it
      { code: "db.exec('/* lock */ BEGIN');", errors: [{ messageId: 'begin' }] },
      { code: "db.exec('-- lock\\n begin deferred');", errors: [{ messageId: 'begin' }] },
      { code: "db.exec('PRAGMA foreign_keys = ON; BEGIN');", errors: [{ messageId: 'begin' }] },
      { code: "db.exec('SAVEPOINT sp');", errors: [{ messageId: 'savepoint' }] },
      { code: "db.prepare(' savepoint a').run();", errors: [{ messageId: 'savepoint' }] },
      { code: "const sql = 'BEGIN'; db.exec(sql);", errors: [{ messageId: 'begin' }] },
    ],
  });

  // the rule is only as good as the files it is on: the project's config, as `npm run lint` reads
  // it (in a child process: ESLint imports eslint.config.mjs, which jest's VM cannot)
  it('is on for the server, its libraries and the scripts; off for specs, test/ and bench/', () => {
    const on = [
      'libs/fraud/src/infrastructure/persistence/sqlite/repositories/sqlite-fraud-event.repository.ts',
      'libs/persistence/src/sqlite/sqlite-store.ts',
      'apps/api/src/main.ts',
      'scripts/keys-retag.ts',
    ];
    const off = [
      'libs/persistence/src/sqlite/sqlite-transactions.spec.ts',
      'test/docs.e2e-spec.ts',
      'bench/sync.bench.ts',
    ];
    const script = `
      const { ESLint } = require('eslint');
      const eslint = new ESLint();
      Promise.all(process.argv.slice(1).map((f) => eslint.calculateConfigForFile(f))).then((cs) =>
        process.stdout.write(JSON.stringify(cs.map((c) => c.rules['mdai/sqlite-transaction-mode'] ?? null))));`;
    const out = execFileSync(process.execPath, ['-e', script, ...on, ...off], { cwd: root });
    const severities = JSON.parse(out.toString()) as unknown[];
    expect(Object.fromEntries([...on, ...off].map((f, i) => [f, severities[i]]))).toEqual({
      ...Object.fromEntries(on.map((f) => [f, [2]])),
      ...Object.fromEntries(off.map((f) => [f, null])),
    });
  });
});
