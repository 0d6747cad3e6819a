// An interact: controls built from the worker's JSON description
// (application/x-salvus-interact, documented in docs/protocol.md under
// "Interacts"; read by interact_spec.ts) and an output area that each change
// of a control replaces with the rerun function's output.
import type { Kernel } from './kernel';
import type { Msg } from './protocol';
import type { ControlSpec, ControlValue, InteractSpec, InteractValues } from './interact_spec';

interface Control {
  name: string;
  el: HTMLElement;
  value: () => ControlValue | undefined;
  set?: (v: unknown) => void; // from saved values (a shared cell's), so unchecked
}

// Renders replies of one request into an output area (see render.ts).
export type ReplySink = { clear(): void; route(r: Msg): void };

const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));

function labelled(spec: ControlSpec, input: HTMLElement, extra?: HTMLElement): HTMLElement {
  const row = document.createElement('label');
  row.className = `control control-${spec.type === 'other' ? spec.sentType : spec.type}`;
  const name = document.createElement('span');
  name.className = 'control-label';
  name.textContent = spec.label ?? spec.name;
  row.append(name, input);
  if (extra) row.append(extra);
  return row;
}

function build(spec: ControlSpec, changed: (immediate: boolean) => void): Control {
  if (spec.type === 'slider' && spec.values) {
    // A slider over a list of values: it moves over their indices.
    const values = spec.values;
    const input = document.createElement('input');
    input.type = 'range';
    input.min = '0';
    input.max = String(values.length - 1);
    input.step = '1';
    input.value = String(spec.default_index ?? 0);
    const shown = document.createElement('span');
    shown.className = 'control-value';
    const show = () => (shown.textContent = String(values[Number(input.value)]));
    show();
    input.addEventListener('input', () => (show(), changed(false)));
    return { name: spec.name, el: labelled(spec, input, shown), value: () => Number(input.value) };
  }
  if (spec.type === 'slider') {
    const input = document.createElement('input');
    input.type = 'range';
    input.min = String(spec.min ?? 0);
    input.max = String(spec.max ?? 100);
    input.step = String(spec.step ?? 1);
    input.value = String(spec.default ?? spec.min ?? 0);
    const shown = document.createElement('span');
    shown.className = 'control-value';
    const show = () => (shown.textContent = input.value);
    show();
    input.addEventListener('input', () => (show(), changed(false)));
    return {
      name: spec.name,
      el: labelled(spec, input, shown),
      value: () => Number(input.value),
      set: (v) => ((input.value = String(v)), show()),
    };
  }
  if (spec.type === 'range_slider') {
    // Two handles, over numbers or (given `values`) over the values' indices,
    // shown by their labels; the value is [low, high] either way.
    const values = spec.values;
    const last = values ? Math.max(0, values.length - 1) : 0;
    const [min, max, step] = values ? [0, last, 1] : [spec.min ?? 0, spec.max ?? 100, spec.step ?? 1];
    const [d0, d1] = values
      ? (spec.default_index ?? [0, last]).map((i) => clamp(i, 0, last))
      : spec.default ?? [min, max];
    const box = document.createElement('span');
    box.className = 'range-pair';
    const mk = (v: number) => {
      const i = document.createElement('input');
      i.type = 'range';
      i.min = String(min);
      i.max = String(max);
      i.step = String(step);
      i.value = String(v);
      return i;
    };
    const lo = mk(d0), hi = mk(d1);
    const text = (i: HTMLInputElement) => (values ? String(values[Number(i.value)]) : i.value);
    const shown = document.createElement('span');
    shown.className = 'control-value';
    const show = () => (shown.textContent = `${text(lo)} – ${text(hi)}`);
    show();
    for (const i of [lo, hi]) i.addEventListener('input', () => (show(), changed(false)));
    box.append(lo, hi);
    return {
      name: spec.name,
      el: labelled(spec, box, shown),
      value: () => {
        const a = Number(lo.value), b = Number(hi.value);
        return [Math.min(a, b), Math.max(a, b)];
      },
    };
  }
  if (spec.type === 'checkbox') {
    const input = document.createElement('input');
    input.type = 'checkbox';
    input.checked = !!spec.default;
    input.addEventListener('change', () => changed(true));
    return { name: spec.name, el: labelled(spec, input), value: () => input.checked, set: (v) => (input.checked = !!v) };
  }
  if (spec.type === 'selector') {
    const values = spec.values ?? [];
    let index = clamp(spec.default_index ?? 0, 0, Math.max(0, values.length - 1));
    if (spec.buttons) {
      const box = document.createElement('span');
      box.className = 'buttons';
      const buttons = values.map((v, i) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = v;
        b.classList.toggle('selected', i === index);
        b.addEventListener('click', () => {
          index = i;
          buttons.forEach((x, j) => x.classList.toggle('selected', j === i));
          changed(true);
        });
        return b;
      });
      box.append(...buttons);
      return { name: spec.name, el: labelled(spec, box), value: () => index };
    }
    const select = document.createElement('select');
    values.forEach((v, i) => {
      const o = document.createElement('option');
      o.value = String(i);
      o.textContent = v;
      select.appendChild(o);
    });
    select.value = String(index);
    select.addEventListener('change', () => changed(true));
    return { name: spec.name, el: labelled(spec, select), value: () => Number(select.value) };
  }
  if (spec.type === 'color' || spec.type === 'color_selector') {
    const input = document.createElement('input');
    input.type = 'color';
    input.value = spec.default ?? '#0000ff';
    input.addEventListener('input', () => changed(false));
    return { name: spec.name, el: labelled(spec, input), value: () => input.value };
  }
  if (spec.type === 'input_grid') {
    const table = document.createElement('table');
    table.className = 'grid';
    const rows: HTMLInputElement[][] = [];
    for (let r = 0; r < (spec.rows ?? 1); r++) {
      const tr = document.createElement('tr');
      const row: HTMLInputElement[] = [];
      for (let c = 0; c < (spec.cols ?? 1); c++) {
        const td = document.createElement('td');
        const i = document.createElement('input');
        i.value = spec.default?.[r]?.[c] ?? '0';
        i.size = spec.width ?? 4;
        i.addEventListener('change', () => changed(true));
        td.appendChild(i);
        tr.appendChild(td);
        row.push(i);
      }
      table.appendChild(tr);
      rows.push(row);
    }
    return { name: spec.name, el: labelled(spec, table), value: () => rows.map((r) => r.map((i) => i.value)) };
  }
  if (spec.type === 'button') {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = spec.text ?? spec.label ?? spec.name;
    let clicked = false;
    b.addEventListener('click', () => {
      clicked = true;
      changed(true);
      clicked = false;
    });
    const row = document.createElement('span');
    row.className = 'control control-button';
    row.appendChild(b);
    return { name: spec.name, el: row, value: () => clicked };
  }
  if (spec.type === 'text_control') {
    const div = document.createElement('div');
    div.className = 'control control-text';
    div.textContent = spec.text ?? '';
    return { name: spec.name, el: div, value: () => undefined };
  }
  // input_box (and any type this page does not know): a text field, sent on
  // Enter or blur.
  const input = document.createElement(spec.height && spec.height > 1 ? 'textarea' : 'input');
  input.value = spec.default ?? '';
  if (input instanceof HTMLInputElement) input.size = Math.min(60, spec.width ?? 20);
  input.addEventListener('change', () => changed(true));
  return { name: spec.name, el: labelled(spec, input), value: () => input.value };
}

