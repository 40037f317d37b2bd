/**
 * ESLint rule `mdai/sqlite-transaction-mode`: a better-sqlite3 transaction begins IMMEDIATE
 * (or EXCLUSIVE), or it is the one read-only wrapper's.
 *
 * A transaction begun DEFERRED takes the write lock at its first write. When a read came first
 * it holds a read snapshot, and SQLite does not wait to upgrade it: while another connection
 * (the append thread, another process) holds the write lock, the write fails at once with
 * SQLITE_BUSY, past busy_timeout (503 storage_unavailable), or with SQLITE_BUSY_SNAPSHOT once
 * that writer committed. Whether a function reads before it writes cannot be told from its
 * text (a helper, a branch), so the rule asks for the mode itself:
 *
 * - `db.transaction(fn).immediate(...)` (or `.exclusive`, or the variant taken as a value):
 *   ok. It costs a transaction that writes nothing more than one that writes first: both take
 *   the lock, waiting in the busy handler.
 * - `db.transaction(fn)(...)`, `.deferred(...)`, or the transaction function kept or passed
 *   on: reported. A transaction that only reads goes through `readTransaction`
 *   (libs/persistence/src/sqlite/sqlite-transactions.ts): deferred, and any write in it fails
 *   at once (`PRAGMA query_only`), in every test that runs it, not only under contention.
 * - `.deferred` anywhere (a transaction function carries every mode, `.immediate.deferred` too),
 *   and `transaction` other than called (`const { transaction } = db`, `.bind(db)`,
 *   `(0, db.transaction)(fn)`): reported, its mode not checked.
 * - `exec`/`prepare` of a `BEGIN` or `BEGIN DEFERRED`, or a `SAVEPOINT` (outside a transaction
 *   it begins one, deferred): reported, the same bug by hand. Looked for in a string literal or
 *   a `const` initialised with one, in each statement of it, past leading comments.
 *   A read transaction held across awaits (which `readTransaction`, synchronous, cannot) on a
 *   connection opened `readonly` says so in an eslint-disable comment (apps/api/src/admin/backup.ts).
 *
 * CommonJS, not TypeScript: eslint.config.mjs loads it as it is.
 */
'use strict';

const WRITE_MODES = new Set(['immediate', 'exclusive']);
const DEFERRED_BEGIN = /^BEGIN\b(?!\s+(IMMEDIATE|EXCLUSIVE)\b)/i;
// outside a transaction SAVEPOINT begins one, DEFERRED; inside one it needs no lint
const SAVEPOINT = /^SAVEPOINT\b/i;
const LEADING_COMMENTS = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?(?:\*\/|$))*/;

/** A member's name: `a.name`, or `a['name']` / a computed template without expressions. */
function propertyName(node) {
  if (node.type !== 'MemberExpression') return undefined;
  if (!node.computed) return node.property.type === 'Identifier' ? node.property.name : undefined;
  return literalText(node.property, true);
}

function literalText(node, whole = false) {
  if (!node) return undefined;
  if (node.type === 'Literal' && typeof node.value === 'string') return node.value;
  if (node.type === 'TemplateLiteral' && node.quasis.length > 0) {
    if (whole && node.quasis.length > 1) return undefined;
    return node.quasis[0].value.cooked;
  }
  return undefined;
}

/** The text of a string literal, or of a `const` identifier initialised with one. */
function sqlText(context, node) {
  const text = literalText(node);
  if (text !== undefined || !node || node.type !== 'Identifier') return text;
  let scope = context.sourceCode.getScope(node);
  for (; scope; scope = scope.upper) {
    const variable = scope.set.get(node.name);
    if (!variable) continue;
    if (variable.defs.length !== 1) return undefined;
    const def = variable.defs[0];
    if (def.type !== 'Variable' || def.parent.kind !== 'const') return undefined;
    return literalText(def.node.init);
  }
  return undefined;
}

/**
 * What in `sql` begins a deferred transaction: 'begin' (a deferred BEGIN), 'savepoint', or
 * undefined. Every statement is looked at, each past its leading comments.
 */
function deferredStatement(sql) {
  for (const statement of sql.split(';')) {
    const text = statement.replace(LEADING_COMMENTS, '');
    if (DEFERRED_BEGIN.test(text)) return 'begin';
    if (SAVEPOINT.test(text)) return 'savepoint';
  }
  return undefined;
}

module.exports = {
  meta: {
    type: 'problem',
    docs: {
      description:
        'A SQLite transaction begins IMMEDIATE; one that only reads uses readTransaction',
    },
    schema: [],
    messages: {
      deferred:
        "Begin this transaction IMMEDIATE: `db.transaction(fn).immediate()`. Deferred, a read before its first write fails that write at once with SQLITE_BUSY while another connection writes (503 storage_unavailable). A transaction that only reads: `readTransaction(db, fn)` from '@app/persistence'.",
      begin:
        "BEGIN IMMEDIATE, not a deferred BEGIN: a read before the first write fails that write at once with SQLITE_BUSY while another connection writes. Better: `db.transaction(fn).immediate()`.",
      savepoint:
        'SAVEPOINT outside a transaction begins one DEFERRED: a read before the first write fails that write at once with SQLITE_BUSY while another connection writes. Use `db.transaction(fn).immediate()` (nested, better-sqlite3 makes the savepoint itself).',
      unchecked:
        "`transaction` used other than called (`db.transaction(fn).immediate()`): its mode cannot be checked. Call it as `db.transaction(fn).immediate()`.",
    },
  },
  create(context) {
    return {
      MemberExpression(node) {
        const name = propertyName(node);
        // a transaction function carries every mode: `db.transaction(fn).immediate.deferred()`
        if (name === 'deferred') {
          context.report({ node, messageId: 'deferred' });
          return;
        }
        if (name !== 'transaction') return;
        const parent = node.parent;
        // `db.transaction(fn)`: checked as a call; anything else (`.bind(db)`, `(0, db.transaction)`,
        // kept or passed on) cannot be
        if (parent.type === 'CallExpression' && parent.callee === node) return;
        context.report({ node, messageId: 'unchecked' });
      },
      // `const { transaction } = db`
      Property(node) {
        if (node.parent.type !== 'ObjectPattern') return;
        const key = node.computed ? literalText(node.key, true) : node.key.type === 'Identifier' ? node.key.name : literalText(node.key, true);
        if (key === 'transaction') context.report({ node, messageId: 'unchecked' });
      },
      CallExpression(node) {
        const name = propertyName(node.callee);
        if (name === 'transaction') {
          const parent = node.parent;
          const mode =
            parent.type === 'MemberExpression' && parent.object === node
              ? // a mode named as written, not computed (`['immediate']`)
                parent.computed && propertyName(parent) !== 'deferred'
                ? undefined
                : propertyName(parent)
              : undefined;
          if (mode === undefined || !WRITE_MODES.has(mode)) {
            // `.deferred` is reported as a member
            if (mode !== 'deferred') context.report({ node, messageId: 'deferred' });
          }
          return;
        }
        if (name === 'exec' || name === 'prepare') {
          const sql = sqlText(context, node.arguments[0]);
          const found = sql === undefined ? undefined : deferredStatement(sql);
          if (found !== undefined) context.report({ node, messageId: found });
        }
      },
    };
  },
};
