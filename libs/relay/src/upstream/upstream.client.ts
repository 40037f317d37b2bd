import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AxiosError, AxiosInstance } from 'axios';
import { deeperThan } from '../protocol/fields';
import { MAX_FRAME_DEPTH } from '../protocol/parse-frame';
import { upstreamConfig, UpstreamSettings } from './upstream.config';

/**
 * What became of one submission:
 * - `answered`: the upstream answered (any status; a 5xx is an answer too);
 * - `not_sent`: the request provably never reached the upstream (not configured, connection
 *   refused, name not resolved, no time left before the deadline);
 * - `unknown`: it may have reached the upstream (timed out, connection lost after sending), or
 *   it did and answered with a body no frame can carry (nested too deep), or a 2xx whose body
 *   says neither success nor failure (`invalid_answer`), so it is not sent again.
 *
 * Success is explicit: a 2xx whose body is a JSON object with `status: "success"` (what the
 * identity API, and scripts/upstream-stub.js, answer for a verified face). A 2xx with
 * `status: "failure"` is its verdict against the face; a 2xx with any other body (no `status`,
 * another value, not JSON, empty) verified nothing, and is never taken for a verified face.
 */
export type UpstreamOutcome =
  | {
      kind: 'answered';
      status: 'success' | 'failure';
      statusCode: number;
      data: unknown;
      latencyMs: number;
      attempts: number;
    }
  | {
      kind: 'not_sent';
      reason: 'not_configured' | 'unreachable' | 'no_time';
      message: string;
      latencyMs: number;
      attempts: number;
    }
  | {
      kind: 'unknown';
      reason:
        'timed_out' | 'connection_lost' | 'unusable_answer' | 'invalid_answer' | 'answer_too_large';
      message: string;
      latencyMs: number;
      attempts: number;
    };

const PATH = '/api/admin/hardware/next';
/** The largest answer body read (its `data` goes out inside frames); larger: answer_too_large. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;
/** The deepest answer body passed on: it goes out as `data` inside a frame (MAX_FRAME_DEPTH). */
const MAX_ANSWER_DEPTH = MAX_FRAME_DEPTH - 2;
/** The fielded kiosk waits this long for `backend_response` after sending its image. */
export const KIOSK_ACK_WAIT_MS = 120_000;
/** Room kept for delivering the answer before the kiosk's wait or the session ends. */
const DELIVERY_MARGIN_MS = 1_000;
/** Connection errors raised before any byte of the request was written. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);

/**
 * The upstream identity API, one submission per session. Every attempt carries the same
 * `Idempotency-Key` (the session's submission id). An attempt that may have reached the upstream
 * (timeout, connection lost) is never re-posted; retries (at most UPSTREAM_RETRIES) happen only
 * when the request provably did not arrive (connection refused, DNS) or the upstream asked for it
 * (503 with Retry-After). Nothing runs past the kiosk's 120 s acknowledgement wait or the session
 * deadline, so the answer is always delivered while someone still waits for it.
 * axios is loaded on the first submission (an install without an upstream never loads it:
 * startup time and idle memory).
 */
@Injectable()
export class UpstreamClient {
  private readonly logger = new Logger(UpstreamClient.name);
  private http?: AxiosInstance;

  constructor(@Inject(upstreamConfig.KEY) private readonly settings: UpstreamSettings) {}

  private async client(): Promise<AxiosInstance> {
    this.http ??= (await import('axios')).default.create();
    return this.http;
  }

  get configured(): boolean {
    return this.settings.url !== undefined;
  }

