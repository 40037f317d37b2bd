import { Controller, Get, HttpException, INestApplication, Logger, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import { Writable } from 'node:stream';
import { LoggingModule } from './logger.module';

@Controller()
class ProbeController {
  private readonly logger = new Logger('Probe');

  @Get('ok')
  ok(): { ok: true } {
    this.logger.log('inside the request');
    return { ok: true };
  }

  @Get('refused')
  refused(): never {
    throw new HttpException('no', 403);
  }

  @Get('broken')
  broken(): never {
    throw new Error('boom');
  }

  @Get('health')
  health(): { status: string } {
    return { status: 'ok' };
  }
}

describe('request log (LoggingModule)', () => {
  let app: INestApplication;
  let baseUrl: string;
  let written = '';
  const lines = () =>
    written
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  beforeAll(async () => {
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written += chunk.toString();
        callback();
      },
    });
    @Module({
      imports: [LoggingModule.forRoot({ level: 'info', stream })],
      controllers: [ProbeController],
    })
    class ProbeModule {}
    const moduleRef = await Test.createTestingModule({ imports: [ProbeModule] }).compile();
    app = moduleRef.createNestApplication({ bufferLogs: true });
    app.useLogger(app.get(PinoNestLogger));
    await app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });

  afterAll(() => app.close());

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${baseUrl}${path}`, { headers });
    await res.text();
    // the line is written when the response ends, after the client has the answer
    await new Promise((resolve) => setTimeout(resolve, 50));
  };

  it('should write one access line per request with correlation id, method, path, status and time', async () => {
    written = '';
    await get('/ok?token=secret1', { 'x-correlation-id': 'c-ok' });
    const access = lines().filter((l) => l.res);
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({
      level: 30,
      correlationId: expect.any(String),
      req: { method: 'GET', path: '/ok' },
      res: { statusCode: 200 },
      responseTime: expect.any(Number),
      msg: 'request completed',
    });
    expect((access[0].req as { id: string }).id).toBe(access[0].correlationId);
    expect(written).not.toContain('secret1');
  });

  it('should give lines logged during the request the request correlation id', async () => {
    written = '';
    await get('/ok');
    const inside = lines().find((l) => l.msg === 'inside the request');
    const access = lines().find((l) => l.res);
    expect(inside).toMatchObject({ context: 'Probe', correlationId: access?.correlationId });
  });

  it('should log a 4xx at warn and a 5xx at error with the error', async () => {
    written = '';
    await get('/refused');
    await get('/broken');
    const access = lines().filter((l) => l.res);
    expect(
      access.map((l) => [l.level, (l.res as { statusCode: number }).statusCode, l.msg]),
    ).toEqual([
      [40, 403, 'request completed'],
      [50, 500, 'request errored'],
    ]);
    expect(access[1].err).toMatchObject({ message: 'failed with status code 500' });
  });

  it('should not log probes of /health', async () => {
    written = '';
    await get('/health');
    expect(lines().filter((l) => l.res)).toHaveLength(0);
  });
});
