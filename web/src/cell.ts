// One Sage cell: a CodeMirror editor, its output area, and the keys and
// buttons that run it. Used by the worksheet (main.ts) and by embedded
// cells on other sites (embed.ts).
import {
  autocompletion,
  acceptCompletion,
  closeBrackets,
  closeBracketsKeymap,
  completionKeymap,
  completionStatus,
  startCompletion,
  CompletionContext,
  CompletionResult,
} from '@codemirror/autocomplete';
import { defaultKeymap, history, historyKeymap, indentMore } from '@codemirror/commands';
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from '@codemirror/language';
import { python } from '@codemirror/lang-python';
import { Prec } from '@codemirror/state';
import {
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
} from '@codemirror/view';
import type { Kernel } from './kernel';
import { OutputArea } from './render';

export interface CellOptions {
  kernel: Kernel;
  code: string;
  onChange?: () => void;
  // Shift+Enter: run, then the owner moves on (worksheet: next cell).
  onRunAndAdvance?: (cell: Cell) => void;
  onInterrupt?: () => void;
}

function commonPrefix(words: string[]): string {
  if (words.length === 0) return '';
  let p = words[0];
  for (const w of words) {
    let i = 0;
    while (i < p.length && i < w.length && p[i] === w[i]) i++;
    p = p.slice(0, i);
  }
  return p;
}

export class Cell {
  readonly root: HTMLElement;
  readonly tools: HTMLElement;
  readonly editor: EditorView;
  readonly output: OutputArea;
  running = false;

  constructor(readonly opts: CellOptions) {
    const kernel = opts.kernel;
    this.root = document.createElement('section');
    this.root.className = 'cell';
    this.tools = document.createElement('div');
    this.tools.className = 'tools';
    const editorHost = document.createElement('div');
    editorHost.className = 'editor';
    const out = document.createElement('div');
    this.root.append(this.tools, editorHost, out);
    this.output = new OutputArea(out, kernel);
    this.output.onEnd = () => this.setRunning(false);

    // Tab after a name completes it from the live session; elsewhere it indents.
    const tab = (view: EditorView): boolean => {
      if (completionStatus(view.state) === 'active') return acceptCompletion(view);
      const pos = view.state.selection.main.head;
      const before = view.state.sliceDoc(Math.max(0, pos - 1), pos);
      if (!/[\w.]/.test(before)) return indentMore(view);
      void this.completeAt(view, pos);
      return true;
    };
    const source = async (ctx: CompletionContext): Promise<CompletionResult | null> => {
      const r = await kernel.complete(ctx.state.doc.toString(), ctx.pos);
      if (!r || r.matches.length === 0) return null;
      return { from: r.from, to: r.to, options: r.matches.map((m) => ({ label: m })), filter: false };
    };
    const keys = Prec.highest(
      keymap.of([
        {
          key: 'Shift-Enter',
          run: () => {
            this.run();
            opts.onRunAndAdvance?.(this);
            return true;
          },
        },
        { key: 'Ctrl-Enter', mac: 'Cmd-Enter', run: () => (this.run(), true) },
        { key: 'Escape', run: () => (opts.onInterrupt?.(), true) },
        { key: 'Tab', run: tab },
      ]),
    );
    this.editor = new EditorView({
      doc: opts.code,
      parent: editorHost,
      extensions: [
        keys,
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightActiveLine(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        closeBrackets(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        autocompletion({ override: [source], activateOnTyping: false }),
        keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...completionKeymap]),
        python(),
        EditorView.updateListener.of((u) => u.docChanged && opts.onChange?.()),
      ],
    });
  }

  get code(): string {
    return this.editor.state.doc.toString();
  }

  // Inserts what every completion shares, then lists them when several.
  private async completeAt(view: EditorView, pos: number): Promise<void> {
    const r = await this.opts.kernel.complete(view.state.doc.toString(), pos);
    if (!r || r.matches.length === 0) return;
    const typed = view.state.sliceDoc(r.from, r.to);
    const common = commonPrefix(r.matches);
    if (common.length > typed.length && common.startsWith(typed)) {
      view.dispatch({ changes: { from: r.from, to: r.to, insert: common }, selection: { anchor: r.from + common.length } });
    }
    if (r.matches.length > 1) startCompletion(view);
  }

  setRunning(running: boolean): void {
    this.running = running;
    this.root.classList.toggle('running', running);
  }

  // Runs the cell; `interactState` (values of its interacts, in order, as
  // shared) is applied once the run is done.
  run(interactState?: Record<string, unknown>[]): void {
    this.output.reset();
    this.setRunning(true);
    void this.opts.kernel.execute(this.code, (r) => {
      this.output.route(r);
      if (r.done && (r.done.status ?? 'OK') === 'OK' && interactState) {
        interactState.forEach((values, i) => this.output.views[i]?.restore(values));
      }
    });
  }

  button(label: string, title: string, action: () => void, cls = ''): HTMLButtonElement {
    const b = document.createElement('button');
    b.textContent = label;
    b.title = title;
    if (cls) b.className = cls;
    b.addEventListener('click', action);
    this.tools.appendChild(b);
    return b;
  }

  // Stores the cell's code as a permalink; shows and returns its URL.
  async share(): Promise<string | null> {
    const views = this.output.views;
    const interactState = views.length ? JSON.stringify(views.map((v) => v.values())) : '';
    const r = await this.opts.kernel.conn.ask({ share: { code: this.code, language: 'sage', interactState } });
    let box = this.root.querySelector('.share-link') as HTMLElement | null;
    if (!box) {
      box = document.createElement('div');
      box.className = 'share-link';
      this.tools.after(box);
    }
    if (!r.shared) {
      box.textContent = `could not share: ${r.error?.text ?? 'no answer'}`;
      return null;
    }
    const url = `${this.opts.kernel.base}/s/${r.shared.id}`;
    box.textContent = '';
    const a = document.createElement('a');
    a.href = url;
    a.textContent = url;
    a.target = '_blank';
    box.append('Link: ', a);
    void navigator.clipboard?.writeText(url).catch(() => {});
    return url;
  }

  destroy(): void {
    this.editor.destroy();
    this.root.remove();
  }
}
