// One Sage session on the hub, started on first use and restarted when it
// ends: what a worksheet (or an embedded cell) runs its code in. When the
// connection drops, the Connection resumes it after reconnecting; it lives
// only as long as the page (a reload starts a fresh one).
import { Connection, Msg, SESSION_LOST } from './protocol';

export class Kernel {
  session: string | null = null;
  private starting: Promise<string> | null = null;
  private running = new Set<number>();
  private nextRun = 1;
  private waiting = 0;  // runs waiting for the session to start
  private cancelWaiting = false;
  onStatus: (text: string, cls: string) => void = () => {};

  constructor(readonly conn: Connection, readonly base: string) {
    conn.resumable = () => this.session;
    conn.onResumeFailed = (s) => {
      if (s !== this.session) return;
      this.forget();
      this.onStatus(`${SESSION_LOST}: the next run starts a new one`, 'bad');
    };
    conn.onSessionEnded = (s, reason) => {
      if (s !== this.session) return;
      this.forget();
      this.onStatus(`session ended: ${reason}`, 'bad');
    };
  }

  // URL of a blob the hub keeps (an image, a file).
  blobUrl(sha1: string, name = ''): string {
    return `${this.base}/blobs/${sha1}${name ? `?name=${encodeURIComponent(name)}` : ''}`;
  }

  forget(): void {
    this.session = null;
    this.starting = null;
  }

  ensureSession(): Promise<string> {
    if (this.session) return Promise.resolve(this.session);
    if (this.starting) return this.starting;
    this.onStatus('starting session…', '');
    this.starting = new Promise<string>((resolve, reject) => {
      this.conn.request(
        { startSession: {} },
        (r) => {
          if (r.sessionStarted) {
            this.session = r.sessionStarted.session;
            this.onStatus('ready', 'ok');
            resolve(this.session);
          } else {
            this.starting = null;
            const why = r.error?.text ?? r.done?.text ?? 'could not start a session';
            this.onStatus(why, 'bad');
            reject(new Error(why));
          }
        },
        () => true,
      );
    });
    return this.starting;
  }

  // Runs a session request (execute, interactUpdate); `onReply` gets every
  // reply up to and including done (or an error).
  async run(body: (session: string) => Msg, onReply: (r: Msg) => void): Promise<void> {
    let s: string;
    this.waiting++;
    try {
      s = await this.ensureSession();
    } catch (e) {
      onReply({ error: { code: 'UNAVAILABLE', text: (e as Error).message } });
      return;
    } finally {
      this.waiting--;
    }
    if (this.cancelWaiting) {
      // Interrupted while the session was starting: never send it.
      if (this.waiting === 0) this.cancelWaiting = false;
      onReply({ done: { status: 'INTERRUPTED', text: 'interrupted before it started' } });
      return;
    }
    const token = this.nextRun++;
    this.running.add(token);
    this.conn.request(
      body(s),
      (r) => {
        if (r.done || r.error) {
          this.running.delete(token);
          if ((r.done?.status === 'DIED' || r.error?.code === 'NOT_FOUND') && this.session === s) {
            this.forget();
          }
        }
        onReply(r);
      },
      (r) => !!(r.done || r.error),
    );
  }

  execute(code: string, onReply: (r: Msg) => void): Promise<void> {
    return this.run((session) => ({ execute: { session, code } }), onReply);
  }

  interactUpdate(interact: string, values: Record<string, unknown>, onReply: (r: Msg) => void): Promise<void> {
    return this.run(
      (session) => ({ interactUpdate: { session, interact, values: JSON.stringify(values) } }),
      onReply,
    );
  }

  // Completions at `cursor` (a UTF-16 offset, as editors count) in `code`.
  async complete(code: string, cursor: number): Promise<{ from: number; to: number; matches: string[] } | null> {
    let session: string;
    try {
      session = await this.ensureSession();
    } catch {
      return null;
    }
    const points = (s: string) => Array.from(s).length;  // the worker counts code points
    const r = await this.conn.ask({
      complete: { session, code, cursor: points(code.slice(0, cursor)) },
    });
    const c = r.completions;
    if (!c) return null;
    const toUnits = (p: number) => Array.from(code).slice(0, p).join('').length;
    return { from: toUnits(c.start ?? 0), to: toUnits(c.end ?? 0), matches: c.matches ?? [] };
  }

  get busy(): boolean {
    return this.running.size > 0;
  }

  interrupt(): void {
    if (this.waiting > 0) this.cancelWaiting = true;
    if (!this.session || !this.busy) return;
    this.conn.request({ interrupt: { session: this.session } }, () => {}, () => true);
  }

  restart(): void {
    if (this.session) this.conn.request({ terminate: { session: this.session } }, () => {}, () => true);
    this.forget();
    this.running.clear();
  }
}
