/** `npm run docs:errors`: rewrites docs/errors.md from the error catalogs and the status table. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderErrorDoc } from '@app/api/errors/error-doc';

writeFileSync(join(__dirname, '..', 'docs', 'errors.md'), renderErrorDoc());
process.stdout.write('docs/errors.md written\n');