export class InteractView {
  readonly root: HTMLElement;
  private controls: Control[] = [];
  private inFlight = false;
  private again = false;

  constructor(
    readonly spec: InteractSpec,
    private kernel: Kernel,
    private output: ReplySink,
    controlsHost: HTMLElement,
  ) {
    this.root = controlsHost;
    controlsHost.classList.add('interact-controls');
    controlsHost.dataset.interact = spec.id;
    const changed = () => {
      if (spec.auto_update !== false) this.update();
    };
    for (const c of spec.controls) {
      const control = build(c, changed);
      this.controls.push(control);
      controlsHost.appendChild(control.el);
    }
    if (spec.auto_update === false) {
      const run = document.createElement('button');
      run.type = 'button';
      run.textContent = 'Update';
      run.addEventListener('click', () => this.update());
      controlsHost.appendChild(run);
    }
  }

  // The current value of every control (text_controls have none).
  values(): InteractValues {
    const v: InteractValues = {};
    for (const c of this.controls) {
      const x = c.value();
      if (x !== undefined) v[c.name] = x;
    }
    return v;
  }

  // Sets controls from saved values (a shared cell's state: JSON from the
  // network, passed on as it is) and reruns.
  restore(values: Record<string, unknown>): void {
    for (const c of this.controls) {
      if (c.name in values) c.set?.(values[c.name]);
    }
    this.update(values);
  }

  // Reruns the function with the current values. While one update runs,
  // changes coalesce into a single next one (a dragged slider never queues
  // a backlog).
  update(values?: Record<string, unknown>): void {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = true;
    let first = true;
    void this.kernel.interactUpdate(this.spec.id, { ...this.values(), ...values }, (r) => {
      if (first) {
        this.output.clear();
        first = false;
      }
      this.output.route(r);
      if (r.done || r.error) {
        this.inFlight = false;
        if (this.again) {
          this.again = false;
          this.update();
        }
      }
    });
  }
}
