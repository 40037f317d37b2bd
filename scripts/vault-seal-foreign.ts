/** `npm run vault:seal-foreign`: the command of apps/api/src/admin/ (built into the image as admin.js). */
import { runAdminCommand } from '@app/api/admin/admin';

runAdminCommand('vault:seal-foreign', process.argv.slice(2));
