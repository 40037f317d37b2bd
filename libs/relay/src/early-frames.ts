import type { RawData, WebSocket } from 'ws';
import { rawSize } from './relay-intake';

/**
 * The frames a socket sends before it is in its session, kept in order for the session to
 * handle: at most `maxCount` of them, `maxBytes` in all. One more refuses the socket
 * (`overflow`) and every frame is forgotten; so is every frame of a socket refused otherwise.
 */
export class EarlyFrames {
  private frames: RawData[] = [];
  private bytes = 0;
  private readonly listener = (data: RawData) => this.add(data);

  constructor(
    private readonly ws: Pick<WebSocket, 'on' | 'off'>,
    private readonly maxCount: number,
    private readonly maxBytes: number,
    private readonly overflow: () => void,
  ) {
    ws.on('message', this.listener);
  }

  /** Stops listening and hands over the frames kept so far. */
  take(): RawData[] {
    this.ws.off('message', this.listener);
    const frames = this.frames;
    this.frames = [];
    return frames;
  }

  private add(data: RawData): void {
    this.bytes += rawSize(data);
    if (this.frames.length < this.maxCount && this.bytes <= this.maxBytes) {
      this.frames.push(data);
      return;
    }
    this.take();
    this.overflow();
  }
}
