import { Writable } from 'node:stream';
import { createRootLogger } from './logger.module';
import { registerSecrets } from './redact';

describe('root logger (redaction of what pino builds into msg)', () => {
  const secret = 'mdai_logger_spec_secret_value_2026';
  let written = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written += chunk.toString();
      done();
    },
  });
  const root = createRootLogger({ level: 'info', stream });
  const lastLine = () => {
    const lines = written.split('\n').filter(Boolean);
    return lines[lines.length - 1];
  };

  beforeAll(() => registerSecrets([secret], '[secret redacted]'));

  it('should redact the message of an err that is a plain object with a string message', () => {
    root.error({ err: { message: `upstream said ${secret} is wrong` } });
    const line = lastLine();
    expect(line).not.toContain(secret);
    expect(JSON.parse(line).msg).toBe('upstream said [secret redacted] is wrong');
  });

  it('should redact format arguments (%s, %o, %j) pino formats into msg', () => {
    root.error('refused %s', secret);
    expect(JSON.parse(lastLine()).msg).toBe('refused [secret redacted]');
    root.error({ at: 'x' }, 'refused %s', `key=${secret}`);
    expect(JSON.parse(lastLine()).msg).toBe('refused key=[secret redacted]');
    root.error('refused %o', { note: secret });
    expect(lastLine()).not.toContain(secret);
    root.error('refused %j', { note: `a ${secret}` });
    expect(lastLine()).not.toContain(secret);
    expect(JSON.parse(lastLine()).msg).toContain('[secret redacted]');
  });
});
