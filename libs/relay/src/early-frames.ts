import type { RawData, WebSocket } from 'ws';
import { rawSize } from './relay-intake';

/**
 * The frames a socket sends before it is in its session, kept in order for the session to
 * handle: at most `maxCount` of them, `maxBytes` in all. Its WebSocket pings count on the same
 * bounds and are kept apart, for the session to answer (`autoPong` is off: a ping is answered
 * within the socket's frame rate). One more refuses the socket (`overflow`) and every frame is
 * forgotten; so is every frame of a socket refused otherwise.
 */
export class EarlyFrames {
  private frames: RawData[] = [];
  private pings: Buffer[] = [];
  private count = 0;
  private bytes = 0;
  private readonly onMessage = (data: RawData) => {
    if (this.admit(rawSize(data))) this.frames.push(data);
  };
  private readonly onPing = (data: Buffer) => {
    if (this.admit(data.length)) this.pings.push(data);
  };

  constructor(
    private readonly ws: Pick<WebSocket, 'on' | 'off'>,
    private readonly maxCount: number,
    private readonly maxBytes: number,
    private readonly overflow: () => void,
  ) {
    ws.on('message', this.onMessage);
    ws.on('ping', this.onPing);
  }

  /** Stops keeping pings and hands over those kept so far (the session answers the next ones). */
  takePings(): Buffer[] {
    this.ws.off('ping', this.onPing);
    const pings = this.pings;
    this.pings = [];
    return pings;
  }

  /** Stops listening and hands over the frames kept so far. */
  take(): RawData[] {
    this.ws.off('message', this.onMessage);
    this.takePings();
    const frames = this.frames;
    this.frames = [];
    return frames;
  }

  private admit(size: number): boolean {
    this.count += 1;
    this.bytes += size;
    if (this.count <= this.maxCount && this.bytes <= this.maxBytes) return true;
    this.take();
    this.overflow();
    return false;
  }
}
