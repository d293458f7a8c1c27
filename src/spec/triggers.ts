/**
 * Triggers in the file format (workflow-spec.md §10): the `triggers:` list of a workflow, its shapes as strict zod
 * schemas, the cross-field checks (cron through croner, IANA time zones, JSONata filters, `input` templates over
 * `{ event, trigger }`), and the normal form every later part reads (`triggersOf`), with the next fire times of a
 * schedule. Nothing here fires anything: the service does (service/triggers/).
 */
import { Cron } from 'croner';
import { z } from 'zod';
import type { Issue } from '../errors.js';
import { parseExpression } from './expression.js';
import { formatPath, type PathSegment } from './path.js';
import { didYouMean } from './suggest.js';
import { splitTemplates } from './template.js';
import { fromZodIssues } from './zod-issues.js';

export const OVERLAP_POLICIES = ['skip', 'buffer_one', 'cancel_other', 'allow_all'] as const;
/** What a schedule does when its previous run is still going. @beta */
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];
export const CATCHUP_POLICIES = ['none', 'latest', 'all'] as const;
/** What a schedule does with due times missed while no process could fire them. @beta */
export type CatchupPolicy = (typeof CATCHUP_POLICIES)[number];

/** The header a webhook's signature comes in unless the trigger names another. */
export const DEFAULT_SIGNATURE_HEADER = 'X-Braid-Signature-256';
/** How far back catch-up looks unless `catchup_window` says otherwise: one day. */
export const DEFAULT_CATCHUP_WINDOW_MS = 24 * 3600_000;

const NAME = /^[A-Za-z0-9_.-]+$/;
const DURATION = /^(\d+)\s*(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 } as const;

const duration = z.union([z.int().positive(), z.string().regex(DURATION, 'a duration like 90s, 15m, 6h or 2d')], {
  error: (iss) =>
    iss.code === 'invalid_union' ? 'expected milliseconds or a duration like 90s, 15m, 6h, 2d' : undefined,
});
const inputTemplates = z.record(z.string(), z.unknown());

export const scheduleObjectSchema = z.strictObject({
  cron: z.string().min(1),
  timezone: z.string().min(1).optional(),
  input: inputTemplates.optional(),
  overlap: z.enum(OVERLAP_POLICIES).optional(),
  catchup: z.enum(CATCHUP_POLICIES).optional(),
  catchup_window: duration.optional(),
  jitter_ms: z.int().min(0).optional(),
});
export const eventObjectSchema = z.strictObject({
  name: z.string().min(1),
  filter: z.string().min(1).optional(),
  input: inputTemplates.optional(),
});
export const webhookObjectSchema = z.strictObject({
  path: z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/, 'letters, digits, _ . - and / between parts'),
  secret_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'the name of an environment variable'),
  signature_header: z.string().min(1).optional(),
  id_header: z.string().min(1).optional(),
  input: inputTemplates.optional(),
});
export const triggerSchema = z.strictObject({
  name: z.string().regex(NAME, 'must match [A-Za-z0-9_.-]+').optional(),
  schedule: z.union([z.string().min(1), scheduleObjectSchema]).optional(),
  event: z.union([z.string().min(1), eventObjectSchema]).optional(),
  webhook: webhookObjectSchema.optional(),
});
/** The outer shape, each kind checked on its own (so a bad field is named, not "invalid union"). */
const outerSchema = triggerSchema.extend({
  schedule: z.unknown().optional(),
  event: z.unknown().optional(),
  webhook: z.unknown().optional(),
});
const KIND_SCHEMAS = { schedule: scheduleObjectSchema, event: eventObjectSchema, webhook: webhookObjectSchema };

/** One trigger as written (workflow-spec.md §10). @public */
export type TriggerSpec = z.infer<typeof triggerSchema>;

const KINDS = ['schedule', 'event', 'webhook'] as const;
/** What starts a triggered run. @beta */
export type TriggerKind = (typeof KINDS)[number];

