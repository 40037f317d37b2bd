/**
 * The operator's commands, built into the image beside the API (`npm run build` bundles
 * admin-main.ts as dist/apps/api/apps/api/src/admin.js), so a container runs them with the server's own
 * environment:
 *
 *   docker compose exec api node dist/apps/api/apps/api/src/admin.js keys:reseal
 *
 * `npm run keys:rotate` and the others run the same modules from the sources
 * (scripts/<name>.ts). Each command is loaded only when asked for.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
export const ADMIN_COMMANDS = {
  'keys:rotate': (args: string[]) =>
    (require('./keys-rotate') as typeof import('./keys-rotate')).keysRotate(args),
  'keys:reseal': (args: string[]) =>
    (require('./keys-reseal') as typeof import('./keys-reseal')).keysReseal(args),
  'vault:rotate': (args: string[]) =>
    (require('./keys-reseal') as typeof import('./keys-reseal')).keysReseal(args),
  'keys:retag': (args: string[]) =>
    (require('./keys-retag') as typeof import('./keys-retag')).keysRetag(args),
  'timesheets:rebuild': () =>
    (require('./timesheets-rebuild') as typeof import('./timesheets-rebuild')).timesheetsRebuild(),
  'ledger:seal-foreign': (args: string[]) =>
    (require('./ledger-seal-foreign') as typeof import('./ledger-seal-foreign')).ledgerSealForeign(
      args,
    ),
  'vault:seal-foreign': (args: string[]) =>
    (require('./vault-seal-foreign') as typeof import('./vault-seal-foreign')).vaultSealForeign(
      args,
    ),
  'tokens:reopen': (args: string[]) =>
    (require('./tokens-reopen') as typeof import('./tokens-reopen')).tokensReopen(args),
  backup: (args: string[]) => (require('./backup') as typeof import('./backup')).backup(args),
  'db:sql': (args: string[]) => (require('./db-sql') as typeof import('./db-sql')).dbSql(args),
  'verify:log': (args: string[]) =>
    (require('./verify-log') as typeof import('./verify-log')).verifyLog(args),
} as const;
/* eslint-enable @typescript-eslint/no-require-imports */

export type AdminCommand = keyof typeof ADMIN_COMMANDS;

/** Runs `command` with `args`; an unknown command prints the list and exits 64 (usage). */
export function runAdminCommand(command: string | undefined, args: string[]): void {
  if (command === undefined || !Object.hasOwn(ADMIN_COMMANDS, command)) {
    process.stderr.write(
      `usage: node admin.js <command> [arguments]\ncommands: ${Object.keys(ADMIN_COMMANDS).join(', ')}\n`,
    );
    process.exit(64);
  }
  ADMIN_COMMANDS[command as AdminCommand](args);
}
