/** `npm run keys:rotate`: the command of apps/api/src/admin/ (built into the image as admin.js). */
import { runAdminCommand } from '@app/api/admin/admin';

runAdminCommand('keys:rotate', process.argv.slice(2));
