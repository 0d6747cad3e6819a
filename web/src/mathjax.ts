// MathJax 3 (SVG output), loaded from the hub on first use: a page without
// math never downloads it.
/* eslint-disable @typescript-eslint/no-explicit-any */

let loading: Promise<any> | null = null;

function load(base: string): Promise<any> {
  const w = window as any;
  if (w.MathJax?.typesetPromise) return Promise.resolve(w.MathJax);
  if (!loading) {
    w.MathJax = {
      tex: {
        inlineMath: [['$', '$'], ['\\(', '\\)']],
        displayMath: [['$$', '$$'], ['\\[', '\\]']],
        macros: { Bold: ['\\mathbf{#1}', 1] },
      },
      svg: { fontCache: 'global' },
      startup: { typeset: false },
      loader: { paths: { mathjax: `${base}/mathjax` } },
    };
    loading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = `${base}/mathjax/tex-svg.js`;
      s.async = true;
      s.onload = () => w.MathJax.startup.promise.then(() => resolve(w.MathJax), reject);
      s.onerror = () => {
        loading = null;
        reject(new Error('could not load MathJax'));
      };
      document.head.appendChild(s);
    });
  }
  return loading;
}

// Typesets the math in `el` ($...$, $$...$$, \(...\), \[...\]).
export function typeset(el: HTMLElement, base: string): void {
  el.classList.add('math-pending');
  load(base)
    .then((mj) => mj.typesetPromise([el]))
    .then(() => {
      el.classList.remove('math-pending');
      el.classList.add('math-done');
    })
    .catch((e) => {
      el.classList.remove('math-pending');
      el.title = String(e);
    });
}
