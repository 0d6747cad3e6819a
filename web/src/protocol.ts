// The browser side of salvus.proto's JSON mapping over the hub's WebSocket.
// One Connection per page; it reconnects when the socket drops.

export type Msg = {
  id?: string | number;
  startSession?: { kernel?: string };
  sessionStarted?: { session: string };
  execute?: { session: string; code: string };
  output?: { session?: string; stream?: 'STDOUT' | 'STDERR'; text?: string };
  done?: { session?: string; status?: 'OK' | 'ERROR' | 'INTERRUPTED' | 'DIED' | 'REJECTED'; text?: string };
  interrupt?: { session: string };
  terminate?: { session: string };
  sessionEnded?: { session: string; reason?: string };
  error?: { code?: string; text?: string };
  ack?: Record<string, never>;
};

type Handler = (m: Msg) => void;

export class Connection {
  private ws: WebSocket | null = null;
  private nextId = 1;
  private handlers = new Map<number, Handler>();
  private queue: string[] = [];
  onSessionEnded: (session: string, reason: string) => void = () => {};
  onState: (up: boolean) => void = () => {};
  onLost: () => void = () => {};

  constructor(private url: string) {
    this.open();
  }

  private open(): void {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.onState(true);
      for (const q of this.queue) ws.send(q);
      this.queue = [];
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
      this.handlers.get(id)?.(m);
    };
    ws.onclose = () => {
      this.onState(false);
      this.ws = null;
      // Every request in flight is lost with the socket.
      const lost = [...this.handlers.values()];
      this.handlers.clear();
      for (const h of lost) h({ done: { status: 'DIED', text: 'lost the connection to the server' } });
      this.onLost();
      setTimeout(() => this.open(), 1000);
    };
  }

  // Sends `m` with a fresh id; `handler` gets every reply until `finished` says so.
  request(m: Msg, handler: Handler, finished: (r: Msg) => boolean): void {
    const id = this.nextId++;
    this.handlers.set(id, (r) => {
      if (finished(r)) this.handlers.delete(id);
      handler(r);
    });
    const text = JSON.stringify({ ...m, id });
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
    else this.queue.push(text);
  }
}
