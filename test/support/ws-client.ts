import WebSocket from 'ws';

export type Frame = { type: string; [key: string]: any };

/**
 * How long a wait for a frame or a close lasts unless told: a bound on a hang, not on speed
 * (a frame behind a store write on a loaded 2-core machine, MongoDB's test server included,
 * can take seconds).
 */
const WAIT_MS = 15_000;

/** A real `ws` client that queues every frame it receives, for step-by-step assertions. */
export class TestSocket {
  readonly frames: Frame[] = [];
  readonly raw: string[] = [];
  private waiters: Array<() => void> = [];
  closeCode?: number;
  private closed: Promise<number>;

  private constructor(
    readonly ws: WebSocket,
    onFrame?: (frame: Frame, socket: TestSocket) => void,
  ) {
    ws.on('message', (data, isBinary) => {
      const text = (data as Buffer).toString();
      this.raw.push(text);
      // the server sends text frames only: a binary one is never taken for the frame it holds
      const frame = isBinary ? { type: 'binary_frame', text } : (JSON.parse(text) as Frame);
      this.frames.push(frame);
      onFrame?.(frame, this);
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code) => {
        this.closeCode = code;
        this.wake();
        resolve(code);
      }),
    );
    ws.on('error', () => undefined);
  }

  /**
   * `autoPong: false` answers neither the server's ping frames nor WebSocket pings (a dead client).
   * `onFrame` sees every frame the moment it arrives (a frame may come with the upgrade's answer,
   * before `open` resolves): a client that answers a frame at once.
   */
  static open(
    url: string,
    options: { autoPong?: boolean; onFrame?: (frame: Frame, socket: TestSocket) => void } = {},
  ): Promise<TestSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        maxPayload: 64 * 1024 * 1024,
        autoPong: options.autoPong !== false,
      });
      const socket = new TestSocket(ws, options.onFrame);
      if (options.autoPong !== false) {
        ws.on('message', (data) => {
          if (JSON.parse((data as Buffer).toString()).type === 'ping')
            ws.send(JSON.stringify({ type: 'pong' }));
        });
      }
      ws.once('open', () => resolve(socket));
      ws.once('error', reject);
    });
  }

  send(frame: unknown): void {
    this.ws.send(
      typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame),
    );
  }

  /** The next frame of `type` not yet taken (frames of other types stay queued). */
  async next(type: string, timeoutMs = WAIT_MS): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex((f) => f.type === type);
      if (index >= 0) return this.frames.splice(index, 1)[0];
      if (this.closeCode !== undefined)
        throw new Error(
          `socket closed (${this.closeCode}) before a ${type} frame; got ${JSON.stringify(this.frames)}`,
        );
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no ${type} frame in ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next error frame, checked for its code. */
  async error(code: string, timeoutMs = WAIT_MS): Promise<Frame> {
    const frame = await this.next('error', timeoutMs);
    if (frame.code !== code)
      throw new Error(`expected error ${code}, got ${JSON.stringify(frame)}`);
    return frame;
  }

  waitClose(timeoutMs = WAIT_MS): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<number>((_, reject) => {
      timer = setTimeout(() => reject(new Error('socket did not close')), timeoutMs);
    });
    return Promise.race([this.closed, timeout]).finally(() => clearTimeout(timer));
  }

  close(): void {
    this.ws.close();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
