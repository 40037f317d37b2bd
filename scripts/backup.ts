/** `npm run backup -- --to <dir>` and `-- --check <dir>`: the command of apps/api/src/admin/ (built into the image as admin.js). */
import { runAdminCommand } from '@app/api/admin/admin';

runAdminCommand('backup', process.argv.slice(2));
