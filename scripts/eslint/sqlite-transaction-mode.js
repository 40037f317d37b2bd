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
 * - `exec`/`prepare` of a literal `BEGIN` or `BEGIN DEFERRED`: reported, the same bug by hand.
 *   A read transaction held across awaits (which `readTransaction`, synchronous, cannot) on a
 *   connection opened `readonly` says so in an eslint-disable comment (apps/api/src/admin/backup.ts).
 *
 * CommonJS, not TypeScript: eslint.config.mjs loads it as it is.
 */
'use strict';

const WRITE_MODES = new Set(['immediate', 'exclusive']);
const DEFERRED_BEGIN = /^\s*BEGIN\b(?!\s+(IMMEDIATE|EXCLUSIVE)\b)/i;

function propertyName(node) {
  if (node.type !== 'MemberExpression' || node.computed) return undefined;
  return node.property.type === 'Identifier' ? node.property.name : undefined;
}

function literalText(node) {
  if (!node) return undefined;
  if (node.type === 'Literal' && typeof node.value === 'string') return node.value;
  if (node.type === 'TemplateLiteral' && node.quasis.length > 0) return node.quasis[0].value.cooked;
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
    },
  },
  create(context) {
    return {
      CallExpression(node) {
        const name = propertyName(node.callee);
        if (name === 'transaction') {
          const parent = node.parent;
          const mode =
            parent.type === 'MemberExpression' && parent.object === node
              ? propertyName(parent)
              : undefined;
          if (mode === undefined || !WRITE_MODES.has(mode)) {
            context.report({ node, messageId: 'deferred' });
          }
          return;
        }
        if (name === 'exec' || name === 'prepare') {
          const sql = literalText(node.arguments[0]);
          if (sql !== undefined && DEFERRED_BEGIN.test(sql)) {
            context.report({ node, messageId: 'begin' });
          }
        }
      },
    };
  },
};
