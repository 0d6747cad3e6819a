// The worksheet: cells with CodeMirror editors, run through the hub.
import { EditorView, basicSetup } from 'codemirror';
import { keymap } from '@codemirror/view';
import { Prec } from '@codemirror/state';
import { python } from '@codemirror/lang-python';
import { Connection, Msg } from './protocol';
import './style.css';

const STORAGE_KEY = 'salvus.worksheet.v1';

interface Cell {
  id: number;
  root: HTMLElement;
  editor: EditorView;
  output: HTMLElement;
  running: boolean;
}

const sheet = document.getElementById('worksheet')!;
const statusEl = document.getElementById('status')!;
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
const conn = new Connection(wsUrl);

let cells: Cell[] = [];
let nextCellId = 1;
let session: string | null = null;
let starting: Promise<string> | null = null;
let runningCell: Cell | null = null;

function setStatus(text: string, cls = ''): void {
  statusEl.textContent = text;
  statusEl.className = `status ${cls}`;
}

conn.onState = (up) => setStatus(up ? (session ? 'ready' : 'connected') : 'reconnecting…', up ? 'ok' : 'bad');
conn.onLost = () => {
  session = null;
  starting = null;
};
conn.onSessionEnded = (s, reason) => {
  if (s !== session) return;
  session = null;
  starting = null;
  setStatus(`session ended: ${reason}`, 'bad');
};

function ensureSession(): Promise<string> {
  if (session) return Promise.resolve(session);
  if (starting) return starting;
  setStatus('starting session…');
  starting = new Promise<string>((resolve, reject) => {
    conn.request(
      { startSession: {} },
      (r) => {
        if (r.sessionStarted) {
          session = r.sessionStarted.session;
          setStatus('ready', 'ok');
          resolve(session);
        } else {
          starting = null;
          const why = r.error?.text ?? r.done?.text ?? 'could not start a session';
          setStatus(why, 'bad');
          reject(new Error(why));
        }
      },
      () => true,
    );
  });
  return starting;
}

function save(): void {
  const data = cells.map((c) => c.editor.state.doc.toString());
  localStorage.setItem(STORAGE_KEY, JSON.stringify(data));
}

function appendOutput(cell: Cell, text: string, cls: string): void {
  const last = cell.output.lastElementChild as HTMLElement | null;
  if (last && last.classList.contains(cls)) {
    last.textContent += text;
  } else {
    const span = document.createElement('span');
    span.className = cls;
    span.textContent = text;
    cell.output.appendChild(span);
  }
}

function setRunning(cell: Cell, running: boolean): void {
  cell.running = running;
  cell.root.classList.toggle('running', running);
  runningCell = running ? cell : runningCell === cell ? null : runningCell;
}

async function run(cell: Cell): Promise<void> {
  const code = cell.editor.state.doc.toString();
  save();
  cell.output.textContent = '';
  cell.output.classList.remove('failed');
  setRunning(cell, true);
  let s: string;
  try {
    s = await ensureSession();
  } catch (e) {
    appendOutput(cell, `${(e as Error).message}\n`, 'stderr');
    cell.output.classList.add('failed');
    setRunning(cell, false);
    return;
  }
  conn.request(
    { execute: { session: s, code } },
    (r: Msg) => {
      if (r.output) {
        appendOutput(cell, r.output.text ?? '', r.output.stream === 'STDERR' ? 'stderr' : 'stdout');
      } else if (r.done) {
        setRunning(cell, false);
        const st = r.done.status ?? 'OK';
        if (st !== 'OK') cell.output.classList.add('failed');
        if (st === 'DIED' || st === 'REJECTED' || (st === 'ERROR' && r.done.text)) {
          appendOutput(cell, `\n${r.done.text || 'the session ended'}\n`, 'notice');
        }
        if (st === 'DIED') {
          session = null;
          starting = null;
          setStatus('session ended', 'bad');
        }
      } else if (r.error) {
        setRunning(cell, false);
        cell.output.classList.add('failed');
        appendOutput(cell, `${r.error.text}\n`, 'notice');
        if (r.error.code === 'NOT_FOUND') {
          session = null;
          starting = null;
        }
      }
    },
    (r) => !!(r.done || r.error),
  );
}

function interrupt(): void {
  if (!session || !runningCell) return;
  conn.request({ interrupt: { session } }, () => {}, () => true);
}

function restart(): void {
  if (session) conn.request({ terminate: { session } }, () => {}, () => true);
  session = null;
  starting = null;
  for (const c of cells) setRunning(c, false);
  setStatus('session restarted: the next run starts a fresh one', 'ok');
}

function focusCell(i: number): void {
  cells[Math.max(0, Math.min(i, cells.length - 1))]?.editor.focus();
}

function makeCell(code: string, at = cells.length): Cell {
  const root = document.createElement('section');
  root.className = 'cell';
  const tools = document.createElement('div');
  tools.className = 'tools';
  const editorHost = document.createElement('div');
  editorHost.className = 'editor';
  const output = document.createElement('pre');
  output.className = 'output';
  root.append(tools, editorHost, output);
  const cell: Cell = { id: nextCellId++, root, editor: null as unknown as EditorView, output, running: false };
  const keys = Prec.highest(
    keymap.of([
      {
        key: 'Shift-Enter',
        run: () => {
          void run(cell);
          const i = cells.indexOf(cell);
          if (i === cells.length - 1) addCell('', cells.length);
          focusCell(i + 1);
          return true;
        },
      },
      { key: 'Ctrl-Enter', mac: 'Cmd-Enter', run: () => (void run(cell), true) },
      { key: 'Escape', run: () => (interrupt(), true) },
    ]),
  );
  cell.editor = new EditorView({
    doc: code,
    parent: editorHost,
    extensions: [keys, basicSetup, python(), EditorView.updateListener.of((u) => u.docChanged && save())],
  });
  const button = (label: string, title: string, action: () => void) => {
    const b = document.createElement('button');
    b.textContent = label;
    b.title = title;
    b.addEventListener('click', action);
    tools.appendChild(b);
  };
  button('▶', 'Run (Ctrl+Enter)', () => void run(cell));
  button('↑', 'Move up', () => moveCell(cell, -1));
  button('↓', 'Move down', () => moveCell(cell, 1));
  button('+', 'Add a cell below', () => addCell('', cells.indexOf(cell) + 1).editor.focus());
  button('✕', 'Delete', () => deleteCell(cell));
  cells.splice(at, 0, cell);
  sheet.insertBefore(root, cells[at + 1]?.root ?? null);
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
  cell.root.remove();
  cell.editor.destroy();
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

document.getElementById('interrupt')!.addEventListener('click', interrupt);
document.getElementById('restart')!.addEventListener('click', restart);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') interrupt();
});

let saved: string[] = [];
try {
  saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '[]');
} catch {
  saved = [];
}
if (!Array.isArray(saved) || saved.length === 0) saved = ['factor(2^64+1)'];
for (const code of saved) makeCell(String(code));
focusCell(0);
