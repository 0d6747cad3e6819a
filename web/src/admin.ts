// The operator's page (/admin): every service the monitors report, its
// health, plots of its status rows over the last hours and its newest log
// lines, filterable. Reads the hub's /admin/api/* (the cookie set when the
// token was given); everything from the server is shown as text, never HTML.
import './admin.css';
import { linePlot, type Point } from './admin_plot';

interface StatusRow {
  t: number; load1: number; pcpu: number; pmem: number; rssKb: number; vsizeKb: number;
  cputimeS: number; walltimeS: number; extra: string;
}
interface Service {
  id: number; type: string; name: string; site: string; address: string; port: number; pid: number;
  running: boolean; startMs: number; stopMs: number; health: 'up' | 'stale' | 'down';
  statusAgeS: number | null; latest: StatusRow | null;
}

const REFRESH_MS = 10000;
const hoursSelect = document.getElementById('hours') as HTMLSelectElement;
const updated = document.getElementById('updated')!;
const tbody = document.querySelector('#services tbody')!;
const details = document.getElementById('details')!;
const cards = new Map<number, { root: HTMLElement; plots: HTMLElement; log: LogView }>();

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url, { credentials: 'same-origin', cache: 'no-store' });
  if (r.status === 403) { location.href = '/admin'; throw new Error('the token is needed'); }
  if (!r.ok) throw new Error(`${url}: ${r.status} ${(await r.text()).trim()}`);
  return r.json() as Promise<T>;
}

function h<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

function duration(s: number): string {
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

function mb(kb: number): string { return `${(kb / 1024).toFixed(0)}M`; }

function parseExtra(s: string): Record<string, number> {
  try {
    const o = JSON.parse(s);
    const out: Record<string, number> = {};
    if (o && typeof o === 'object') for (const [k, v] of Object.entries(o)) if (typeof v === 'number') out[k] = v;
    return out;
  } catch { return {}; }
}

// The series worth a plot: the row's own figures, what the service adds in
// `extra` (a compute server's sessions), and rates from the hub's counters.
function series(rows: StatusRow[]): [string, Point[]][] {
  const extras = rows.map((r) => parseExtra(r.extra));
  const out: [string, Point[]][] = [
    ['load (1 min)', rows.map((r) => ({ t: r.t, v: r.load1 }))],
    ['CPU %', rows.map((r) => ({ t: r.t, v: r.pcpu }))],
    ['memory (RSS, MB)', rows.map((r) => ({ t: r.t, v: r.rssKb / 1024 }))],
  ];
  if (extras.some((e) => 'sessions' in e)) {
    out.push(['sessions', rows.map((r, i) => ({ t: r.t, v: extras[i].sessions ?? NaN }))]);
  }
  if (extras.some((e) => 'cells' in e)) {
    const rate: Point[] = [], latency: Point[] = [];
    for (let i = 1; i < rows.length; i++) {
      const a = extras[i - 1], b = extras[i], dt = (rows[i].t - rows[i - 1].t) / 1000;
      if (!('cells' in a) || !('cells' in b) || dt <= 0 || b.cells < a.cells) continue;
      rate.push({ t: rows[i].t, v: (b.cells - a.cells) / dt });
      const done = (b.cellsDone ?? 0) - (a.cellsDone ?? 0);
      const secs = (b.cellSeconds ?? 0) - (a.cellSeconds ?? 0);
      if (done > 0) latency.push({ t: rows[i].t, v: (secs / done) * 1000 });
    }
    out.push(['cells/s', rate], ['cell latency (ms)', latency]);
  }
  return out;
}

class LogView {
  readonly root = h('div', 'log');
  private readonly q = h('input');
  private readonly level = h('select');
  private readonly lines = h('pre', 'log-lines');
  private timer = 0;

  constructor(private readonly id: number) {
    this.q.type = 'search';
    this.q.placeholder = 'filter the log…';
    this.q.className = 'log-filter';
    for (const [v, label] of [['all', 'every level'], ['info', 'info and up'], ['warning', 'warnings and errors'], ['error', 'errors']]) {
      const o = h('option', '', label);
      o.value = v;
      this.level.append(o);
    }
    this.level.className = 'log-level';
    const bar = h('div', 'log-bar');
    bar.append(h('strong', '', 'newest log lines'), this.q, this.level);
    this.root.append(bar, this.lines);
    this.q.addEventListener('input', () => { clearTimeout(this.timer); this.timer = window.setTimeout(() => this.load(), 250); });
    this.level.addEventListener('change', () => this.load());
  }

  async load(): Promise<void> {
    const p = new URLSearchParams({ service: String(this.id), limit: '200', level: this.level.value });
    if (this.q.value) p.set('q', this.q.value.slice(0, 200));
    const r = await getJson<{ lines: { t: number; text: string }[] }>(`/admin/api/log?${p}`);
    this.lines.replaceChildren();
    if (r.lines.length === 0) this.lines.append(h('span', 'log-empty', 'no log lines'));
    for (const l of r.lines.slice().reverse()) {  // newest on top
      const m = /\] \[(trace|debug|info|warning|error|critical)\] /.exec(l.text);
      this.lines.append(h('span', `log-line ${m ? 'lvl-' + m[1] : ''}`, l.text + '\n'));
    }
  }
}

