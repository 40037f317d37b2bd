import { Api, ApiError } from './api';
import { pastedKey } from './api-key';
import { Page, PageContext } from './context';
import { errorBox, field, h, loading } from './dom';
import { devicesPage } from './pages/devices';
import { fraudPage } from './pages/fraud';
import { kiosksPage } from './pages/kiosks';
import { ledgersPage } from './pages/ledgers';
import { timesheetsPage } from './pages/timesheets';
import { vaultPage } from './pages/vault';
import { wifiPage } from './pages/wifi';
import { workerPage, workforcePage } from './pages/workforce';
import { Role, WhoAmI } from './types';

/** The key lives in this tab's session storage only: never in a URL, a cookie or a log. */
const KEY_STORAGE = 'mdai.console.apiKey';

const PAGES: Page[] = [
  kiosksPage,
  wifiPage,
  workforcePage,
  devicesPage,
  fraudPage,
  ledgersPage,
  timesheetsPage,
  vaultPage,
];
/** Pages reached by links, not listed in the navigation. */
const HIDDEN_PAGES: Page[] = [workerPage];

const root = document.getElementById('app') as HTMLElement;
let leaving: Array<() => void> = [];

function leave(): void {
  for (const dispose of leaving) dispose();
  leaving = [];
}

function signInView(problem?: unknown): void {
  leave();
  document.title = 'Sign in · MDAI console';
  const input = h('input', {
    type: 'password',
    name: 'apiKey',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
  });
  const status = h('div', { class: 'status' }, problem ? errorBox(problem) : null);
  const form = h(
    'form',
    {
      class: 'card signin',
      onsubmit: (event: Event) => {
        event.preventDefault();
        void signIn(input.value, status);
      },
    },
    h('h1', {}, 'MDAI operator console'),
    h(
      'p',
      {},
      'Paste an API key. It stays in this browser tab only and is sent as the x-api-key header.',
    ),
    field('API key', input),
    h('button', { type: 'submit' }, 'Sign in'),
    status,
  );
  root.replaceChildren(h('main', { id: 'main' }, form));
  input.focus();
}

async function signIn(pasted: string, status: HTMLElement): Promise<void> {
  if (!pasted.trim()) return;
  // checked before any request: fetch throws on a header it cannot send, which read as "the
  // server could not be reached"
  const read = pastedKey(pasted);
  if ('problem' in read) {
    status.replaceChildren(errorBox(new ApiError(0, 'invalid_key', read.problem)));
    return;
  }
  const { key } = read;
  status.replaceChildren(loading('Checking the key'));
  try {
    const who = (await new Api(key).get<WhoAmI>('/api/whoami')).data;
    sessionStorage.setItem(KEY_STORAGE, key);
    shell(new Api(key), who);
  } catch (error) {
    status.replaceChildren(errorBox(error));
  }
}

function signOut(): void {
  sessionStorage.removeItem(KEY_STORAGE);
  history.replaceState(null, '', '#/');
  signInView();
}

function pagesFor(roles: Role[]): Page[] {
  return PAGES.filter((page) => page.roles.some((role) => roles.includes(role)));
}

function shell(api: Api, who: WhoAmI): void {
  const main = h('main', { id: 'main', tabindex: '-1' });
  const nav = h('nav', { class: 'nav', 'aria-label': 'Console pages' });
  const visible = pagesFor(who.roles);
  root.replaceChildren(
    // the router owns the hash: following `#main` would route to a page that does not exist,
    // so the link moves the focus itself (the href stays for what a link must have)
    h(
      'a',
      {
        class: 'skip',
        href: '#main',
        onclick: (e: Event) => {
          e.preventDefault();
          main.focus();
        },
      },
      'Skip to content',
    ),
    h(
      'header',
      { class: 'top' },
      h('p', { class: 'brand' }, 'MDAI console'),
      h(
        'p',
        { class: 'who' },
        'Signed in as ',
        h('strong', { 'data-role': who.roles.join(',') }, who.roles.join(', ')),
        ' (key ',
        h('code', {}, who.keyId),
        ')',
      ),
      h('button', { type: 'button', class: 'secondary', onclick: signOut }, 'Sign out'),
    ),
    h('div', { class: 'layout' }, nav, main),
  );
  const route = (): void => {
    leave();
    const [path, search = ''] = location.hash.replace(/^#\/?/, '').split('?');
    const [id, ...params] = path.split('/').filter(Boolean).map(decodeURIComponent);
    const page =
      [...visible, ...HIDDEN_PAGES].find((p) => p.id === id) ?? (id ? undefined : visible[0]);
    nav.replaceChildren(
      h(
        'ul',
        {},
        visible.map((p) =>
          h(
            'li',
            {},
            h('a', { href: `#/${p.id}`, 'aria-current': p === page ? 'page' : false }, p.title),
          ),
        ),
      ),
    );
    if (!page || !page.roles.some((role) => who.roles.includes(role))) {
      document.title = 'MDAI console';
      main.replaceChildren(
        h('h1', {}, visible.length ? 'Not available' : 'No console pages for this key'),
        h(
          'p',
          {},
          visible.length
            ? 'This page does not exist or is not open to your role.'
            : `A ${who.roles.join(', ')} key has no console pages; sign in with an admin, provisioner or auditor key.`,
        ),
      );
      return;
    }
    document.title = `${page.title} · MDAI console`;
    const ctx: PageContext = {
      api,
      roles: who.roles,
      params,
      query: new URLSearchParams(search),
      main,
      navigate: (hash) => {
        location.hash = hash;
      },
      onLeave: (dispose) => leaving.push(dispose),
      can: (...roles) => roles.some((role) => who.roles.includes(role)),
    };
    main.replaceChildren();
    Promise.resolve(page.render(ctx)).catch((error: unknown) => main.append(errorBox(error)));
  };
  window.onhashchange = route;
  route();
}

async function boot(): Promise<void> {
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (!key) return signInView();
  root.replaceChildren(loading('Signing in'));
  try {
    const who = (await new Api(key).get<WhoAmI>('/api/whoami')).data;
    shell(new Api(key), who);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) sessionStorage.removeItem(KEY_STORAGE);
    signInView(error);
  }
}

void boot();
