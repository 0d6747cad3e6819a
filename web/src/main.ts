// The worksheet: cells run through the hub in one session, kept in the
// browser's storage. At /s/<id> it shows a shared cell instead.
import { AccountBar } from './account';
import { Cell } from './cell';
import { Kernel } from './kernel';
import { Connection } from './protocol';
import './style.css';
import './cell.css';

const STORAGE_KEY = 'salvus.worksheet.v1';

const sheet = document.getElementById('worksheet')!;
const statusEl = document.getElementById('status')!;
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
const conn = new Connection(wsUrl);
const kernel = new Kernel(conn, location.origin);
const sharedId = /^\/s\/([A-Za-z0-9_-]+)$/.exec(location.pathname)?.[1] ?? null;

let cells: Cell[] = [];

function setStatus(text: string, cls = ''): void {
  statusEl.textContent = text;
  statusEl.className = `status ${cls}`;
}
kernel.onStatus = setStatus;
conn.onState = (up) =>
  setStatus(up ? (kernel.session ? 'ready' : 'connected') : 'reconnecting…', up ? 'ok' : 'bad');

function save(): void {
  if (sharedId) return;  // a shared cell is not the visitor's worksheet
  localStorage.setItem(STORAGE_KEY, JSON.stringify(cells.map((c) => c.code)));
}

function interrupt(): void {
  kernel.interrupt();
}

function restart(): void {
  kernel.restart();
  for (const c of cells) c.setRunning(false);
  setStatus('session restarted: the next run starts a fresh one', 'ok');
}

function focusCell(i: number): void {
  cells[Math.max(0, Math.min(i, cells.length - 1))]?.editor.focus();
}

function makeCell(code: string, at = cells.length): Cell {
  const cell = new Cell({
    kernel,
    code,
    onChange: save,
    onInterrupt: interrupt,
    onRunAndAdvance: (c) => {
      save();
      const i = cells.indexOf(c);
      if (i === cells.length - 1) addCell('', cells.length);
      focusCell(i + 1);
    },
  });
  cell.button('▶', 'Run (Ctrl+Enter)', () => (save(), cell.run()));
  cell.button('↑', 'Move up', () => moveCell(cell, -1));
  cell.button('↓', 'Move down', () => moveCell(cell, 1));
  cell.button('+', 'Add a cell below', () => addCell('', cells.indexOf(cell) + 1).editor.focus());
  cell.button('⤴', 'Share: a link that shows this cell', () => void cell.share(), 'share');
  cell.button('✕', 'Delete', () => deleteCell(cell));
  cells.splice(at, 0, cell);
  sheet.insertBefore(cell.root, cells[at + 1]?.root ?? null);
  return cell;
}

function addCell(code: string, at: number): Cell {
  const c = makeCell(code, at);
  save();
  return c;
}

function deleteCell(cell: Cell): void {
  const i = cells.indexOf(cell);
  cells.splice(i, 1);
  cell.destroy();
  if (cells.length === 0) addCell('', 0);
  save();
  focusCell(i);
}

function moveCell(cell: Cell, by: number): void {
  const i = cells.indexOf(cell);
  const j = i + by;
  if (j < 0 || j >= cells.length) return;
  cells.splice(i, 1);
  cells.splice(j, 0, cell);
  sheet.insertBefore(cell.root, cells[j + 1]?.root ?? null);
  save();
}

// Leaving or reloading the page ends its session now rather than after the
// hub's reconnect grace period (a page kept in the back/forward cache keeps it).
window.addEventListener('pagehide', (e) => {
  if (!e.persisted) kernel.restart();
});

document.getElementById('interrupt')!.addEventListener('click', interrupt);
document.getElementById('restart')!.addEventListener('click', restart);
new AccountBar(document.querySelector('header.bar')!);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') interrupt();
});

async function showShared(id: string): Promise<void> {
  const banner = document.createElement('div');
  banner.className = 'shared-banner';
  banner.textContent = 'Loading the shared cell…';
  sheet.before(banner);
  const r = await conn.ask({ getShared: { id } });
  if (!r.shared) {
    banner.textContent = `No such shared cell: ${r.error?.text ?? id}`;
    banner.classList.add('bad');
    return;
  }
  banner.textContent = 'A shared cell: press Shift+Enter (or ▶) to run it. ';
  const home = document.createElement('a');
  home.href = '/';
  home.textContent = 'Your worksheet';
  banner.append(home);
  const cell = makeCell(r.shared.code ?? '');
  let state: Record<string, unknown>[] | undefined;
  try {
    const parsed = JSON.parse(r.shared.interactState || 'null');
    if (Array.isArray(parsed)) state = parsed;
  } catch {
    state = undefined;
  }
  // The shared interact values apply to the first run (button or keys).
  const firstRun = cell.run.bind(cell);
  let used = false;
  cell.run = (s?: Record<string, unknown>[]) => {
    firstRun(s ?? (used ? undefined : state));
    used = true;
  };
  if (new URLSearchParams(location.search).get('autoeval') === '1') cell.run();
  cell.editor.focus();
}

if (sharedId) {
  void showShared(sharedId);
} else {
  let saved: unknown = [];
  try {
    saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '[]');
  } catch {
    saved = [];
  }
  const codes = Array.isArray(saved) && saved.length > 0 ? saved.map(String) : ['factor(2^64+1)'];
  for (const code of codes) makeCell(code);
  focusCell(0);
}
