import { Api, ApiError } from './api';
import { loadSites } from './components';
import { PageContext } from './context';
import { Child, h, link } from './dom';
import { Thekedar, WorkerDetail, WorkerDevice } from './types';

/**
 * Names for the ids the API's answers carry (a fraud event's worker, site and device, a
 * phone's user, a worker's sites and thekedar): each id is read once per console session from
 * its record (`GET /api/v5/workers/:id`, `/thekedars/:id`, `/devices/:id`; the sites all at
 * once from the site list), and shown by name with the id on hover (`title`) and in `data-id`.
 * One book per signed-in key (`NameBook.of`), so turning pages back and forth reads no name
 * twice; signing out or in with another key starts a new one. An id whose record cannot be read
 * (a role that may not, a record gone) shows as its last characters; a read that failed for
 * another reason (429 rate limit, network, 5xx) is not kept, the next render asks again. At most
 * `LOOKUPS` reads are in flight at once, so a page of rows does not spend the key's rate limit in
 * one burst.
 */
export type NameKind = 'worker' | 'thekedar' | 'site' | 'device';

/** Name reads in flight at once (a fraud page of 25 rows names up to ~50 ids). */
const LOOKUPS = 4;

/** One book per signed-in key: a new `Api` is made at each sign-in. */
const books = new WeakMap<Api, NameBook>();

export class NameBook {
  private readonly cache = new Map<string, Promise<string | undefined>>();
  /** Every site's name, from the site list (one read of its pages of 500, not one per site). */
  private sites?: Promise<Map<string, string>>;

  private running = 0;
  private readonly waiting: Array<() => void> = [];

  private constructor(private readonly ctx: Pick<PageContext, 'api'>) {}

  /** The session's book: the one of this key's `Api`. */
  static of(ctx: Pick<PageContext, 'api'>): NameBook {
    let book = books.get(ctx.api);
    if (!book) {
      book = new NameBook({ api: ctx.api });
      books.set(ctx.api, book);
    }
    return book;
  }

  /** Names already known (a list the page read anyway): no request for them. */
  know(kind: NameKind, id: string, name: string): void {
    this.cache.set(`${kind}:${id}`, Promise.resolve(name));
  }

  name(kind: NameKind, id: string): Promise<string | undefined> {
    const key = `${kind}:${id}`;
    let found = this.cache.get(key);
    if (!found) {
      found = this.read(kind, id).catch((error: unknown) => {
        // kept: the key may not read it, or it is gone; dropped: worth asking again later
        const lasting = error instanceof ApiError && (error.status === 403 || error.status === 404);
        if (!lasting && this.cache.get(key) === found) this.cache.delete(key);
        return undefined;
      });
      this.cache.set(key, found);
    }
    return found;
  }

  /** `read` with at most LOOKUPS requests in flight. */
  private async limited<T>(request: () => Promise<T>): Promise<T> {
    while (this.running >= LOOKUPS) await new Promise<void>((go) => this.waiting.push(go));
    this.running++;
    try {
      return await request();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private async read(kind: NameKind, id: string): Promise<string | undefined> {
    const path = encodeURIComponent(id);
    switch (kind) {
      case 'worker':
        return (await this.limited(() => this.ctx.api.get<WorkerDetail>(`/api/v5/workers/${path}`)))
          .data.name;
      case 'thekedar':
        return (await this.limited(() => this.ctx.api.get<Thekedar>(`/api/v5/thekedars/${path}`)))
          .data.name;
      case 'site': {
        const sites = (this.sites ??= loadSites(this.ctx).then(
          (list) => new Map(list.map((site) => [site.siteId, site.name])),
        ));
        // a failed list or a site made since it was read: the list is read again next time
        const found = await sites.catch((error: unknown) => {
          if (this.sites === sites) this.sites = undefined;
          throw error;
        });
        if (!found.has(id) && this.sites === sites) this.sites = undefined;
        return found.get(id);
      }
      case 'device': {
        // a phone has no name of its own: its model and whose it is
        const device = (
          await this.limited(() => this.ctx.api.get<WorkerDevice>(`/api/v5/devices/${path}`))
        ).data;
        const owner = await this.name(device.user.kind, device.user.id);
        return owner
          ? `${device.fingerprint.model} of ${owner}`
          : `${device.fingerprint.model} (${device.user.kind})`;
      }
    }
  }

  /**
   * The id by name, as a link when `href` is given: the id's last characters until the name is
   * read (the element is `aria-busy` meanwhile), the id in `title` and `data-id` throughout.
   */
  show(kind: NameKind, id: string, href?: string): HTMLElement {
    const fallback = `${kind} …${id.slice(-6)}`;
    const label = (text: Child): HTMLElement => (href ? link(href, text) : h('span', {}, text));
    const holder = h(
      'span',
      { class: 'named', 'data-kind': kind, 'data-id': id, title: `${kind} id ${id}` },
      label(fallback),
    );
    holder.setAttribute('aria-busy', 'true');
    void this.name(kind, id).then((name) => {
      holder.replaceChildren(label(name ?? fallback));
      holder.removeAttribute('aria-busy');
    });
    return holder;
  }
}