function row(s: Service): HTMLTableRowElement {
  const tr = h('tr');
  const st = s.latest;
  const up = s.running ? (Date.now() - s.startMs) / 1000 : 0;
  const cells = [
    `${s.type} ${s.name}`, `${s.address}:${s.port}`, String(s.pid), s.health,
    s.statusAgeS === null ? '—' : duration(s.statusAgeS), st ? st.load1.toFixed(2) : '—',
    st ? st.pcpu.toFixed(1) : '—', st ? st.pmem.toFixed(1) : '—', st ? mb(st.rssKb) : '—',
    s.running ? duration(up) : 'stopped',
  ];
  cells.forEach((c, i) => {
    const td = h('td', i === 3 ? `health ${s.health}` : '', c);
    tr.append(td);
  });
  tr.dataset.service = String(s.id);
  tr.addEventListener('click', () => cards.get(s.id)?.root.scrollIntoView({ behavior: 'smooth' }));
  return tr;
}

function card(s: Service) {
  let c = cards.get(s.id);
  if (!c) {
    const root = h('section', 'service');
    root.dataset.service = String(s.id);
    const plots = h('div', 'plots');
    const log = new LogView(s.id);
    root.append(h('h2'), plots, log.root);
    details.append(root);
    c = { root, plots, log };
    cards.set(s.id, c);
  }
  const title = c.root.querySelector('h2')!;
  title.replaceChildren(h('span', `badge ${s.health}`, s.health), ` ${s.type} ${s.name} · ${s.address}:${s.port} · site ${s.site}`);
  return c;
}

async function refresh(): Promise<void> {
  const hours = Number(hoursSelect.value);
  const data = await getJson<{ nowMs: number; services: Service[] }>('/admin/api/services');
  tbody.replaceChildren(...data.services.map(row));
  if (data.services.length === 0) {
    const tr = h('tr');
    const td = h('td', 'empty', 'No services: start monitors (`salvus monitor`, or `salvus up --monitor`).');
    td.colSpan = 10;
    tr.append(td);
    tbody.append(tr);
  }
  await Promise.all(data.services.map(async (s) => {
    const c = card(s);
    const st = await getJson<{ fromMs: number; rows: StatusRow[] }>(`/admin/api/status?service=${s.id}&hours=${hours}`);
    c.plots.replaceChildren(...series(st.rows).map(([name, pts]) => linePlot(name, pts, st.fromMs, data.nowMs)));
    if (!c.root.dataset.logLoaded) { c.root.dataset.logLoaded = '1'; await c.log.load(); }
  }));
  updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
  updated.className = 'status ok';
}

async function loop(): Promise<void> {
  try { await refresh(); } catch (e) {
    updated.textContent = String(e);
    updated.className = 'status bad';
  }
  setTimeout(loop, REFRESH_MS);
}

hoursSelect.addEventListener('change', () => { refresh().catch(() => {}); });
loop();
