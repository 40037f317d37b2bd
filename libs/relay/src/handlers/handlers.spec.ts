import { ConfigModule } from '@nestjs/config';
import { Test, TestingModule } from '@nestjs/testing';
import { generateKeyPairSync, sign, constants } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AuthModule,
  ClockModule,
  loadConfig,
  MetricsModule,
  Principal,
  RedisModule,
} from '@app/common';
import { KioskRegistryService, kioskAuthMessage } from '@app/kiosk-registry';
import { PersistenceModule, Store } from '@app/persistence';
import { SessionService } from '@app/session';
import { ConnectionView, PlatformIdSet } from '../relay-connection';
import { RelayModule } from '../relay.module';
import { RelayRole } from '../protocol/messages';
import { LegacyHandler } from './legacy.handler';
import { PairingHandler } from './pairing.handler';

const PLATFORM_ID = 'PLT_handlerUser001';

function view(
  role: RelayRole,
  sessionId: string,
  extra: Partial<ConnectionView> = {},
): ConnectionView {
  return {
    role,
    sessionId,
    expiresAt: new Date(Date.now() + 60_000),
    peerPresent: true,
    platformIds: new PlatformIdSet(),
    ...extra,
  };
}

/**
 * The protocol handlers, without a socket: the real RelayModule on a real SQLite file; each
 * frame's Reply is checked as a value.
 */
describe('protocol handlers', () => {
  let dataDir: string;
  let moduleRef: TestingModule;
  let pairing: PairingHandler;
  let legacy: LegacyHandler;
  let sessions: SessionService;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-handlers-'));
    const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir });
    moduleRef = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          load: [() => ({ ...config })],
        }),
        ClockModule.forRoot(),
        PersistenceModule.forRoot(config.database),
        RedisModule,
        AuthModule,
        MetricsModule,
        RelayModule,
      ],
    }).compile();
    moduleRef.useLogger(false);
    await moduleRef.init();
    pairing = moduleRef.get(PairingHandler);
    legacy = moduleRef.get(LegacyHandler);
    sessions = moduleRef.get(SessionService);
  });
  afterAll(async () => {
    await moduleRef.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('should relay to the peer, or refuse when the peer is not there', () => {
    const frame = { type: 'to_device', data: { a: 1 } } as const;
    expect(pairing.handle(view('mobile', 's1'), frame)).toEqual({
      frames: [],
      toPeer: [{ type: 'from_mobile', data: { a: 1 } }],
    });
    expect(pairing.handle(view('mobile', 's1', { peerPresent: false }), frame)).toEqual({
      frames: [
        { type: 'error', code: 'peer_not_connected', message: 'The device is not connected' },
      ],
    });
  });

  it('should pass what the hardware sends to the app as it is', () => {
    const data = { echo: 'PLT_ALIAS_abc' };
    expect(legacy.handle(view('hardware', 's1'), { type: 'to_app', data })).toEqual({
      frames: [],
      toPeer: [{ type: 'from_hardware', data }],
    });
  });

  it('should keep the legacy platform id once, refuse another and refuse a malformed one', async () => {
    const opened = await sessions.openLegacySession();
    const sessionId = JSON.parse(
      Buffer.from(opened.token.split('.')[1], 'base64url').toString(),
    ).jti;
    const app = view('app', sessionId);
    const first = await legacy.onToHardware(app, { platform_id: PLATFORM_ID });
    expect(first.toPeer).toEqual([{ type: 'from_app', data: { platform_id: PLATFORM_ID } }]);
    expect(app.platformAlias).toMatch(/^PLT_ALIAS_/);
    expect(app.platformIds.matcher.test(PLATFORM_ID.toUpperCase())).toBe(true);
    expect(
      (await legacy.onToHardware(app, { platform_id: 'PLT_anotherUser00' })).frames[0],
    ).toMatchObject({
      code: 'platform_id_already_set',
    });
    expect(
      (await legacy.onToHardware(view('app', sessionId), { platform_id: 'joined' })).frames[0],
    ).toMatchObject({
      code: 'invalid_message',
    });
  });

  it('should answer kiosk auth with a verdict, closing on refusal, joining on success', async () => {
    const opened = await sessions.openMobileSession('u', PLATFORM_ID);
    const sessionId = opened.session.id;
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const admin: Principal = { keyId: 'k', roles: ['provisioner'] } as unknown as Principal;
    await moduleRef
      .get(KioskRegistryService)
      .register(
        'TEE-HANDLER-1',
        publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        admin,
      );
    const signature = (nonce: string) =>
      sign('sha256', kioskAuthMessage(sessionId, nonce), {
        key: privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      }).toString('base64');
    const auth = (deviceId: string, sig: string) =>
      ({ type: 'auth', session_id: sessionId, device_id: deviceId, signature: sig }) as const;

    const unknown = await pairing.onAuth(
      view('device', sessionId, { nonce: 'n1' }),
      auth('TEE-NOPE', signature('n1')),
    );
    expect(unknown).toMatchObject({
      frames: [{ code: 'device_not_registered' }],
      close: { code: 4403 },
    });
    const wrong = await pairing.onAuth(
      view('device', sessionId, { nonce: 'n2' }),
      auth('TEE-HANDLER-1', signature('other')),
    );
    expect(wrong).toMatchObject({ frames: [{ code: 'invalid_signature' }], close: { code: 4401 } });
    const device = view('device', sessionId, { nonce: 'n3' });
    expect(await pairing.onAuth(device, auth('TEE-HANDLER-1', signature('n3')))).toEqual({
      frames: [],
      join: true,
    });
    expect(device.platformIds.matcher.test(PLATFORM_ID)).toBe(true);
    // one try: the nonce is gone
    expect(
      (await pairing.onAuth(device, auth('TEE-HANDLER-1', signature('n3')))).frames[0],
    ).toMatchObject({
      code: 'unknown_type',
    });
  });

  it('should let a store failure during kiosk auth through as a failure, never as a verdict', async () => {
    const opened = await sessions.openMobileSession('u', PLATFORM_ID);
    await moduleRef.get(Store).close(); // the last test: the store is gone
    await expect(
      pairing.onAuth(view('device', opened.session.id, { nonce: 'n' }), {
        type: 'auth',
        session_id: opened.session.id,
        device_id: 'TEE-HANDLER-1',
        signature: 'AAAA',
      }),
    ).rejects.toThrow();
  });
});
