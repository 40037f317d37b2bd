import { LinkKeyWaits } from './link-key-waits';

describe('LinkKeyWaits', () => {
  it('should wait for a link from the first time it is met until the wait is over, then refuse it', () => {
    const waits = new LinkKeyWaits(1000);
    expect(waits.wait('s', 5, 'h5', 10_000)).toEqual({ waits: true, first: true });
    expect(waits.wait('s', 5, 'h5', 10_999)).toEqual({ waits: true, first: false });
    expect(waits.wait('s', 5, 'h5', 11_000)).toEqual({ waits: false, first: false });
    expect(waits.wait('s', 5, 'h5', 50_000)).toEqual({ waits: false, first: false });
  });

  it('should start the wait again for another link of the site (another seq, or the same seq rewritten), and keep sites apart', () => {
    const waits = new LinkKeyWaits(1000);
    waits.wait('s', 5, 'h5', 0);
    expect(waits.wait('t', 5, 'h5', 2000)).toEqual({ waits: true, first: true });
    expect(waits.wait('s', 5, 'other', 2000)).toEqual({ waits: true, first: true });
    expect(waits.wait('s', 6, 'h6', 5000)).toEqual({ waits: true, first: true });
    expect(waits.wait('s', 6, 'h6', 6000)).toEqual({ waits: false, first: false });
  });
});
