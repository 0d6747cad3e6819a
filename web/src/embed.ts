// /embed.js: turns elements of any page into live Sage cells run by this
// hub (like the Sage Cell Server's makeSagecell). The hub must allow the
// page's origin (salvus hub --allow-origin).
//
//   <script src="https://HUB/embed.js"></script>
//   <div class="salvus-cell">factor(2^64+1)</div>          (converted on load)
//   <script>salvus.makeCell('#mine', {autoeval: true})</script>
import { Cell } from './cell';
import cellCss from './cell.css?inline';
import { Kernel } from './kernel';
import { Connection } from './protocol';

const script = document.currentScript as HTMLScriptElement | null;
const base = script?.src ? new URL(script.src).origin : location.origin;
let kernel: Kernel | null = null;

function getKernel(): Kernel {
  if (!kernel) {
    kernel = new Kernel(new Connection(`${base.replace(/^http/, 'ws')}/ws`), base);
    const style = document.createElement('style');
    style.textContent = cellCss;
    document.head.appendChild(style);
  }
  return kernel;
}

export interface EmbedOptions {
  autoeval?: boolean;
  code?: string;
}

export function makeCell(target: string | HTMLElement, opts: EmbedOptions = {}): Cell | null {
  const el = typeof target === 'string' ? document.querySelector<HTMLElement>(target) : target;
  if (!el) return null;
  const k = getKernel();
  const code = opts.code ?? el.dataset.code ?? (el.textContent ?? '').trim();
  el.textContent = '';
  el.classList.add('salvus-embedded');
  const cell = new Cell({ kernel: k, code, onInterrupt: () => k.interrupt() });
  cell.button('▶ Run', 'Run (Shift+Enter)', () => cell.run(), 'run');
  cell.button('■', 'Interrupt', () => k.interrupt());
  el.appendChild(cell.root);
  if (opts.autoeval || el.dataset.autoeval === '1') cell.run();
  return cell;
}

function convertAll(): void {
  document.querySelectorAll<HTMLElement>('.salvus-cell:not(.salvus-embedded)').forEach((el) => makeCell(el));
}

(window as unknown as { salvus: unknown }).salvus = { makeCell, convertAll };
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', convertAll);
else convertAll();
