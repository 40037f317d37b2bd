import { StreamableFile } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { Express, Response } from 'express';
import { replyJson } from './json-answer';

/**
 * Nest's express adapter, answering a handler's object through `replyJson` (the bytes and
 * headers of `res.json`, without express's generic steps: ~3% of a small GET's CPU went to the
 * charset parse and the `res.set`/`res.get` walks). Any other answer, and any case `replyJson`
 * does not take, goes through the adapter's own `reply` unchanged.
 */
export class JsonReplyExpressAdapter extends ExpressAdapter {
  /** express's ETag function for its default `etag: 'weak'`, as the app got it at creation */
  private readonly weakEtag: unknown;

  constructor() {
    super();
    const app = this.getInstance<Express>();
    this.weakEtag = app.get('etag') === 'weak' ? (app.get('etag fn') as unknown) : undefined;
  }

  override reply(response: unknown, body: unknown, statusCode?: number): unknown {
    if (
      body !== null &&
      typeof body === 'object' &&
      !(body instanceof StreamableFile) &&
      !(body instanceof Error)
    ) {
      const res = response as Response;
      if (statusCode) res.status(statusCode);
      // the adapter's warning branch needs a Content-Type already set: replyJson takes none
      if (replyJson(res, body, this.weakEtag)) return res;
    }
    return super.reply(response, body, statusCode);
  }
}
