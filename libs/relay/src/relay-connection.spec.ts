import { PlatformIdSet } from './relay-connection';

describe('PlatformIdSet', () => {
  it('should cover a set only when it holds every id of it', () => {
    const phone = new PlatformIdSet();
    const kiosk = new PlatformIdSet();
    expect(phone.covers(kiosk)).toBe(true);
    kiosk.add('PLT_one');
    expect(phone.covers(kiosk)).toBe(false);
    phone.add('PLT_one');
    phone.add('PLT_two');
    expect(phone.covers(kiosk)).toBe(true);
    expect(kiosk.covers(phone)).toBe(false);
    expect(kiosk.covers(kiosk)).toBe(true);
  });
});
