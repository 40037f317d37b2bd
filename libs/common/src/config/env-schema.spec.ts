import { IsInt, IsOptional, IsString, Max, Min } from '../validation/validators';
import { checkEnv, validateEnv } from './env-schema';

class PortEnv {
  @IsInt() @Min(1) @Max(65535) PORT?: number;
  @IsOptional() @IsString() HOST?: string;
  /** a field with no decorator is still one of the schema's variables */
  NOTE?: string;
}

describe('checkEnv', () => {
  const env = {
    PORT: '8080',
    HOST: 'example.test',
    NOTE: 'kept as written',
    npm_package_name: 'mdai-backend',
    PATH: '/usr/bin',
    EMPTY: '',
  };

  it("should convert and check only the schema's variables, and hand back no others", () => {
    // before: every variable of the environment was converted onto the schema's instance (~70
    // under `npm run`, for each of the 18 schemas at every boot) and never read
    const { values, problems } = checkEnv(PortEnv, env);
    expect(problems).toEqual([]);
    expect({ ...values }).toEqual({ PORT: 8080, HOST: 'example.test', NOTE: 'kept as written' });
    expect(values).toBeInstanceOf(PortEnv);
  });

  it('should leave out what it refuses and an empty variable, so their defaults apply', () => {
    const { values, problems } = checkEnv(PortEnv, { ...env, PORT: '70000', HOST: '' });
    expect(problems).toEqual([
      { variable: 'PORT', reason: expect.stringMatching(/not be greater than 65535/) },
    ]);
    expect({ ...values }).toEqual({ HOST: undefined, NOTE: 'kept as written' });
    expect(() => validateEnv(PortEnv, { PORT: 'abc' })).toThrow(/PORT/);
  });

  it('should hand the whole environment over to a schema whose instances have no fields', () => {
    // a compile that does not define class fields: the variables are not known, as before
    class Bare {}
    IsInt()(Bare.prototype, 'PORT');
    // (no design:type without a decorator of TypeScript's: PORT is checked as the string it is)
    const { values, problems } = checkEnv(Bare, env);
    expect(problems).toEqual([{ variable: 'PORT', reason: 'must be an integer number' }]);
    expect(values).toMatchObject({ PATH: '/usr/bin', npm_package_name: 'mdai-backend' });
  });
});
