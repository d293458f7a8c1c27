/**
 * `braid/testing`: helpers for testing your own tools and workflows offline and deterministically: a scripted
 * model, runs that return their events, and a run store in memory (resume and approve work against it).
 *
 * ```ts
 * import { ScriptedModel, label, runForTest } from 'braid/testing';
 * const model = new ScriptedModel({ classify: [label('good')], llm_generate_idea: [{ object: { idea: 'x', pitch: 'y',
 * score: 0.9 } }] });
 * const { result, started } = await runForTest('flow.yaml', { llm: model, input: { topic: 'kites' } });
 * ```
 */
export { ScriptedModel, label, type Script, type ScriptedAnswer, type ScriptedModelOptions } from './scripted-model.js';
export { runForTest, type TestRun } from './run.js';
export { MemoryRunStore } from '../store/memory-store.js';
