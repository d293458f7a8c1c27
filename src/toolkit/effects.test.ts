import { describe, expect, it } from 'vitest';
import { builtinTools } from '../../tools/index.js';
import { effectsFromHints, effectsOf } from './effects.js';

describe('effects (workflow-spec.md §7a)', () => {
  it('built-ins declare them honestly; http_request by its method; undeclared is external', () => {
    const byName = Object.fromEntries(builtinTools().map((t) => [t.name, t]));
    for (const name of ['send_email', 'write_file']) expect(effectsOf(byName[name]), name).toBe('external');
    for (const name of [
      'llm_generate_idea',
      'retry_generate_idea',
      'draft_email',
      'web_search',
      'calculate',
      'summarize_results',
      'read_file',
      'echo',
      'sleep',
    ])
      expect(effectsOf(byName[name]), name).toBe('none');
    expect(effectsOf(byName.http_request, { url: 'http://x' })).toBe('none');
    expect(effectsOf(byName.http_request, { url: 'http://x', method: 'GET' })).toBe('none');
    expect(effectsOf(byName.http_request, { url: 'http://x', method: 'POST' })).toBe('external');
    expect(effectsOf({})).toBe('external');
    expect(
      effectsOf({
        effects: () => {
          throw new Error('cannot tell');
        },
      }),
    ).toBe('external');
  });

  it('MCP tool hints: readOnlyHint is none, idempotentHint idempotent, anything else external', () => {
    expect(effectsFromHints({ readOnlyHint: true })).toBe('none');
    expect(effectsFromHints({ readOnlyHint: false, idempotentHint: true })).toBe('idempotent');
    expect(effectsFromHints({})).toBe('external');
    expect(effectsFromHints(undefined)).toBe('external');
  });
});
