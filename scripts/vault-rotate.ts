/**
 * `npm run vault:rotate`: re-wraps every vault data key under the active master key
 * (VAULT_ACTIVE_KEY, else the last version in VAULT_KEYS), then prints which versions still
 * wrap live files. Blobs are not rewritten. Run it with the same environment as the server
 * (DATA_DIR or DATABASE_URL, VAULT_KEYS listing the old and the new key). A version the vault
 * no longer uses can then be dropped from VAULT_KEYS once the other modules' sealed values
 * (Wi-Fi passwords, device secrets) have been resealed too.
 */
import 'reflect-metadata';
import { ConfigError } from '@app/common';
import { createApp } from '@app/api/bootstrap';
import { VaultService } from '@app/vault';

async function main(): Promise<void> {
  const { app } = await createApp({ LOG_LEVEL: 'warn', ...process.env });
  try {
    await app.init();
    const report = await app.get(VaultService).rotateKeys();
    process.stdout.write(
      `vault rotation: active ${report.activeVersion}, re-wrapped ${report.rewrapped}, failed ${report.failed.length}\n` +
        `live files per key version: ${JSON.stringify(report.usage.inUse)}\n` +
        `versions no vault file uses: ${report.usage.unusedByVault.join(', ') || '(none)'}\n`,
    );
    if (report.failed.length > 0) {
      process.stdout.write(`files not re-wrapped: ${report.failed.join(', ')}\n`);
      process.exitCode = 2;
    }
  } finally {
    await app.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    error instanceof ConfigError
      ? `config error: ${error.message}\n`
      : `vault rotation failed: ${(error as Error).message}\n`,
  );
  process.exit(1);
});
