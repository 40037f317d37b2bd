import WebSocket from 'ws';
import { Frame } from './ws-client';

/** The fielded kiosk waits this long for `backend_response` after sending its image. */
export const KIOSK_ACK_WAIT_MS = 120_000;

/**
 * Plays the fielded legacy kiosk controller as it behaves in the field (issue 10):
 * - any `error` frame is fatal: it stops listening and closes its own socket;
 * - after `to_backend` it waits up to 120 s for `backend_response`, whatever its status_code;
 * - it never retries and never reconnects.
 * The camera is the only thing stubbed (a fixed JPEG).
 */
export class FieldedKiosk {
  readonly frames: Frame[] = [];
  fatal?: Frame;
  closeCode?: number;
  private listening = true;
  private waiters: Array<() => void> = [];
  private readonly closed: Promise<number>;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      if (!this.listening) return;
      const frame = JSON.parse((data as Buffer).toString()) as Frame;
      if (frame.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
      this.frames.push(frame);
      if (frame.type === 'error') {
        this.fatal = frame;
        this.listening = false;
        ws.close();
      }
      this.wake();
    });
    ws.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      ws.on('close', (code) => {
        this.closeCode ??= code;
        this.wake();
        resolve(code);
      }),
    );
  }

  static async connect(wsUrl: string, token: string): Promise<FieldedKiosk> {
    const ws = new WebSocket(`${wsUrl}/ws/hardware?token=${token}`);
    const kiosk = new FieldedKiosk(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await kiosk.waitFor('joined', 5000);
    return kiosk;
  }

  /** The platform id the app handed over (the session's alias). */
  async platformId(): Promise<string> {
    const frame = await this.waitFor('from_app', 5000);
    return (frame.data as { platform_id: string }).platform_id;
  }

  /** Sends the face and waits for the acknowledgement as the kiosk does: up to 120 s. */
  async submit(platformId: string, imageBase64: string): Promise<Frame> {
    this.ws.send(
      JSON.stringify({
        type: 'to_backend',
        data: { platform_id: platformId, image_base64: imageBase64 },
      }),
    );
    return this.waitFor('backend_response', KIOSK_ACK_WAIT_MS);
  }

  waitClose(): Promise<number> {
    return this.closed;
  }

  /**
   * The next frame of `type`. A fatal error or a closed socket ends the wait at once: the real
   * kiosk would sit out its 120 s and end in an error state, which is the failure under test.
   */
  async waitFor(type: string, timeoutMs: number): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex((f) => f.type === type);
      if (index >= 0) return this.frames.splice(index, 1)[0];
      if (this.fatal)
        throw new Error(`kiosk stuck: fatal error frame ${JSON.stringify(this.fatal)}`);
      if (this.closeCode !== undefined)
        throw new Error(`kiosk stuck: socket closed (${this.closeCode}) before ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`kiosk stuck: no ${type} in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
