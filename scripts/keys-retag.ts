/** `npm run keys:retag`: the command of apps/api/src/admin/ (built into the image as admin.js). */
import { runAdminCommand } from '@app/api/admin/admin';

runAdminCommand('keys:retag', process.argv.slice(2));