  async submit(
    submissionId: string,
    platformId: string,
    imageBase64: string,
    deadline: Date,
  ): Promise<UpstreamOutcome> {
    const started = Date.now();
    const latency = () => Date.now() - started;
    if (!this.settings.url) {
      return {
        kind: 'not_sent',
        reason: 'not_configured',
        message: 'The upstream identity API is not configured (UPSTREAM_URL)',
        latencyMs: 0,
        attempts: 0,
      };
    }
    const budgetEnd = Math.min(
      deadline.getTime() - DELIVERY_MARGIN_MS,
      started + KIOSK_ACK_WAIT_MS - DELIVERY_MARGIN_MS,
    );
    let attempts = 0;
    let last: UpstreamOutcome = {
      kind: 'not_sent',
      reason: 'no_time',
      message: 'No attempt fitted before the session deadline',
      latencyMs: 0,
      attempts: 0,
    };
    for (let attempt = 0; attempt <= this.settings.retries; attempt++) {
      const remaining = budgetEnd - Date.now();
      if (remaining < 200) break;
      attempts++;
      let waitMs: number | undefined;
      // the attempt's hard bound: axios' `timeout` is a socket idle timeout in Node, which an
      // answer trickling in a byte at a time resets forever; aborting closes the connection
      const deadlineHit = new AbortController();
      const attemptTimer = setTimeout(
        () => deadlineHit.abort(),
        Math.min(this.settings.timeoutMs, remaining),
      );
      try {
        const http = await this.client();
        const response = await http.post(
          `${this.settings.url}${PATH}`,
          { platform_id: platformId, image_base64: imageBase64 },
          {
            headers: {
              ...(this.settings.apiKey ? { 'x-api-key': this.settings.apiKey } : {}),
              'content-type': 'application/json',
              'idempotency-key': submissionId,
            },
            signal: deadlineHit.signal,
            maxContentLength: MAX_RESPONSE_BYTES,
            maxBodyLength: Infinity,
            maxRedirects: 0,
            validateStatus: () => true,
          },
        );
        const data: unknown = response.data;
        if (deeperThan(data, MAX_ANSWER_DEPTH)) {
          // it answered (the image arrived), but with a body no frame can carry
          this.logger.warn({ attempt, status: response.status }, 'Upstream answer nested too deep');
          return {
            kind: 'unknown',
            reason: 'unusable_answer',
            message: `The identity API's answer nests deeper than ${MAX_ANSWER_DEPTH} levels`,
            latencyMs: latency(),
            attempts,
          };
        }
        const bodyStatus = isJsonObject(data) ? data.status : undefined;
        const is2xx = response.status >= 200 && response.status < 300;
        if (is2xx && bodyStatus !== 'success' && bodyStatus !== 'failure') {
          // its answer verified nothing; it received the image, so it is not sent again
          // what an operator needs to see why, never a value (it may hold personal data)
          this.logger.warn(
            {
              attempt,
              status: response.status,
              contentType: String(response.headers['content-type'] ?? '').slice(0, 100),
              bodyType: bodyTypeOf(data),
              keys: isJsonObject(data) ? Object.keys(data).slice(0, 20).map(keyName) : undefined,
            },
            'Upstream 2xx answer says neither success nor failure',
          );
          return {
            kind: 'unknown',
            reason: 'invalid_answer',
            message: `The identity API answered ${response.status} without a JSON body whose status is "success" or "failure"`,
            latencyMs: latency(),
            attempts,
          };
        }
        last = {
          kind: 'answered',
          status: is2xx && bodyStatus === 'success' ? 'success' : 'failure',
          statusCode: response.status,
          data,
          latencyMs: latency(),
          attempts,
        };
        waitMs =
          response.status === 503 ? retryAfterMs(response.headers['retry-after']) : undefined;
        if (waitMs === undefined) return last;
        this.logger.warn({ attempt, waitMs }, 'Upstream 503 with Retry-After');
      } catch (error) {
        const code = networkCode(error);
        if (isTooLarge(error)) {
          // it answered (the image arrived), with more than any frame should carry
          this.logger.warn({ attempt }, 'Upstream answer over the size bound');
          return {
            kind: 'unknown',
            reason: 'answer_too_large',
            message: `The identity API's answer is larger than ${MAX_RESPONSE_BYTES} bytes`,
            latencyMs: latency(),
            attempts,
          };
        }
        if (!NOT_SENT_CODES.has(code)) {
          const timedOut =
            deadlineHit.signal.aborted || code === 'ECONNABORTED' || code === 'ETIMEDOUT';
          this.logger.warn({ attempt, code }, 'Upstream call may have arrived; not re-sent');
          return {
            kind: 'unknown',
            reason: timedOut ? 'timed_out' : 'connection_lost',
            message: timedOut
              ? 'The identity API did not answer in time'
              : 'The connection to the identity API was lost',
            latencyMs: latency(),
            attempts,
          };
        }
        this.logger.warn({ attempt, code }, 'Upstream not reachable');
        last = {
          kind: 'not_sent',
          reason: 'unreachable',
          message: 'The identity API could not be reached',
          latencyMs: latency(),
          attempts,
        };
        waitMs = Math.min(2000, 200 * 2 ** attempt);
      } finally {
        clearTimeout(attemptTimer);
      }
      if (attempt === this.settings.retries || Date.now() + waitMs > budgetEnd - 500) break;
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
    return { ...last, latencyMs: latency(), attempts };
  }
}

/** What the answer's body was, by kind only (a string body's text is not logged). */
function bodyTypeOf(data: unknown): string {
  if (data === null) return 'null';
  if (Array.isArray(data)) return 'array';
  return typeof data;
}

/** A member name for the log: bounded, control characters out. */
function keyName(key: string): string {
  // eslint-disable-next-line no-control-regex
  return key.slice(0, 40).replace(/[\u0000-\u001f\u007f]/g, '?');
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function networkCode(error: unknown): string {
  const axios = error as AxiosError & { cause?: { code?: string } };
  return axios.code ?? axios.cause?.code ?? '';
}

/**
 * Retry-After as RFC 9110 writes it: delta-seconds (digits only) or an HTTP-date in one of its
 * three forms, read exactly (Date.parse would take `Mon 7` or a bare year for a date):
 * IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, the obsolete RFC 850 `Sunday, 06-Nov-94
 * 08:49:37 GMT` and asctime `Sun Nov  6 08:49:37 1994` (read as GMT, RFC 9110 5.6.7).
 * Undefined when absent or anything else (`-5`, `1.5`, a date that does not exist): no retry is
 * made on a value that does not say when.
 */
export function retryAfterMs(header: unknown, now = Date.now()): number | undefined {
  if (typeof header !== 'string') return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = httpDate(value, now);
  return at === undefined ? undefined : Math.max(0, at - now);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

/** An HTTP-date (RFC 9110 5.6.7) as milliseconds since the epoch; undefined if it is not one. */
export function httpDate(value: string, now = Date.now()): number | undefined {
  let day: string, month: string, year: number, hh: string, mm: string, ss: string;
  let m = IMF_FIXDATE.exec(value);
  if (m) {
    [, day, month, , hh, mm, ss] = m;
    year = Number(m[3]);
  } else if ((m = RFC850_DATE.exec(value))) {
    [, day, month, , hh, mm, ss] = m;
    // a two-digit year more than 50 years ahead is the most recent past year with those digits
    const thisYear = new Date(now).getUTCFullYear();
    year = Math.floor(thisYear / 100) * 100 + Number(m[3]);
    if (year > thisYear + 50) year -= 100;
  } else if ((m = ASCTIME_DATE.exec(value))) {
    [, month, day, hh, mm, ss] = m;
    year = Number(m[6]);
  } else {
    return undefined;
  }
  const parts = [Number(day), Number(hh), Number(mm), Number(ss)];
  const monthIndex = MONTHS.indexOf(month);
  const at = Date.UTC(year, monthIndex, parts[0], parts[1], parts[2], parts[3]);
  const back = new Date(at);
  // no rollover: 31 Feb or 25:00:00 is not a date
  const exists =
    back.getUTCFullYear() === year &&
    back.getUTCMonth() === monthIndex &&
    back.getUTCDate() === parts[0] &&
    back.getUTCHours() === parts[1] &&
    back.getUTCMinutes() === parts[2] &&
    back.getUTCSeconds() === parts[3];
  return exists ? at : undefined;
}

/** axios refused the answer body for being over maxContentLength. */
function isTooLarge(error: unknown): boolean {
  const axios = error as AxiosError;
  return axios?.code === 'ERR_BAD_RESPONSE' && /maxContentLength/.test(String(axios.message));
}
