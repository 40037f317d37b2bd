import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { EarlyFrames } from './early-frames';

describe('EarlyFrames', () => {
  function setup(maxCount: number, maxBytes: number) {
    const ws = new EventEmitter();
    const overflow = jest.fn();
    const sut = new EarlyFrames(ws as unknown as WebSocket, maxCount, maxBytes, overflow);
    return { ws, overflow, sut };
  }

  it('should keep the frames before acceptance in order and stop listening when taken', () => {
    const { ws, overflow, sut } = setup(3, 100);
    ws.emit('message', Buffer.from('a'));
    ws.emit('message', Buffer.from('b'));
    expect(sut.take().map(String)).toEqual(['a', 'b']);
    expect(ws.listenerCount('message')).toBe(0);
    expect(overflow).not.toHaveBeenCalled();
  });

  it('should forget every frame and report an overflow at one frame over the count', () => {
    const { ws, overflow, sut } = setup(2, 100);
    for (const text of ['a', 'b', 'c']) ws.emit('message', Buffer.from(text));
    expect(overflow).toHaveBeenCalledTimes(1);
    expect(ws.listenerCount('message')).toBe(0);
    expect(sut.take()).toEqual([]);
  });

  it('should report an overflow past the byte bound', () => {
    const { ws, overflow, sut } = setup(40, 1024);
    ws.emit('message', Buffer.alloc(1000));
    expect(overflow).not.toHaveBeenCalled();
    ws.emit('message', Buffer.alloc(100));
    expect(overflow).toHaveBeenCalledTimes(1);
    expect(sut.take()).toEqual([]);
  });

  it('should keep pings apart, on the same bounds, until the session takes them', () => {
    const { ws, overflow, sut } = setup(3, 100);
    ws.emit('ping', Buffer.from('p1'));
    ws.emit('message', Buffer.from('a'));
    expect(sut.takePings().map(String)).toEqual(['p1']);
    expect(ws.listenerCount('ping')).toBe(0);
    // the session answers the pings from here on; frames are still kept
    ws.emit('message', Buffer.from('b'));
    expect(sut.take().map(String)).toEqual(['a', 'b']);
    expect(overflow).not.toHaveBeenCalled();
  });

  it('should count pings on the frame bound and forget them on an overflow', () => {
    const { ws, overflow, sut } = setup(2, 100);
    ws.emit('ping', Buffer.from('p1'));
    ws.emit('ping', Buffer.from('p2'));
    ws.emit('message', Buffer.from('a'));
    expect(overflow).toHaveBeenCalledTimes(1);
    expect(ws.listenerCount('ping') + ws.listenerCount('message')).toBe(0);
    expect(sut.takePings()).toEqual([]);
    expect(sut.take()).toEqual([]);
  });
});
