/** `npm run db:sql`: the command of apps/api/src/admin/ (built into the image as admin.js). */
import { runAdminCommand } from '@app/api/admin/admin';

runAdminCommand('db:sql', process.argv.slice(2));
