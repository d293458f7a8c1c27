/**
 * The offline planner: deterministic keyword rules, so `braid plan` and the `plan` tool work without a
 * network (the result says it was planned offline). Stages run in this order, each only when its tool is
 * registered and its words appear in the goal:
 *
 *   gather   web_search (search, find, look up, research, compare, cost, price, latest, news)
 *            calculate ("calculate|compute|convert <expression>"), http_request (a URL in the goal),
 *            any other tool whose name words all appear in the goal (inputs by offline rule 5)
 *   think    llm_generate_idea (idea, brainstorm, propose, pitch)
 *   merge    summarize_results (summary, summarize, compare, report, overview), and always before an
 *            email when something was gathered
 *   write    draft_email (email, mail)
 *   deliver  send_email (send, email me, an address), after the draft
 *
 * The goal is read clause by clause (split at commas, "then", and at "and" before an action word), so
 * "compare solar and wind costs and email me a summary" searches "solar and wind costs". Gather tasks are
 * roots and run in parallel; each later stage depends on the stage before it. With no
 * match, the goal is searched and summarized.
 */
import { BraidError } from '../errors.js';
import { extractArguments } from '../llm/offline.js';
import type { TaskSpec, WorkflowSpec } from '../spec/schema.js';
import { toJSONSchema } from '../toolkit/json-schema.js';
import type { ToolRegistry } from '../toolkit/registry.js';

/** Tools the stage rules place; every other tool joins the gather stage when all its name words are in the goal. */
const STAGED = new Set([
  'web_search',
  'calculate',
  'http_request',
  'llm_generate_idea',
  'retry_generate_idea',
  'summarize_results',
  'draft_email',
  'send_email',
  'plan',
]);

const has = (goal: string, re: RegExp) => re.test(goal);
const EMAIL_ADDRESS = /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/;

/** The subject of the goal: without the later actions ("and email me a summary") and the leading verb. */
export function topicOf(goal: string): string {
  const withoutActions = goal.replace(
    /[,;]?\s*\b(and\s+)?(then\s+)?(e-?mail|send|mail|summari[sz]e|write|draft|report)\b.*$/i,
    '',
  );
  const withoutVerb = withoutActions.replace(
    /^\s*(please\s+)?(compare|search(\s+the\s+web)?(\s+for)?|find(\s+out)?|look\s+up|research|get|tell\s+me(\s+about)?|brainstorm(\s+ideas?)?(\s+(for|about|on))?|propose)\s+/i,
    '',
  );
  return withoutVerb.trim().replace(/[.?!]+$/, '') || goal.trim();
}

function uniqueId(tasks: readonly TaskSpec[], base: string): string {
  const taken = new Set(tasks.map((t) => t.id));
  let id = base;
  for (let n = 2; taken.has(id); n++) id = `${base}${n}`;
  return id;
}

