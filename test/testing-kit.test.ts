/** braid/testing, as a user's test would use it: a scripted model, runs that return their events. */
import { describe, expect, it } from 'vitest';
import { label, runForTest, ScriptedModel } from 'braid/testing';

const idea = (text: string) => ({ object: { idea: text, pitch: `pitch: ${text}`, score: null } });

describe('braid/testing', () => {
  it('a scripted judge takes each branch of the conditional example on demand, and the calls are recorded', async () => {
    const good = new ScriptedModel({
      llm_generate_idea: [idea('solar kites for schools')],
      classify: [label('good', 'concrete')],
      draft_email: [{ object: { subject: 'Kites', body: 'Solar kites for schools' } }],
    });
    const a = await runForTest('examples/seed-conditional.json', {
      llm: good,
      input: { topic: 'kites', to: 'a@b.co' },
    });
    expect(a.result.status).toBe('succeeded');
    expect(a.started).toEqual(['task_1', 'task_2a', 'task_3']);
    expect(a.result.tasks.task_1).toMatchObject({ label: 'good', labelReason: 'concrete' });
    expect(good.callsFor('classify')).toHaveLength(1);
    expect(a.eventsOf('llm.call').every((e) => e.provider === 'scripted')).toBe(true);

    const bad = new ScriptedModel({
      llm_generate_idea: [idea('kites')],
      classify: [label('bad', 'too vague')],
      retry_generate_idea: [idea('kites with a budget and an owner')],
    });
    const b = await runForTest('examples/seed-conditional.json', { llm: bad, input: { topic: 'kites', to: 'a@b.co' } });
    expect(b.started).toEqual(['task_1', 'task_2b', 'task_3']);
    // the judge's reason reached the retry prompt
    expect(JSON.stringify(bad.callsFor('retry_generate_idea')[0].messages)).toContain('too vague');
  });

  it('a missing answer is a clear error naming the purpose, not a hang or a made-up answer', async () => {
    const model = new ScriptedModel({ classify: [label('good')] });
    const r = await runForTest('examples/seed-conditional.json', {
      llm: model,
      input: { topic: 'kites', to: 'a@b.co' },
    });
    expect(r.result.tasks.task_1.error?.message).toMatch(
      /no answer left for purpose "llm_generate_idea"; answers left: classify \(1\)/,
    );
  });

  it('a structured answer that does not match the schema asked for fails loudly', async () => {
    const model = new ScriptedModel({ llm_generate_idea: [{ object: { idea: 42 } }] });
    const r = await runForTest([{ id: 'a', tool: 'llm_generate_idea', input: { topic: 'x' } }], { llm: model });
    expect(r.result.tasks.a.error?.message).toMatch(/does not match the requested schema/);
  });
});

describe('MemoryRunStore', () => {
  it('records a run, approves and resumes it, with one writer at a time, like the file store', async () => {
    const { MemoryRunStore } = await import('braid/testing');
    const { resumeRun, approveTask } = await import('braid');
    const store = new MemoryRunStore();
    const wf = {
      name: 'gate',
      tasks: [
        { id: 'a', tool: 'echo', input: { value: 1 } },
        { id: 'b', tool: 'echo', input: { value: 2 }, approval: true, dependencies: ['a'] },
      ],
    };
    const first = await runForTest(wf, { store });
    expect(first.result.status).toBe('waiting');
    expect(await store.list()).toEqual([first.result.runId]);
    await approveTask(store, first.result.runId, 'b', { approved: true });
    const lock = await store.lock(first.result.runId);
    await expect(store.lock(first.result.runId)).rejects.toThrow(/is being continued/);
    lock.release();
    const done = await resumeRun(first.result.runId, { store });
    expect(done.status).toBe('succeeded');
    expect(done.tasks.a.attempts).toBe(1); // reused, not run again
  });
});
