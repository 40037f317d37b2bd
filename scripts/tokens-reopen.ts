/** `npm run tokens:reopen`: the command of apps/api/src/admin/ (built into the image as admin.js). */
import { runAdminCommand } from '@app/api/admin/admin';

runAdminCommand('tokens:reopen', process.argv.slice(2));