export function offlinePlan(goal: string, registry: ToolRegistry): WorkflowSpec {
  const can = (tool: string) => registry.has(tool);
  const topic = topicOf(goal);
  const tasks: TaskSpec[] = [];
  const add = (task: TaskSpec) => (tasks.push(task), task.id);

  // gather: per clause ("... and email me" splits only before an action word), so each gets its own input
  const gathered: string[] = [];
  const clauses = goal
    .split(
      /\s*(?:[,;]|\bthen\b|\band\s+(?=(?:then\s+)?(?:search|find|look|research|compare|calculate|compute|convert|e-?mail|send|mail|summari[sz]e|write|draft|brainstorm|propose|fetch|get)\b))\s*/i,
    )
    .filter(Boolean);
  for (const clause of clauses) {
    const expression = /\b(?:calculate|compute|convert)\s+(.+)$/i.exec(clause)?.[1];
    if (can('calculate') && expression)
      gathered.push(add({ id: uniqueId(tasks, 'calculate'), tool: 'calculate', input: { expression } }));
    else if (
      can('web_search') &&
      has(clause, /\b(search|find|look(ing)?\s+up|research|compare|costs?|prices?|latest|news|facts?)\b/i)
    ) {
      gathered.push(
        add({ id: uniqueId(tasks, 'search'), tool: 'web_search', input: { query: topicOf(clause), max_results: 5 } }),
      );
    }
  }
  const url = /https?:\/\/\S+/.exec(goal)?.[0];
  if (can('http_request') && url) gathered.push(add({ id: 'fetch', tool: 'http_request', input: { url } }));
  for (const tool of registry.list()) {
    if (STAGED.has(tool.name)) continue;
    const words = tool.name
      .toLowerCase()
      .split(/[_\-\s]+/)
      .filter((w) => w.length > 2);
    if (words.length && words.every((w) => goal.toLowerCase().includes(w)))
      gathered.push(add({ id: tool.name, tool: tool.name, input: extractArguments(toJSONSchema(tool), goal) }));
  }

  // think
  let idea: string | undefined;
  if (can('llm_generate_idea') && has(goal, /\b(ideas?|brainstorm|propose|pitch)\b/i)) {
    idea = add({
      id: 'idea',
      tool: 'llm_generate_idea',
      input: { topic },
      ...(gathered.length ? { dependencies: [...gathered] } : {}),
    });
  }

  const wantsEmail = has(goal, /\b(e-?mail|mail)\b/i) || EMAIL_ADDRESS.test(goal);
  if (!gathered.length && !idea && can('web_search'))
    gathered.push(add({ id: 'search', tool: 'web_search', input: { query: topic, max_results: 5 } }));
  if (!tasks.length)
    throw new BraidError(
      'E_PLAN',
      `the offline planner found no registered tool for "${goal}" (it matches words like search, calculate, idea, summary, email); set OPENAI_API_KEY to plan with a model`,
    );

  // merge
  let summary: string | undefined;
  const sources = [...gathered, ...(idea ? [idea] : [])];
  if (
    can('summarize_results') &&
    gathered.length &&
    (has(goal, /\b(summar\w*|compare|report|overview|digest|brief)\b/i) || wantsEmail || gathered.length > 1)
  ) {
    summary = add({
      id: 'summarize',
      tool: 'summarize_results',
      input: { goal, results: Object.fromEntries(sources.map((id) => [id, `{{ tasks.${id}.output }}`])) },
      dependencies: sources,
    });
  }

  // write, deliver
  if (wantsEmail && can('draft_email')) {
    const text = summary
      ? `{{ tasks.${summary}.output.summary }}`
      : idea
        ? `{{ tasks.${idea}.output.idea }}`
        : `Findings: ${sources.map((id) => `{{ tasks.${id}.output }}`).join(' ')}`;
    const draft = add({
      id: 'draft',
      tool: 'draft_email',
      input: { idea: text, recipient: '{{ input.to }}' },
      dependencies: [summary ?? idea ?? sources[0], ...(summary || idea ? [] : sources.slice(1))],
    });
    if (
      can('send_email') &&
      (has(goal, /\b(send|e-?mail\s+(me|us|them|it)|mail\s+me)\b/i) || EMAIL_ADDRESS.test(goal))
    ) {
      add({
        id: 'send',
        tool: 'send_email',
        input: {
          to: '{{ input.to }}',
          subject: `{{ tasks.${draft}.output.subject }}`,
          body: `{{ tasks.${draft}.output.body }}`,
        },
        dependencies: [draft],
      });
    }
  }

  const usesTo = tasks.some((t) => JSON.stringify(t.input).includes('{{ input.to }}'));
  return {
    name:
      (clauses[0] ?? goal)
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '')
        .split('-')
        .slice(0, 6)
        .join('-') || 'plan',
    description: `Planned offline (keyword rules) from: ${goal}`,
    ...(usesTo
      ? {
          inputs: {
            type: 'object',
            properties: {
              to: {
                type: 'string',
                default: EMAIL_ADDRESS.exec(goal)?.[0] ?? 'me@example.com',
                description: 'who gets the email',
              },
            },
          },
        }
      : {}),
    tasks,
  };
}
