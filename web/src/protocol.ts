// The browser side of salvus.proto's JSON mapping over the hub's WebSocket
// (docs/protocol.md). One Connection per page; it reconnects when the
// socket drops and then resumes the page's session (`resumable`): requests
// of that session in flight keep their handlers and get the output the hub
// kept for them meanwhile. Ids count on across reconnects, so they stay
// unique.

export type DoneStatus = 'OK' | 'ERROR' | 'INTERRUPTED' | 'DIED' | 'REJECTED';

export interface Display {
  session?: string;
  mime?: string;
  text?: string;
  blob?: string;
  name?: string;
  width?: number;
  height?: number;
  target?: string;
}

export type Msg = {
  id?: string | number;
  startSession?: { kernel?: string };
  sessionStarted?: { session: string };
  execute?: { session: string; code: string };
  output?: { session?: string; stream?: 'STDOUT' | 'STDERR'; text?: string; target?: string };
  display?: Display;
  done?: { session?: string; status?: DoneStatus; text?: string };
  complete?: { session: string; code: string; cursor: number };
  completions?: { session?: string; matches?: string[]; start?: number; end?: number };
  interactUpdate?: { session: string; interact: string; values: string };
  interrupt?: { session: string };
  terminate?: { session: string };
  sessionEnded?: { session: string; reason?: string };
  resume?: { session: string };
  share?: { code: string; language?: string; interactState?: string };
  getShared?: { id: string };
  shared?: { id: string; code?: string; language?: string; interactState?: string };
  error?: { code?: string; text?: string };
  ack?: Record<string, never>;
};

type Handler = (m: Msg) => void;

// The session a request belongs to (null for others).
function sessionOf(m: Msg): string | null {
  return (
    m.execute?.session ?? m.complete?.session ?? m.interactUpdate?.session ??
    m.interrupt?.session ?? m.terminate?.session ?? null
  );
}

export const SESSION_LOST = 'the session ended while you were disconnected';

export class Connection {
  private ws: WebSocket | null = null;
  private nextId = 1;
  private handlers = new Map<number, { session: string | null; h: Handler }>();
  private queue: { id: number; text: string }[] = [];
  private everOpen = false;
  private resuming = false;  // holding the queue until the resume is answered
  onSessionEnded: (session: string, reason: string) => void = () => {};
  onState: (up: boolean) => void = () => {};
  onLost: () => void = () => {};
  // The session to take back after a reconnect (null: none).
  resumable: () => string | null = () => null;
  // The hub no longer has it (after a reconnect): `why` says so.
  onResumeFailed: (session: string, why: string) => void = () => {};

  constructor(private url: string) {
    this.open();
  }

  private flush(): void {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || this.resuming) return;
    for (const q of this.queue) this.ws.send(q.text);
    this.queue = [];
  }

  private fail(ids: number[], m: Msg): void {
    for (const id of ids) {
      const e = this.handlers.get(id);
      this.handlers.delete(id);
      e?.h(m);
    }
  }

  private open(): void {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      const session = this.everOpen ? this.resumable() : null;
      this.everOpen = true;
      if (session) this.resume(ws, session);
      this.onState(true);
      this.flush();
    };
    ws.onmessage = (ev) => {
      let m: Msg;
      try {
        m = JSON.parse(ev.data as string);
      } catch {
        return;
      }
      const id = Number(m.id ?? 0);
      if (id === 0) {
        if (m.sessionEnded) this.onSessionEnded(m.sessionEnded.session, m.sessionEnded.reason ?? '');
        if (m.error) console.warn('hub:', m.error.text);
        return;
      }
      this.handlers.get(id)?.h(m);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.resuming = false;
      // Requests of the session to resume wait for the reconnect (their
      // output is kept by the hub); every other one is lost with the socket.
      const keep = this.resumable();
      const lost = [...this.handlers.entries()]
        .filter(([, e]) => !keep || e.session !== keep)
        .map(([id]) => id);
      this.queue = this.queue.filter((q) => !lost.includes(q.id));
      this.fail(lost, { done: { status: 'DIED', text: 'lost the connection to the server' } });
      this.onState(false);
      this.onLost();
      setTimeout(() => this.open(), 1000);
    };
  }

  // Asks the hub for `session` back before anything else goes out.
  private resume(ws: WebSocket, session: string): void {
    const id = this.nextId++;
    this.resuming = true;
    this.handlers.set(id, {
      session: null,
      h: (r) => {
        this.handlers.delete(id);
        if (this.ws !== ws) return;  // dropped again: the next open retries
        this.resuming = false;
        if (!r.sessionStarted) {
          // Gone: what waited for it (sent or queued) ends now.
          const why = `${SESSION_LOST} (${r.error?.text ?? 'no answer'})`;
          const ids = [...this.handlers.entries()].filter(([, e]) => e.session === session).map(([i]) => i);
          this.queue = this.queue.filter((q) => !ids.includes(q.id));
          this.onResumeFailed(session, why);
          this.fail(ids, { done: { session, status: 'DIED', text: SESSION_LOST } });
        }
        this.flush();
      },
    });
    ws.send(JSON.stringify({ id, resume: { session } }));
  }

  // Sends `m` with a fresh id; `handler` gets every reply until `finished` says so.
  request(m: Msg, handler: Handler, finished: (r: Msg) => boolean): void {
    const id = this.nextId++;
    this.handlers.set(id, {
      session: sessionOf(m),
      h: (r) => {
        if (finished(r)) this.handlers.delete(id);
        handler(r);
      },
    });
    const text = JSON.stringify({ ...m, id });
    if (this.ws && this.ws.readyState === WebSocket.OPEN && !this.resuming) this.ws.send(text);
    else this.queue.push({ id, text });
  }

  // A request answered by one message (done or error ends it too).
  ask(m: Msg): Promise<Msg> {
    return new Promise((resolve) => this.request(m, resolve, () => true));
  }
}
