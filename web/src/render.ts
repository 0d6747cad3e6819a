// A cell's output: streamed text, and rich displays (images and files
// fetched from the hub's /blobs/, HTML, LaTeX and Markdown typeset with
// MathJax, help text, interacts).
import DOMPurify from 'dompurify';
import { marked } from 'marked';
import { InteractView } from './interact';
import { parseInteractSpec } from './interact_spec';
import type { Kernel } from './kernel';
import { typeset } from './mathjax';
import type { Display, Msg } from './protocol';

export class OutputArea {
  // Set once the request ended; `status` is done.status (or 'ERROR').
  onEnd: (status: string) => void = () => {};

  // Interact id -> its output area, shared by a cell's nested areas.
  constructor(
    readonly el: HTMLElement,
    private kernel: Kernel,
    private areas: Map<string, OutputArea> = new Map(),
    // The cell's interacts in the order they appeared (for shared state).
    readonly views: InteractView[] = [],
  ) {
    el.classList.add('output');
  }

  clear(): void {
    this.el.textContent = '';
    this.el.classList.remove('failed');
  }

  // A fresh run of the cell: forget its interacts.
  reset(): void {
    this.clear();
    this.areas.clear();
    this.views.length = 0;
  }

  text(text: string, cls: string): void {
    const last = this.el.lastElementChild as HTMLElement | null;
    if (last && last.classList.contains(cls)) {
      last.textContent += text;
    } else {
      const span = document.createElement('span');
      span.className = cls;
      span.textContent = text;
      this.el.appendChild(span);
    }
  }

  // Renders one reply of a request (output, display, done or error).
  reply(r: Msg): void {
    if (r.output) {
      this.text(r.output.text ?? '', r.output.stream === 'STDERR' ? 'stderr' : 'stdout');
    } else if (r.display) {
      this.display(r.display);
    } else if (r.done) {
      const st = r.done.status ?? 'OK';
      if (st !== 'OK') this.el.classList.add('failed');
      if (st === 'DIED' || st === 'REJECTED' || (st !== 'OK' && r.done.text)) {
        this.text(`\n${r.done.text || 'the session ended'}\n`, 'notice');
      }
      this.onEnd(st);
    } else if (r.error) {
      this.el.classList.add('failed');
      this.text(`${r.error.text}\n`, 'notice');
      this.onEnd('ERROR');
    }
  }

  private block(cls: string): HTMLElement {
    const div = document.createElement('div');
    div.className = `display ${cls}`;
    this.el.appendChild(div);
    return div;
  }

  display(d: Display): void {
    const mime = d.mime ?? '';
    if (mime.startsWith('image/') && d.blob) {
      const img = document.createElement('img');
      img.src = this.kernel.blobUrl(d.blob);
      img.alt = mime;
      if (d.width) img.width = d.width;
      if (d.height) img.height = d.height;
      this.block('image').appendChild(img);
    } else if (mime === 'text/html') {
      const div = this.block('html');
      div.innerHTML = DOMPurify.sanitize(d.text ?? '');
      if (/[$\\]/.test(d.text ?? '')) typeset(div, this.kernel.base);
    } else if (mime === 'text/latex') {
      const div = this.block('latex');
      div.textContent = `$$${d.text ?? ''}$$`;
      typeset(div, this.kernel.base);
    } else if (mime === 'text/markdown') {
      const div = this.block('markdown');
      // Keep math away from Markdown's emphasis rules, then typeset it.
      div.innerHTML = DOMPurify.sanitize(marked.parse(d.text ?? '', { async: false }) as string);
      if (/[$\\]/.test(d.text ?? '')) typeset(div, this.kernel.base);
    } else if (mime === 'application/x-salvus-file' && d.blob) {
      const a = document.createElement('a');
      a.href = this.kernel.blobUrl(d.blob, d.name ?? '');
      a.download = d.name ?? 'download';
      a.textContent = `⤓ ${d.name ?? 'download'}`;
      this.block('file').appendChild(a);
    } else if (mime === 'application/x-salvus-help') {
      const div = this.block('help-pane');
      const title = document.createElement('div');
      title.className = 'help-title';
      title.textContent = d.name ?? 'help';
      const body = document.createElement('pre');
      body.textContent = d.text ?? '';
      div.append(title, body);
    } else if (mime === 'application/x-salvus-interact') {
      const spec = parseInteractSpec(d.text ?? '');
      if (!spec) {
        this.text('malformed interact\n', 'notice');
        return;
      }
      const box = this.block('interact');
      const controls = document.createElement('div');
      const out = document.createElement('div');
      box.append(controls, out);
      const area = new OutputArea(out, this.kernel, this.areas, this.views);
      this.areas.set(spec.id, area);
      this.views.push(new InteractView(spec, this.kernel, area, controls));
    } else {
      this.text(d.text ?? `[${mime}]`, 'stdout');
    }
  }

  // The entry point for a request's replies: output that names an
  // interact (its target) goes to that interact's area, the rest here.
  route(r: Msg): void {
    const target = r.output?.target || r.display?.target;
    const area = target ? this.areas.get(target) : undefined;
    if (area && area !== this) area.reply(r);
    else this.reply(r);
  }
}
