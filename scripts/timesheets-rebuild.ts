/** `npm run timesheets:rebuild`: the command of apps/api/src/admin/ (built into the image as admin.js). */
import { runAdminCommand } from '@app/api/admin/admin';

runAdminCommand('timesheets:rebuild', process.argv.slice(2));
