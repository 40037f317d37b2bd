import { getConfigToken } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { appConfig, ConfigError } from '@app/common';
import { offlineTokenConfig, trustConfig } from '@app/device-trust';
import { offlineSyncConfig } from '@app/offline-sync';
import { timesheetsConfig } from '@app/timesheets';
import { vaultConfig } from '@app/vault';
import { workforceConfig } from '@app/workforce';
import { configModule, loadConfig } from './app-config';

describe('configModule', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'mdai-config-module-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('should serve each namespace under its own registerAs token', async () => {
    const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir });
    const moduleRef = await Test.createTestingModule({ imports: [configModule(config)] }).compile();
    const namespaces = Object.keys(config).filter((key) => key !== 'notices');
    expect(namespaces).toHaveLength(17);
    for (const [namespace, settings] of [
      [appConfig, config.app],
      [vaultConfig, config.vault],
      [offlineTokenConfig, config.offlineTokens],
      [offlineSyncConfig, config.offlineSync],
      [workforceConfig, config.workforce],
      [trustConfig, config.trust],
      [timesheetsConfig, config.timesheets],
    ] as const) {
      expect(moduleRef.get(namespace.KEY)).toBe(settings);
    }
    // every namespace, under the token @nestjs/config's registerAs(name, …).KEY would be
    for (const name of namespaces) {
      expect(moduleRef.get(getConfigToken(name))).toBe(config[name as keyof typeof config]);
    }
    await moduleRef.close();
  });

  it('should give the variables that moved namespace their defaults and their errors', () => {
    const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir });
    expect(config.offlineTokens).toMatchObject({
      tokenTtlSeconds: 30 * 86_400,
      tokenGraceSeconds: 14 * 86_400,
      maxClockSkewSeconds: 300,
    });
    expect(config.offlineSync).toEqual({
      maxOfflineAgeSeconds: 7 * 24 * 3600,
      maxPacketsPerBatch: 500,
      verifyWorkers: availableParallelism() > 1 ? availableParallelism() : 0,
      verifyQueue: 64,
      appendThread: availableParallelism() > 1,
    });
    expect(config.workforce).toEqual({
      enrollmentCodeTtlSeconds: 7 * 24 * 3600,
      inheritanceDays: 30,
      defaultTimeZone: 'Asia/Kolkata',
      phoneDefaultCountry: 'IN',
    });
    expect(
      loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir, PHONE_DEFAULT_COUNTRY: 'GB' }).workforce
        .phoneDefaultCountry,
    ).toBe('GB');
    for (const [variable, value] of [
      ['SYNC_MAX_CLOCK_SKEW_SECONDS', '3601'],
      ['SYNC_MAX_PACKETS', '0'],
      ['ENROLLMENT_CODE_TTL_HOURS', '0'],
      ['TRUST_INHERITANCE_DAYS', '366'],
      ['SITE_DEFAULT_TIME_ZONE', 'Mars/Olympus'],
      ['PHONE_DEFAULT_COUNTRY', 'XX'],
      ['PHONE_DEFAULT_COUNTRY', 'in'],
      ['PHONE_DEFAULT_COUNTRY', 'IND'],
      ['ONBOARDING_SIGNATURE_MAX_SKEW_SECONDS', '5'],
      ['SYNC_APPEND_THREAD', 'yes'],
    ]) {
      const run = () => loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir, [variable]: value });
      expect(run).toThrow(ConfigError);
      expect(run).toThrow(new RegExp(`^${variable}: `));
    }
  });
});

describe('libs/common', () => {
  it('should import no other library (it knows no domain)', () => {
    const root = resolve(__dirname, '../../../../libs/common/src');
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name.endsWith('.ts')) files.push(path);
      }
    };
    walk(root);
    expect(files.length).toBeGreaterThan(20);
    const offending = files.filter((file) => /from '@app\//.test(readFileSync(file, 'utf8')));
    expect(offending).toEqual([]);
  });
});
