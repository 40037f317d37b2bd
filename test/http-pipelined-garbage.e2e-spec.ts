import { rawExchange } from './support/raw-http';
import { http, startTestApp, TestApp } from './support/test-app';

/**
 * A whole request followed, in the same bytes, by something that is not HTTP (a pipelined next
 * request Node's parser refuses): the whole request is answered as itself, then the connection
 * closed. It was answered 400 malformed_request in its place (its route then failed to set its
 * headers on the answered response: an error line with a stack in the log).
 */
describe('A whole request followed by bytes that are not HTTP (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('should answer the whole request as itself, then close, with no error in the log', async () => {
    const answer = await rawExchange(
      t.baseUrl,
      'GET /health HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer.slice(answer.indexOf('\r\n\r\n') + 4)).toBe('{"status":"ok"}');
    expect(answer).toMatch(/\r\nConnection: close\r\n/i);
    // the server keeps serving
    expect((await http(t.baseUrl, 'GET', '/health')).status).toBe(200);
    expect(t.logs()).not.toContain('"level":50');
    expect(t.logs()).not.toContain('ERR_HTTP_HEADERS_SENT');
  });

  it('should take a whole POST once and answer it truly, not refuse what it did', async () => {
    const body = JSON.stringify({ name: 'Pipelined', geo: { lat: 28.6, lng: 77.2 }, radiusM: 150 });
    const answer = await rawExchange(
      t.baseUrl,
      `POST /api/v5/sites HTTP/1.1\r\nHost: x\r\nx-api-key: ${t.keys.admin}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
        `${body}GARBAGE\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 201 Created\r\n/);
    const { siteId } = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as {
      siteId: string;
    };
    const site = await http(t.baseUrl, 'GET', `/api/v5/sites/${siteId}`, { key: t.keys.admin });
    expect(site.status).toBe(200);
    expect(site.body).toMatchObject({ name: 'Pipelined' });
    expect(t.logs()).not.toContain('"level":50');
  });

  it('should not echo the query of an unknown route in its 404 (it may hold a token)', async () => {
    const res = await http(t.baseUrl, 'GET', '/nope/route?token=secret-token-7&api_key=k');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'not_found', message: 'Cannot GET /nope/route' });
    expect(JSON.stringify(res.body)).not.toContain('secret-token-7');
  });
});
