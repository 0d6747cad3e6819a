// The JSON of an interact (the text of an application/x-salvus-interact
// display) and the values the page sends back in interactUpdate: the types,
// and the narrowing of what arrives from the network into them. The format
// is documented in docs/protocol.md ("Interacts"); the worker writes it in
// src/compute/salvus_worker/{controls,slider,inputs,interact}.py.
//
// Fields are optional here although the worker always sends them: a field
// that is missing or of the wrong type reads as absent and the page falls
// back to its default, and a control of an unknown type becomes an
// OtherControlSpec (drawn as a text field), so a newer worker never breaks
// an older page.

interface ControlBase {
  name: string; // the function's parameter: the key of its value in interactUpdate
  label?: string; // '' for button and text_control unless given
}

export interface SliderSpec extends ControlBase {
  type: 'slider';
  // Over numbers: min, max (the last reachable value), step, default.
  min?: number;
  max?: number;
  step?: number;
  default?: number;
  // Over a list of values: their texts and the default's index.
  values?: (number | string)[];
  default_index?: number;
  display_value?: boolean;
}

export interface RangeSliderSpec extends ControlBase {
  type: 'range_slider';
  min?: number;
  max?: number;
  step?: number;
  default?: [number, number];
  values?: (number | string)[];
  default_index?: [number, number];
  display_value?: boolean;
}

export interface InputBoxSpec extends ControlBase {
  type: 'input_box';
  default?: string;
  kind?: 'expression' | 'string' | 'number';
  width?: number; // characters
  height?: number; // lines; > 1: a text area
}

export interface CheckboxSpec extends ControlBase {
  type: 'checkbox';
  default?: boolean;
}

export interface SelectorSpec extends ControlBase {
  type: 'selector';
  values?: string[]; // the labels
  default_index?: number;
  buttons?: boolean;
  nrows?: number | null;
  ncols?: number | null;
}

export interface ColorSpec extends ControlBase {
  type: 'color';
  default?: string; // '#rrggbb'
  hide_box?: boolean;
}

// The page also takes a color control under this name.
export interface ColorSelectorSpec extends Omit<ColorSpec, 'type'> {
  type: 'color_selector';
}

export interface InputGridSpec extends ControlBase {
  type: 'input_grid';
  rows?: number;
  cols?: number;
  default?: string[][]; // rows x cols texts
  width?: number; // characters of each box
}

export interface ButtonSpec extends ControlBase {
  type: 'button';
  text?: string;
  width?: number | null;
}

export interface TextControlSpec extends ControlBase {
  type: 'text_control';
  text?: string;
}

// A control of a type this page does not know: a text field, like an
// input_box. `sentType` is the type as sent.
export interface OtherControlSpec extends ControlBase {
  type: 'other';
  sentType: string;
  default?: string;
  width?: number;
  height?: number;
}

export type ControlSpec =
  | SliderSpec
  | RangeSliderSpec
  | InputBoxSpec
  | CheckboxSpec
  | SelectorSpec
  | ColorSpec
  | ColorSelectorSpec
  | InputGridSpec
  | ButtonSpec
  | TextControlSpec
  | OtherControlSpec;

export interface InteractSpec {
  id: string; // the display's name; the `interact` of interactUpdate
  controls: ControlSpec[];
  auto_update?: boolean; // false: changes wait for the Update button
  layout?: unknown; // interact(layout=...) as given; the page ignores it
}

// What the page sends for a control: slider -> number (an index over a list
// of values), range_slider -> [low, high], input_box -> string, checkbox ->
// boolean, selector -> index, color -> '#rrggbb', input_grid -> rows of
// strings, button -> true for the click's update (else false).
// text_control sends nothing.
export type ControlValue = number | string | boolean | [number, number] | string[][];
export type InteractValues = Record<string, ControlValue>;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
const numOrNull = (v: unknown): number | null | undefined => (v === null ? null : num(v));
const pair = (v: unknown): [number, number] | undefined =>
  Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number'
    ? [v[0], v[1]]
    : undefined;
// Entries of lists become what String() makes of them (the page shows them so).
const textOf = (v: unknown): string | undefined => (v == null ? undefined : String(v));
const texts = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.map((x) => String(x)) : undefined);
const sliderValues = (v: unknown): (number | string)[] | undefined =>
  Array.isArray(v) ? v.map((x) => (typeof x === 'number' ? x : String(x))) : undefined;
const grid = (v: unknown): string[][] | undefined =>
  Array.isArray(v) ? v.map((row) => (Array.isArray(row) ? row.map((x) => String(x ?? '0')) : [])) : undefined;

// The control described by `raw`, or null when it has no name (it could not
// be sent back).
export function parseControl(raw: unknown): ControlSpec | null {
  if (!isObject(raw) || typeof raw.name !== 'string') return null;
  const base = { name: raw.name, label: str(raw.label) };
  const type = String(raw.type);
  switch (type) {
    case 'slider':
      return {
        ...base, type, min: num(raw.min), max: num(raw.max), step: num(raw.step), default: num(raw.default),
        values: sliderValues(raw.values), default_index: num(raw.default_index),
        display_value: bool(raw.display_value),
      };
    case 'range_slider':
      return {
        ...base, type, min: num(raw.min), max: num(raw.max), step: num(raw.step), default: pair(raw.default),
        values: sliderValues(raw.values), default_index: pair(raw.default_index),
        display_value: bool(raw.display_value),
      };
    case 'input_box': {
      const kind = raw.kind === 'expression' || raw.kind === 'string' || raw.kind === 'number' ? raw.kind : undefined;
      return {
        ...base, type, default: textOf(raw.default), kind, width: num(raw.width), height: num(raw.height),
      };
    }
    case 'checkbox':
      return { ...base, type, default: bool(raw.default) };
    case 'selector':
      return {
        ...base, type, values: texts(raw.values), default_index: num(raw.default_index),
        buttons: bool(raw.buttons), nrows: numOrNull(raw.nrows), ncols: numOrNull(raw.ncols),
      };
    case 'color':
    case 'color_selector':
      return { ...base, type, default: textOf(raw.default), hide_box: bool(raw.hide_box) };
    case 'input_grid':
      return {
        ...base, type, rows: num(raw.rows), cols: num(raw.cols), default: grid(raw.default), width: num(raw.width),
      };
    case 'button':
      return { ...base, type, text: str(raw.text), width: numOrNull(raw.width) };
    case 'text_control':
      return { ...base, type, text: str(raw.text) };
    default:
      return {
        ...base, type: 'other', sentType: type, default: textOf(raw.default),
        width: num(raw.width), height: num(raw.height),
      };
  }
}

// The interact described by `text`, or null when it is not JSON or not an
// object with a string id. Controls that are not objects with a name are
// left out; a missing `controls` means none.
export function parseInteractSpec(text: string): InteractSpec | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(raw) || typeof raw.id !== 'string') return null;
  const controls = Array.isArray(raw.controls) ? raw.controls.map(parseControl) : [];
  return {
    id: raw.id,
    controls: controls.filter((c): c is ControlSpec => c !== null),
    auto_update: bool(raw.auto_update),
    layout: raw.layout,
  };
}
