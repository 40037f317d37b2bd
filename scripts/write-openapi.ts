/** `npm run openapi`: rewrites docs/openapi.json from the controllers (same wiring as the server). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '@app/api/bootstrap';
import { buildOpenApi } from '@app/api/openapi';

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdai-openapi-'));
  try {
    const { app } = await createApp({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATA_DIR: dataDir });
    await app.init();
    writeFileSync(
      join(__dirname, '..', 'docs', 'openapi.json'),
      JSON.stringify(buildOpenApi(app), null, 2) + '\n',
    );
    await app.close();
    process.stdout.write('docs/openapi.json written\n');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

void main();