/** A trigger in normal form: defaults applied, one kind. @beta */
export interface TriggerDef {
  readonly name: string;
  readonly kind: TriggerKind;
  /** Position in the workflow's `triggers` list. */
  readonly index: number;
  /** Templates over `{ event, trigger: { name, due } }` giving the run input. */
  readonly input?: Readonly<Record<string, unknown>>;
  readonly cron?: string;
  readonly timezone: string;
  readonly overlap: OverlapPolicy;
  readonly catchup: CatchupPolicy;
  readonly catchupWindowMs: number;
  readonly jitterMs: number;
  /** The event name (webhooks: `webhook:<path>`). */
  readonly event?: string;
  readonly filter?: string;
  readonly path?: string;
  readonly secretEnv?: string;
  readonly signatureHeader: string;
  readonly idHeader?: string;
}

/** What a run records about the trigger that started it (its header's `trigger`). @beta */
export interface TriggerRef {
  readonly workflow: string;
  readonly name: string;
  readonly kind: TriggerKind;
  /** The due time a schedule fired for (ISO 8601). */
  readonly due?: string;
  /** The event (or webhook delivery) id. */
  readonly eventId?: string;
}

const KNOWN = {
  trigger: Object.keys(triggerSchema.shape),
  schedule: Object.keys(scheduleObjectSchema.shape),
  event: Object.keys(eventObjectSchema.shape),
  webhook: Object.keys(webhookObjectSchema.shape),
};

