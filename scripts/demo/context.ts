/** What every demo flow gets: the server, the keys, and a way to print steps. */
export class DemoContext {
  private step = 0;

  constructor(
    readonly baseUrl: string,
    readonly keys: Record<'admin' | 'provisioner' | 'auditor' | 'mobile' | 'hardware', string>,
  ) {}

  get wsBase(): string {
    return this.baseUrl.replace(/^http/, 'ws');
  }

  title(text: string): void {
    process.stdout.write(`\n== ${text}\n`);
  }

  say(text: string): void {
    this.step += 1;
    process.stdout.write(`  ${String(this.step).padStart(2)}. ${text}\n`);
  }

  done(): void {
    process.stdout.write(`\ndemo finished: ${this.step} steps\n`);
  }

  async call(
    method: string,
    path: string,
    options: { body?: unknown; key?: string; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.key) headers['x-api-key'] = options.key;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      // keep text
    }
    return { status: response.status, body };
  }

  expect(condition: boolean, what: string): void {
    if (!condition) throw new Error(`expected ${what}`);
  }
}
