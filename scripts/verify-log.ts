/** `npm run verify:log`: the command of apps/api/src/admin/ (built into the image as admin.js). */
import { runAdminCommand } from '@app/api/admin/admin';

runAdminCommand('verify:log', process.argv.slice(2));
