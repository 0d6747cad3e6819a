// Accounts in the page's bar: sign up, sign in, sign out (here or
// everywhere), and a password reset by mail (#reset=<token> links).
//
// The e-mail address never reaches the hub in clear: it is sealed here to
// the vault's public key (libsodium crypto_box_seal) and only the vault
// opens it. libsodium is loaded on first use, so the worksheet's own load
// does not wait for it. The session is an HttpOnly cookie the page never
// sees; /api/account/me says who is signed in.

type Answer = { status: number; body: Record<string, unknown> };

async function call(what: string, body?: Record<string, string>): Promise<Answer> {
  const res = await fetch(`/api/account/${what}`, {
    method: body ? 'POST' : 'GET',
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    credentials: 'same-origin',
  });
  let parsed: Record<string, unknown> = {};
  try {
    parsed = await res.json();
  } catch {
    parsed = { error: `the hub answered ${res.status}` };
  }
  return { status: res.status, body: parsed };
}

let vaultKey: Uint8Array | null = null;

// `email` sealed to the vault's key, in base64.
async function seal(email: string): Promise<string> {
  const { default: sodium } = await import('libsodium-wrappers');
  await sodium.ready;
  if (!vaultKey) {
    const k = await call('vault-key');
    if (k.status !== 200) throw new Error(String(k.body.error ?? 'accounts are unavailable'));
    vaultKey = sodium.from_base64(String(k.body.key), sodium.base64_variants.ORIGINAL);
  }
  const sealed = sodium.crypto_box_seal(email.trim(), vaultKey);
  return sodium.to_base64(sealed, sodium.base64_variants.ORIGINAL);
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

export class AccountBar {
  private readonly root: HTMLElement;
  private dialog: HTMLDialogElement | null = null;

  constructor(bar: HTMLElement) {
    this.root = el('span', { className: 'account' });
    bar.append(this.root);
    void this.refresh();
    this.takeResetLink();
    window.addEventListener('hashchange', () => this.takeResetLink());
  }

  // A mailed link (#reset=<token>): asks for the new password; the token
  // leaves the address bar (and the history) at once.
  private takeResetLink(): void {
    const reset = /^#reset=([0-9a-f]{64})$/.exec(location.hash)?.[1];
    if (!reset) return;
    history.replaceState(null, '', location.pathname + location.search);
    this.openReset(reset);
  }

  async refresh(): Promise<void> {
    let me: Answer;
    try {
      me = await call('me');
    } catch {
      return;
    }
    this.root.replaceChildren();
    if (me.body.signedIn) {
      const out = el('button', { className: 'sign-out', textContent: 'Sign out' });
      out.onclick = () => void this.signOut(false);
      const all = el('button', { className: 'sign-out-all', textContent: 'Sign out everywhere' });
      all.onclick = () => void this.signOut(true);
      this.root.append(el('span', { className: 'who', textContent: 'signed in' }), out, all);
    } else {
      const b = el('button', { className: 'sign-in', textContent: 'Sign in' });
      b.onclick = () => this.openSignIn();
      this.root.append(b);
    }
  }

  private async signOut(everywhere: boolean): Promise<void> {
    await call(everywhere ? 'signout-everywhere' : 'signout', {});
    await this.refresh();
  }

  private open(title: string, ...content: Node[]): { d: HTMLDialogElement; msg: HTMLElement } {
    this.dialog?.remove();
    const msg = el('p', { className: 'account-message' });
    const close = el('button', { type: 'button', className: 'close', textContent: 'Close' });
    const d = el('dialog', { className: 'account-dialog' }, el('h2', { textContent: title }),
      ...content, msg, close);
    close.onclick = () => d.close();
    document.body.append(d);
    d.showModal();
    this.dialog = d;
    return { d, msg };
  }

  openSignIn(): void {
    const email = el('input', { type: 'email', name: 'email', placeholder: 'e-mail address',
      autocomplete: 'username', required: true });
    const password = el('input', { type: 'password', name: 'password', placeholder: 'password',
      autocomplete: 'current-password' });
    const signIn = el('button', { type: 'submit', className: 'do-sign-in', textContent: 'Sign in' });
    const signUp = el('button', { type: 'button', className: 'do-sign-up',
      textContent: 'Create an account' });
    const forgot = el('button', { type: 'button', className: 'do-forgot',
      textContent: 'Forgot the password' });
    const form = el('form', {}, email, password, signIn, signUp, forgot);
    const { d, msg } = this.open('Sign in', form);
    const run = async (what: 'signin' | 'signup' | 'reset-request') => {
      msg.textContent = '…';
      msg.className = 'account-message';
      try {
        const body: Record<string, string> = { email: await seal(email.value) };
        if (what !== 'reset-request') body.password = password.value;
        const a = await call(what, body);
        const text = String(a.body.error ?? a.body.message ?? '');
        msg.textContent = text;
        msg.className = `account-message ${a.status === 200 ? 'ok' : 'bad'}`;
        if (a.status === 200 && what !== 'reset-request') {
          d.close();
          await this.refresh();
        }
      } catch (e) {
        msg.textContent = e instanceof Error ? e.message : String(e);
        msg.className = 'account-message bad';
      }
    };
    form.onsubmit = (e) => (e.preventDefault(), void run('signin'));
    signUp.onclick = () => void run('signup');
    forgot.onclick = () => void run('reset-request');
    email.focus();
  }

  openReset(token: string): void {
    const password = el('input', { type: 'password', name: 'new-password',
      placeholder: 'new password (8 characters or more)', autocomplete: 'new-password' });
    const go = el('button', { type: 'submit', className: 'do-reset', textContent: 'Set it' });
    const form = el('form', {}, password, go);
    const { d, msg } = this.open('A new password', form);
    form.onsubmit = async (e) => {
      e.preventDefault();
      const a = await call('reset', { token, password: password.value });
      msg.textContent = String(a.body.error ?? '');
      msg.className = `account-message ${a.status === 200 ? 'ok' : 'bad'}`;
      if (a.status === 200) {
        d.close();
        await this.refresh();
      }
    };
    password.focus();
  }
}
