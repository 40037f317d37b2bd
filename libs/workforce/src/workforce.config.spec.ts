import { ConfigError } from '@app/common';
import { workforceConfig } from './workforce.config';

/** SITE_DEFAULT_TIME_ZONE is held to what a site's own zone is: it becomes one. */
describe('workforceConfig SITE_DEFAULT_TIME_ZONE', () => {
  const read = (zone: string) => workforceConfig.read({ SITE_DEFAULT_TIME_ZONE: zone });

  it('should spell the default as a site zone is stored', () => {
    expect(read('utc').defaultTimeZone).toBe('UTC');
    expect(read('asia/kolkata').defaultTimeZone).toBe('Asia/Kolkata');
    expect(workforceConfig.read({}).defaultTimeZone).toBe('Asia/Kolkata');
  });

  it('should refuse a legacy or fixed-offset zone, naming the variable', () => {
    for (const zone of ['EST5EDT', 'EST', 'Etc/GMT+5']) {
      expect(() => read(zone)).toThrow(ConfigError);
      expect(() => read(zone)).toThrow(/SITE_DEFAULT_TIME_ZONE/);
    }
  });
});
