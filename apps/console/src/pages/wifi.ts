import { actionForm, facts } from '../components';
import { Page, PageContext } from '../context';
import { badge, errorBox, field, formValue, h, panel, section, when } from '../dom';
import { ChallengeState, GeneratedChallenge, Kiosk } from '../types';

const POLL_MS = 2000;

export const wifiPage: Page = {
  id: 'wifi',
  title: 'Wi-Fi provisioning',
  roles: ['admin'],
  render,
};

function render(ctx: PageContext): void {
  const kioskList = h('datalist', { id: 'kiosk-ids' });
  const kioskInput = h('input', {
    name: 'device_id',
    list: 'kiosk-ids',
    required: true,
    maxlength: 128,
    autocomplete: 'off',
  });
  kioskInput.value = ctx.query.get('device') ?? '';
  const kiosks = h('div', { class: 'panel' });
  void panel(
    kiosks,
    async () => (await ctx.api.get<Kiosk[]>('/api/kiosks', { limit: 500 })).data,
    (list) => {
      kioskList.replaceChildren(
        ...list
          .filter((k) => k.status === 'active')
          .map((k) => h('option', { value: k.device_id })),
      );
      return h(
        'p',
        { class: 'hint' },
        `${list.filter((k) => k.status === 'active').length} active kiosks to choose from.`,
      );
    },
  );
  const result = h('div', { class: 'panel', 'aria-live': 'polite' });
  const form = actionForm(
    {
      submit: 'Generate challenge QR',
      run: async (f) => {
        const password = f.elements.namedItem('wifi_password') as HTMLInputElement;
        const issued = (
          await ctx.api.post<GeneratedChallenge>('/api/generate-challenge', {
            device_id: formValue(f, 'device_id'),
            wifi_ssid: formValue(f, 'wifi_ssid'),
            wifi_password: password.value,
          })
        ).data;
        password.value = '';
        await showChallenge(ctx, result, issued);
        return null;
      },
    },
    field('Kiosk', kioskInput, 'Start typing a device ID'),
    kioskList,
    field(
      'Wi-Fi network (SSID)',
      h('input', { name: 'wifi_ssid', required: true, maxlength: 32, autocomplete: 'off' }),
    ),
    field(
      'Wi-Fi password',
      h('input', {
        name: 'wifi_password',
        type: 'password',
        maxlength: 64,
        autocomplete: 'new-password',
      }),
      'Empty for an open network, else 8-63 printable ASCII characters, or a 64-hex-digit pre-shared key. Only the kiosk that scans the QR can receive it.',
    ),
  );
  ctx.main.append(
    h('h1', {}, 'Wi-Fi provisioning'),
    section('New challenge', kiosks, form),
    section('Challenge', result),
  );
}

async function showChallenge(
  ctx: PageContext,
  out: HTMLElement,
  issued: GeneratedChallenge,
): Promise<void> {
  const id = issued.qr_payload.bson_id;
  const blob = await ctx.api.blob(issued.qr_url);
  const url = URL.createObjectURL(blob);
  ctx.onLeave(() => URL.revokeObjectURL(url));
  const countdown = h('output', { class: 'countdown', 'data-testid': 'countdown' });
  const stateBox = h('p', { class: 'state' });
  const problem = h('div', {});
  const expiresAt = Date.parse(issued.expires_at);
  let final = false;
  const tick = (): void => {
    const left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
    const mm = Math.floor(left / 60);
    const ss = String(left % 60).padStart(2, '0');
    countdown.textContent = left > 0 ? `Expires in ${mm}:${ss}` : 'Expired';
  };
  const poll = async (): Promise<void> => {
    try {
      const state = (await ctx.api.get<ChallengeState>(`/api/challenges/${id}`)).data;
      stateBox.replaceChildren(
        'State: ',
        stateBadge(state),
        ` (${state.wrong_attempts} of ${state.max_attempts} wrong answers)`,
      );
      stateBox.dataset.state = state.state;
      problem.replaceChildren();
      if (state.state !== 'waiting') final = true;
      if (state.state === 'used') countdown.replaceChildren('Used at ', when(state.used_at));
    } catch (error) {
      problem.replaceChildren(errorBox(error));
    }
  };
  const timer = window.setInterval(() => {
    if (!final) tick();
  }, 1000);
  const poller = window.setInterval(() => {
    if (!final) void poll();
  }, POLL_MS);
  ctx.onLeave(() => {
    window.clearInterval(timer);
    window.clearInterval(poller);
  });
  tick();
  out.replaceChildren(
    h(
      'figure',
      { class: 'qr qr-large' },
      h('img', {
        src: url,
        alt: `Wi-Fi challenge QR code ${id}`,
        width: 420,
        height: 420,
        'data-challenge-id': id,
      }),
      h('figcaption', {}, 'Show this to the kiosk camera. It works once, for this kiosk only.'),
    ),
    facts([
      ['Challenge', h('code', {}, id)],
      ['Expires', when(issued.expires_at)],
    ]),
    countdown,
    stateBox,
    problem,
  );
  await poll();
}

function stateBadge(state: ChallengeState): HTMLElement {
  switch (state.state) {
    case 'waiting':
      return badge('waiting', 'info');
    case 'used':
      return badge('used', 'ok');
    case 'locked':
      return badge('locked', 'bad');
    case 'expired':
      return badge('expired', 'warn');
  }
}
