// A form generated from a workflow's `inputs` JSON Schema: one field per property (text, number, checkbox,
// choice, or JSON for objects and lists), defaults filled in, required fields marked, and the server's
// input errors shown beside the field they name.
import { html, useEffect, useState } from './vendor/preact-htm.js';

const kindOf = (s) => (s.enum ? 'enum' : Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type) ?? 'json';

function initial(schema, s, value) {
  const v = value !== undefined ? value : s.default;
  const kind = kindOf(s);
  if (kind === 'boolean') return Boolean(v);
  if (v === undefined) return '';
  if (kind === 'object' || kind === 'array' || kind === 'json') return JSON.stringify(v, null, 2);
  return String(v);
}

/** Field values (strings, booleans) → the run input; problems are `{field: message}`. */
export function collect(schema, values) {
  const input = {};
  const problems = {};
  const required = new Set(schema.required ?? []);
  for (const [name, s] of Object.entries(schema.properties ?? {})) {
    const kind = kindOf(s);
    const raw = values[name];
    if (kind === 'boolean') {
      input[name] = raw;
      continue;
    }
    if (raw === '' || raw === undefined) {
      if (required.has(name)) problems[name] = 'required';
      continue;
    }
    if (kind === 'number' || kind === 'integer') {
      const n = Number(raw);
      if (!Number.isFinite(n) || (kind === 'integer' && !Number.isInteger(n)))
        problems[name] = `expected ${kind === 'integer' ? 'an integer' : 'a number'}`;
      else input[name] = n;
    } else if (kind === 'object' || kind === 'array' || kind === 'json') {
      try {
        input[name] = JSON.parse(raw);
      } catch (err) {
        problems[name] = `not valid JSON: ${err.message}`;
      }
    } else if (kind === 'enum') {
      const match = s.enum.find((v) => String(v) === raw);
      input[name] = match === undefined ? raw : match;
    } else input[name] = raw;
  }
  return { input, problems };
}

/** Which field an API error names: `input.topic`, `input.items[2]`, `/topic` → `topic`. */
export function fieldOf(path, names) {
  if (!path) return undefined;
  const m = /^(?:input\.|\/)?([^.[/\]]+)/.exec(String(path));
  return m && names.includes(m[1]) ? m[1] : undefined;
}

export function SchemaForm({ schema, values: given, submitLabel = 'Run', onSubmit, busy }) {
  const props = Object.entries(schema?.properties ?? {});
  const required = new Set(schema?.required ?? []);
  const start = () => Object.fromEntries(props.map(([name, s]) => [name, initial(schema, s, given?.[name])]));
  const [values, setValues] = useState(start);
  const [problems, setProblems] = useState({});
  const [formError, setFormError] = useState();
  useEffect(() => setValues(start()), [schema, given]);

  const set = (name, v) => setValues((old) => ({ ...old, [name]: v }));
  const submit = async (e) => {
    e.preventDefault();
    const { input, problems: local } = collect(schema ?? {}, values);
    setProblems(local);
    setFormError(undefined);
    if (Object.keys(local).length) return;
    try {
      await onSubmit(input);
    } catch (err) {
      // The server's verdict, beside the fields it names (every issue of an E_INPUT error).
      const names = props.map(([n]) => n);
      const next = {};
      const issues = err.issues?.length ? err.issues : [{ path: err.path, message: err.message }];
      const unplaced = [];
      for (const i of issues) {
        const f = fieldOf(i.path, names);
        if (f) next[f] = next[f] ? `${next[f]}; ${i.message}` : i.message;
        else unplaced.push(i.message);
      }
      setProblems(next);
      if (unplaced.length || !Object.keys(next).length)
        setFormError({ message: unplaced.join('; ') || err.message, code: err.code });
    }
  };

  return html`<form class="schema-form" onSubmit=${submit} noValidate>
    ${props.length ? null : html`<p class="muted">This workflow takes no input.</p>`}
    ${props.map(([name, s]) => {
      const kind = kindOf(s);
      const id = `field-${name}`;
      const problem = problems[name];
      const describedBy =
        [s.description ? `${id}-help` : '', problem ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
      const common = {
        id,
        name,
        'aria-invalid': problem ? 'true' : undefined,
        'aria-describedby': describedBy,
        'aria-required': required.has(name) ? 'true' : undefined,
      };
      let control;
      if (kind === 'boolean')
        control = html`<input type="checkbox" ...${common} checked=${values[name]} onChange=${(e) => set(name, e.currentTarget.checked)} />`;
      else if (kind === 'enum')
        control = html`<select ...${common} value=${values[name]} onChange=${(e) => set(name, e.currentTarget.value)}>${required.has(name) ? null : html`<option value="">(none)</option>`}${s.enum.map((v) => html`<option value=${String(v)}>${String(v)}</option>`)}</select>`;
      else if (kind === 'object' || kind === 'array' || kind === 'json')
        control = html`<textarea ...${common} rows="4" spellcheck="false" value=${values[name]} onInput=${(e) => set(name, e.currentTarget.value)} placeholder="JSON"></textarea>`;
      else
        control = html`<input type=${kind === 'number' || kind === 'integer' ? 'number' : 'text'} step=${kind === 'integer' ? '1' : kind === 'number' ? 'any' : undefined} ...${common} value=${values[name]} onInput=${(e) => set(name, e.currentTarget.value)} />`;
      return html`<div class=${`field${problem ? ' invalid' : ''}`} data-field=${name}>
        <label for=${id}>${s.title ?? name}${required.has(name) ? html`<span class="required" aria-hidden="true"> *</span><span class="sr-only"> (required)</span>` : null}</label>
        ${control}
        ${s.description ? html`<small id=${`${id}-help`} class="help">${s.description}${s.default !== undefined ? ` (default: ${JSON.stringify(s.default)})` : ''}</small>` : s.default !== undefined ? html`<small class="help">default: ${JSON.stringify(s.default)}</small>` : null}
        ${problem ? html`<small id=${`${id}-error`} class="field-error" role="alert">${problem}</small>` : null}
      </div>`;
    })}
    ${formError ? html`<div class="error-box" role="alert"><span class="error-message">${formError.message}</span>${formError.code ? html` <code>${formError.code}</code>` : null}</div>` : null}
    <button type="submit" class="primary" disabled=${busy}>${submitLabel}</button>
  </form>`;
}
