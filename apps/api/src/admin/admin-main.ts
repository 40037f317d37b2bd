/** `node dist/apps/api/apps/api/src/admin.js <command> [arguments]` (see admin.ts). */
import { runAdminCommand } from './admin';

runAdminCommand(process.argv[2], process.argv.slice(3));
