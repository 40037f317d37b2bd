import WebSocket from 'ws';

/** A demo socket: prints nothing itself, queues frames, waits for a type. */
export class DemoSocket {
  private readonly frames: Array<Record<string, any>> = [];
  private wake?: () => void;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse((data as Buffer).toString()) as Record<string, any>;
      if (frame.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
      else this.frames.push(frame);
      this.wake?.();
    });
  }

  static open(url: string): Promise<DemoSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('open', () => resolve(new DemoSocket(ws)));
      ws.once('error', reject);
    });
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  async next(type: string, timeoutMs = 15_000): Promise<Record<string, any>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex((f) => f.type === type || f.type === 'error');
      if (index >= 0) {
        const frame = this.frames.splice(index, 1)[0];
        if (frame.type === 'error' && type !== 'error')
          throw new Error(`server error ${frame.code}: ${frame.message}`);
        return frame;
      }
      if (Date.now() > deadline) throw new Error(`no ${type} frame`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 200);
      });
    }
  }

  close(): void {
    this.ws.close();
  }
}