/** Milliseconds of a `catchup_window` (a number of ms, or `90s`, `15m`, `6h`, `2d`). */
export function durationMs(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = DURATION.exec(value.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : NaN;
}

/** The workflow's triggers in normal form (of a validated workflow: shapes are not checked again). @beta */
export function triggersOf(workflow: { readonly triggers?: readonly TriggerSpec[] }): TriggerDef[] {
  return (workflow.triggers ?? []).map((t, index) => normalize(t, index));
}

function normalize(t: TriggerSpec, index: number): TriggerDef {
  const kind = KINDS.find((k) => t[k] !== undefined) ?? 'event';
  const base = {
    name: t.name ?? `${kind}-${index}`,
    kind,
    index,
    timezone: 'UTC',
    overlap: 'skip' as OverlapPolicy,
    catchup: 'none' as CatchupPolicy,
    catchupWindowMs: DEFAULT_CATCHUP_WINDOW_MS,
    jitterMs: 0,
    signatureHeader: DEFAULT_SIGNATURE_HEADER,
  };
  if (kind === 'schedule') {
    const s = typeof t.schedule === 'string' ? { cron: t.schedule } : t.schedule!;
    return {
      ...base,
      cron: s.cron,
      timezone: s.timezone ?? 'UTC',
      overlap: s.overlap ?? 'skip',
      catchup: s.catchup ?? 'none',
      catchupWindowMs: s.catchup_window === undefined ? DEFAULT_CATCHUP_WINDOW_MS : durationMs(s.catchup_window),
      jitterMs: s.jitter_ms ?? 0,
      ...(s.input ? { input: s.input } : {}),
    };
  }
  if (kind === 'event') {
    const e = typeof t.event === 'string' ? { name: t.event } : t.event!;
    return {
      ...base,
      event: e.name,
      ...(e.filter ? { filter: e.filter } : {}),
      ...(e.input ? { input: e.input } : {}),
    };
  }
  const w = t.webhook!;
  return {
    ...base,
    event: `webhook:${w.path}`,
    path: w.path,
    secretEnv: w.secret_env,
    signatureHeader: w.signature_header ?? DEFAULT_SIGNATURE_HEADER,
    ...(w.id_header ? { idHeader: w.id_header } : {}),
    ...(w.input ? { input: w.input } : {}),
  };
}

/** A schedule's cron (croner: 5 fields, or 6 with leading seconds; DST as workflow-spec.md §10). */
export function cronOf(def: Pick<TriggerDef, 'cron' | 'timezone'>): Cron {
  return new Cron(def.cron!, { paused: true, mode: '5-or-6-parts', timezone: def.timezone });
}

/** The next `count` fire times of a schedule strictly after `from`. @beta */
export function nextFireTimes(def: Pick<TriggerDef, 'cron' | 'timezone'>, from: Date, count: number): Date[] {
  const cron = cronOf(def);
  const out: Date[] = [];
  let at: Date | null = from;
  while (out.length < count && (at = cron.nextRun(at))) out.push(at);
  return out;
}

/** Due times in `(after, until]`, oldest first, at most `limit` of them. */
export function dueTimesBetween(cron: Cron, after: Date, until: Date, limit = 10_000): Date[] {
  const out: Date[] = [];
  let at: Date | null = after;
  while (out.length < limit && (at = cron.nextRun(at)) && at.getTime() <= until.getTime()) out.push(at);
  return out;
}

let zones: readonly string[] | undefined;
const timeZones = () =>
  (zones ??= [
    ...((Intl as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('timeZone') ?? []),
    'UTC',
  ]);

function validZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const TEMPLATE_ROOTS = ['event', 'trigger'];
const TRIGGER_FIELDS = ['name', 'due'];

/** Every problem of a workflow's `triggers` (shape and meaning), with field paths from the workflow's root. */
export function triggerIssues(value: unknown): Issue[] {
  if (value === undefined) return [];
  const issues: Issue[] = [];
  if (!Array.isArray(value)) {
    issues.push({
      code: 'invalid_type',
      path: 'triggers',
      message: 'expected a list of triggers',
      hint: 'triggers: [{ schedule: "0 8 * * 1-5" }]',
    });
    return issues;
  }
  const names = new Map<string, number>();
  value.forEach((raw, i) => {
    const base: PathSegment[] = ['triggers', i];
    const outer = outerSchema.safeParse(raw);
    if (!outer.success) {
      issues.push(...fromZodIssues(outer.error.issues, raw, base, (p) => knownAt(p)));
      return;
    }
    const shapeIssues = KINDS.flatMap((k) => kindShapeIssues(k, outer.data[k], [...base, k]));
    if (shapeIssues.length) return void issues.push(...shapeIssues);
    const parsed = triggerSchema.safeParse(raw);
    if (!parsed.success) return void issues.push(...fromZodIssues(parsed.error.issues, raw, base, knownAt));
    const t = parsed.data;
    const kinds = KINDS.filter((k) => t[k] !== undefined);
    if (kinds.length !== 1) {
      issues.push({
        code: kinds.length ? 'invalid_value' : 'missing_field',
        path: formatPath(base),
        message: kinds.length
          ? `a trigger has exactly one of schedule, event, webhook; got ${kinds.join(' and ')}`
          : 'a trigger needs one of schedule, event, webhook',
        hint: kinds.length ? 'split it into one trigger per kind' : 'e.g. { schedule: "0 8 * * 1-5" }',
      });
      return;
    }
    const def = normalize(t, i);
    const first = names.get(def.name);
    if (first !== undefined)
      issues.push({
        code: 'duplicate_id',
        path: formatPath([...base, 'name']),
        message: `duplicate trigger name "${def.name}"`,
        hint: `first used at triggers[${first}]; names must be unique within a workflow`,
      });
    else names.set(def.name, i);
    issues.push(...meaningIssues(def, t, base));
  });
  return issues;
}

function kindShapeIssues(kind: TriggerKind, value: unknown, path: PathSegment[]): Issue[] {
  if (value === undefined || (kind !== 'webhook' && typeof value === 'string' && value)) return [];
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return [
      {
        code: 'invalid_type',
        path: formatPath(path),
        message: `expected ${kind === 'webhook' ? 'an object' : 'a string or an object'}`,
        hint: { schedule: 'e.g. "0 8 * * 1-5"', event: 'e.g. "ticket.created"', webhook: '{ path, secret_env }' }[kind],
      },
    ];
  const parsed = KIND_SCHEMAS[kind].safeParse(value);
  if (parsed.success) return [];
  const given = value as Record<string, unknown>;
  return fromZodIssues(parsed.error.issues, value, path, () => KNOWN[kind]).map((issue) => {
    const field = issue.path.split('.').pop()!;
    const choices = field === 'overlap' ? OVERLAP_POLICIES : field === 'catchup' ? CATCHUP_POLICIES : undefined;
    const hint = choices && typeof given[field] === 'string' ? didYouMean(given[field], choices) : undefined;
    return hint ? { ...issue, hint } : issue;
  });
}

function knownAt(path: readonly PathSegment[]): readonly string[] | undefined {
  const last = path.filter((p) => typeof p === 'string').pop();
  if (last === 'schedule' || last === 'event' || last === 'webhook') return KNOWN[last];
  return KNOWN.trigger;
}

function meaningIssues(def: TriggerDef, t: TriggerSpec, base: PathSegment[]): Issue[] {
  const issues: Issue[] = [];
  const objectForm = typeof t[def.kind] === 'object';
  const at = (...rest: PathSegment[]) => formatPath([...base, def.kind, ...rest]);
  if (def.kind === 'schedule') {
    const tzBad = !validZone(def.timezone);
    if (tzBad)
      issues.push({
        code: 'invalid_value',
        path: at('timezone'),
        message: `unknown time zone "${def.timezone}"`,
        hint: didYouMean(def.timezone, timeZones()) ?? 'an IANA name such as Europe/Berlin or America/New_York',
      });
    try {
      cronOf({ cron: def.cron, timezone: tzBad ? 'UTC' : def.timezone });
    } catch (err) {
      issues.push({
        code: 'invalid_value',
        path: objectForm ? at('cron') : at(),
        message: `bad cron "${def.cron}": ${(err as Error).message.replace(/^CronPattern: /, '')}`,
        hint: 'five fields (minute hour day month weekday), or six with leading seconds, e.g. "0 8 * * 1-5"',
      });
    }
    if (Number.isNaN(def.catchupWindowMs))
      issues.push({ code: 'invalid_value', path: at('catchup_window'), message: 'not a duration' });
  }
  if (def.filter !== undefined) {
    const parsed = parseExpression(def.filter);
    if (!parsed.ok)
      issues.push({
        code: 'invalid_expression',
        path: at('filter'),
        message: parsed.message,
        hint: 'filters are JSONata over { event }, e.g. event.data.priority = "high"',
      });
  }
  for (const [key, template] of Object.entries(def.input ?? {})) issues.push(...templateIssues(template, [key], at));
  return issues;
}

/** Templates in a trigger's `input` read `event...` or `trigger.name` / `trigger.due`. */
function templateIssues(value: unknown, path: PathSegment[], at: (...rest: PathSegment[]) => string): Issue[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => templateIssues(v, [...path, i], at));
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => templateIssues(v, [...path, k], at));
  if (typeof value !== 'string') return [];
  const issues: Issue[] = [];
  splitTemplates(value).forEach((body, i) => {
    if (i % 2 === 0) return;
    const parts = body.replace(/\[(\d+)\]/g, '.$1').split('.');
    const where = at('input', ...path);
    if (!parts.every((p) => /^[A-Za-z0-9_$-]+$/.test(p)))
      issues.push({
        code: 'invalid_template',
        path: where,
        message: `"{{ ${body} }}" is not a path like event.data.topic or trigger.due`,
      });
    else if (!TEMPLATE_ROOTS.includes(parts[0]))
      issues.push({
        code: 'invalid_template',
        path: where,
        message: `"{{ ${body} }}" starts with "${parts[0]}"; a trigger's input templates start with event or trigger`,
        hint: didYouMean(parts[0], TEMPLATE_ROOTS) ?? 'e.g. "{{ event.data.topic }}" or "{{ trigger.due }}"',
      });
    else if (parts[0] === 'trigger' && (parts.length !== 2 || !TRIGGER_FIELDS.includes(parts[1])))
      issues.push({
        code: 'invalid_template',
        path: where,
        message: `"{{ ${body} }}": a trigger has name and due`,
        hint: didYouMean(parts[1] ?? '', TRIGGER_FIELDS) ?? 'write trigger.name or trigger.due',
      });
  });
  return issues;
}
