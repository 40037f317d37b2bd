import { LinkKeyWaits } from './link-key-waits';

describe('LinkKeyWaits', () => {
  it('should wait for a link from the first time it is met until the wait is over, then refuse it', () => {
    const waits = new LinkKeyWaits(1000);
    expect(waits.wait('s', 5, 10_000)).toEqual({ waits: true, first: true });
    expect(waits.wait('s', 5, 10_999)).toEqual({ waits: true, first: false });
    expect(waits.wait('s', 5, 11_000)).toEqual({ waits: false, first: false });
    expect(waits.wait('s', 5, 50_000)).toEqual({ waits: false, first: false });
  });

  it('should start the wait again for another seq of the site only, and keep sites apart', () => {
    const waits = new LinkKeyWaits(1000);
    waits.wait('s', 5, 0);
    expect(waits.wait('t', 5, 2000)).toEqual({ waits: true, first: true });
    // the same seq (its link rewritten meanwhile, or not): the wait goes on from its start
    expect(waits.wait('s', 5, 2000)).toEqual({ waits: false, first: false });
    expect(waits.wait('s', 6, 5000)).toEqual({ waits: true, first: true });
    expect(waits.wait('s', 6, 6000)).toEqual({ waits: false, first: false });
  });

  it('should end the entry once a read goes past its seq', () => {
    const waits = new LinkKeyWaits(1000);
    waits.wait('s', 5, 0);
    waits.passed('s', 4);
    expect(waits.size).toBe(1);
    waits.passed('s', 5);
    expect(waits.size).toBe(0);
  });
});
