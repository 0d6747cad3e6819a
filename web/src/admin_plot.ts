// A small SVG line plot of one series over time (no chart library): the
// operator's page draws load, CPU, memory, sessions, cells/s and latency
// with it.
const SVG = 'http://www.w3.org/2000/svg';

export interface Point { t: number; v: number }

function el(name: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (a >= 1e4) return (v / 1e3).toFixed(0) + 'k';
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(1);
  return v.toFixed(2);
}

function clock(ms: number, seconds: boolean): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}${seconds ? ':' + two(d.getSeconds()) : ''}`;
}

// An SVG of `points` (oldest first) between fromMs and toMs, titled `title`;
// when the points start later (a service up for less than the span asked
// for), the time axis starts at the first point.
export function linePlot(title: string, points: Point[], fromMs: number, toMs: number): SVGElement {
  const w = 300, h = 130, left = 40, right = 8, top = 20, bottom = 18;
  const svg = el('svg', { viewBox: `0 0 ${w} ${h}`, class: 'plot', role: 'img' });
  svg.append(el('title', {}, title));
  svg.append(el('text', { x: left, y: 13, class: 'plot-title' }, title));
  const good = points.filter((p) => Number.isFinite(p.v) && Number.isFinite(p.t));
  let lo = Math.min(0, ...good.map((p) => p.v));
  let hi = Math.max(...good.map((p) => p.v), lo + 1e-9);
  if (hi - lo < 1e-9) hi = lo + 1;
  hi += (hi - lo) * 0.05;
  if (good.length) fromMs = Math.max(fromMs, Math.min(good[0].t, toMs - 1000));
  const span = Math.max(1, toMs - fromMs);
  const x = (t: number) => left + ((t - fromMs) / span) * (w - left - right);
  const y = (v: number) => top + (1 - (v - lo) / (hi - lo)) * (h - top - bottom);
  svg.append(el('rect', { x: left, y: top, width: w - left - right, height: h - top - bottom, class: 'plot-frame' }));
  for (const v of [lo, (lo + hi) / 2, hi]) {
    svg.append(el('line', { x1: left, x2: w - right, y1: y(v), y2: y(v), class: 'plot-grid' }));
    svg.append(el('text', { x: left - 4, y: y(v) + 4, class: 'plot-axis', 'text-anchor': 'end' }, fmt(v)));
  }
  const secs = span < 3600 * 1000;
  svg.append(el('text', { x: left, y: h - 4, class: 'plot-axis' }, clock(fromMs, secs)));
  svg.append(el('text', { x: w - right, y: h - 4, class: 'plot-axis', 'text-anchor': 'end' }, clock(toMs, secs)));
  if (good.length === 0) {
    svg.append(el('text', { x: (left + w) / 2, y: h / 2, class: 'plot-empty', 'text-anchor': 'middle' }, 'no data'));
    return svg;
  }
  const d = good.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join('');
  svg.append(el('path', { d, class: 'plot-line' }));
  const last = good[good.length - 1];
  svg.append(el('circle', { cx: x(last.t), cy: y(last.v), r: 2.5, class: 'plot-dot' }));
  svg.append(el('text', { x: w - right, y: 13, class: 'plot-value', 'text-anchor': 'end' }, fmt(last.v)));
  return svg;
}
