import { loadSites } from './components';
import { PageContext } from './context';
import { Child, h, link } from './dom';
import { Thekedar, WorkerDetail, WorkerDevice } from './types';

/**
 * Names for the ids the API's answers carry (a fraud event's worker, site and device, a
 * phone's user, a worker's sites and thekedar): each id is read once per page view from its
 * record (`GET /api/v5/workers/:id`, `/thekedars/:id`, `/devices/:id`; the sites all at once
 * from the site list), and shown by name with the id on hover (`title`) and in `data-id`. An
 * id whose record cannot be read (a role that may not, a record gone) shows as its last
 * characters.
 */
export type NameKind = 'worker' | 'thekedar' | 'site' | 'device';

export class NameBook {
  private readonly cache = new Map<string, Promise<string | undefined>>();
  /** Every site's name, from the site list (one read of its pages of 500, not one per site). */
  private sites?: Promise<Map<string, string>>;

  constructor(private readonly ctx: PageContext) {}

  /** Names already known (a list the page read anyway): no request for them. */
  know(kind: NameKind, id: string, name: string): void {
    this.cache.set(`${kind}:${id}`, Promise.resolve(name));
  }

  name(kind: NameKind, id: string): Promise<string | undefined> {
    const key = `${kind}:${id}`;
    let found = this.cache.get(key);
    if (!found) {
      found = this.read(kind, id).catch(() => undefined);
      this.cache.set(key, found);
    }
    return found;
  }

  private async read(kind: NameKind, id: string): Promise<string | undefined> {
    const path = encodeURIComponent(id);
    switch (kind) {
      case 'worker':
        return (await this.ctx.api.get<WorkerDetail>(`/api/v5/workers/${path}`)).data.name;
      case 'thekedar':
        return (await this.ctx.api.get<Thekedar>(`/api/v5/thekedars/${path}`)).data.name;
      case 'site':
        this.sites ??= loadSites(this.ctx).then(
          (list) => new Map(list.map((site) => [site.siteId, site.name])),
        );
        return (await this.sites).get(id);
      case 'device': {
        // a phone has no name of its own: its model and whose it is
        const device = (await this.ctx.api.get<WorkerDevice>(`/api/v5/devices/${path}`)).data;
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
