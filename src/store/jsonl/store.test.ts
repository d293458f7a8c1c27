/**
 * The JSONL run store's own edges (store/jsonl/), fast and in-process: what a damaged line is reported as,
 * which run ids are accepted, the errors it throws, reading a record in slices, and a log that cannot write.
 * The behaviour suites (store*, run-lock, run-views) cover whole runs; these pin down what they do not.
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { RunEvent } from '../../core/events.js';
import type { Workflow } from '../../spec/workflow.js';
import { JsonlRunStore, parseRunLog, storeError } from './index.js';
import type { RunHeader } from '../types.js';

/**
 * node:fs and node:fs/promises pass through, watched: a test can make a write or a truncate of one file fail,
 * count the fdatasyncs of a file, see which FileHandles are still open, and make a handle's stat report a file
 * larger than it is (a file cut back after it was measured).
 */
const fsWatch = vi.hoisted(() => ({
  paths: new Map<number, string>(),
  synced: [] as string[],
  failWrite: undefined as string | undefined,
  failTruncate: undefined as string | undefined,
  handles: new Set<object>(),
  statExtra: 0,
}));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const errno = (code: string, why: string, syscall: string) =>
    Object.assign(new Error(`${code}: ${why}, ${syscall}`), { code, syscall });
  const openSync = ((path: string, ...rest: unknown[]) => {
    const fd = (fs.openSync as (...a: unknown[]) => number)(path, ...rest);
    fsWatch.paths.set(fd, String(path));
    return fd;
  }) as typeof fs.openSync;
  const writeSync = ((fd: number, ...rest: unknown[]) => {
    if (fsWatch.failWrite !== undefined && fsWatch.paths.get(fd) === fsWatch.failWrite)
      throw errno('ENOSPC', 'no space left on device', 'write');
    return (fs.writeSync as (...a: unknown[]) => number)(fd, ...rest);
  }) as typeof fs.writeSync;
  const ftruncateSync = (fd: number, len?: number) => {
    if (fsWatch.failTruncate !== undefined && fsWatch.paths.get(fd) === fsWatch.failTruncate)
      throw errno('EIO', 'i/o error', 'ftruncate');
    fs.ftruncateSync(fd, len);
  };
  const fdatasync = (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) =>
    fs.fdatasync(fd, (err) => (err || fsWatch.synced.push(fsWatch.paths.get(fd) ?? ''), cb(err)));
  const mocked = { openSync, writeSync, ftruncateSync, fdatasync };
  return { ...fs, ...mocked, default: { ...fs, ...mocked } };
});
vi.mock('node:fs/promises', async (importOriginal) => {
  const fsp = await importOriginal<typeof import('node:fs/promises')>();
  const open = (async (...args: Parameters<typeof fsp.open>) => {
    const handle = await fsp.open(...args);
    const { stat, close } = handle;
    fsWatch.handles.add(handle);
    return Object.assign(handle, {
      stat: async (opts?: { bigint?: false }) => {
        const info = (await stat.call(handle, opts)) as import('node:fs').Stats;
        info.size += fsWatch.statExtra;
        return info;
      },
      close: () => (fsWatch.handles.delete(handle), close.call(handle)),
    });
  }) as typeof fsp.open;
  return { ...fsp, open, default: { ...fsp, open } };
});

const root = mkdtempSync(join(tmpdir(), 'braid-jsonl-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshStore = () => new JsonlRunStore(join(root, `s${++dirs}`, 'runs'));

const workflow = { name: 'w', tasks: [{ id: 't', tool: 'echo' }] } as unknown as Workflow;
const header = (runId: string): RunHeader => ({
  type: 'run.record',
  version: 1,
  runId,
  createdAt: '2026-11-29T00:00:00.000Z',
  workflow,
  input: {},
});
const ts = '2026-11-29T00:00:01.000Z';
const ev = (seq: number, type: string, rest: Record<string, unknown> = {}) =>
  ({ seq, ts, runId: 'r', type, ...rest }) as unknown as RunEvent;
const line = (v: unknown) => `${JSON.stringify(v)}\n`;
const HEADER = line(header('r'));
const NO_HEADER = 'no header line: the workflow definition is missing, the run cannot be resumed';

describe('parseRunLog: every damaged line is reported by its number, never thrown', () => {
  it('events without what their type needs are reported and left out', () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ seq: 0, ts, type: 'run.started', workflow: 'w' }, 'run.started without a valid seq'],
      [{ seq: 1.5, ts, type: 'run.started', workflow: 'w' }, 'run.started without a valid seq'],
      [{ seq: 1, type: 'run.started', workflow: 'w' }, 'run.started without a time'],
      [{ seq: 1, ts, type: 'task.ready' }, 'task.ready without a taskId'],
      [{ seq: 1, ts, type: 'run.started', workflow: 'w', taskId: 5 }, 'run.started with a taskId that is not a string'],
      [{ seq: 1, ts, type: 'run.started', workflow: 5 }, 'run.started without a valid workflow'],
      [{ seq: 1, ts, type: 'run.finished' }, 'run.finished without a valid status'],
      [{ seq: 1, ts, type: 'task.started', taskId: 't', attempt: '1' }, 'task.started without a valid attempt'],
      [{ seq: 1, ts, type: 'task.failed', taskId: 't', error: 'boom' }, 'task.failed without a valid error'],
      [{ seq: 1, ts, type: 'task.failed', taskId: 't', error: null }, 'task.failed without a valid error'],
      [{ seq: 1, ts, type: 'task.retrying', taskId: 't', error: {} }, 'task.retrying without a valid error'],
      [{ seq: 1, ts, type: 'task.recovery', taskId: 't' }, 'task.recovery without a valid error'],
      [{ seq: 1, ts, type: 'task.skipped', taskId: 't' }, 'task.skipped without a valid reason'],
      [{ seq: 1, ts, type: 'task.labeled', taskId: 't', label: 'x' }, 'task.labeled without a valid source'],
      [{ seq: 1, ts, type: 'task.approval', taskId: 't', approved: 'yes' }, 'task.approval without a valid approved'],
      [{ seq: 1, ts, type: 'task.child', taskId: 't' }, 'task.child without a valid childRunId'],
      [{ seq: 1, ts, type: 'task.routed', taskId: 't' }, 'task.routed without a valid to'],
      [{ seq: 1, ts, type: 'llm.call', usage: null }, 'llm.call without a valid usage'],
      [{ seq: 1, ts, type: 'llm.call' }, 'llm.call without a valid usage'],
      [{ seq: 1, ts, type: 'llm.call', usage: 5 }, 'llm.call without a valid usage'],
      [
        { seq: 1, ts, type: 'llm.call', usage: { promptTokens: 1, completionTokens: 2 } },
        'llm.call without a valid usage',
      ],
      [{ seq: 1, ts, type: 'run.finished', status: 'failed', error: 'x' }, 'run.finished with a malformed error'],
      [{ seq: 1, ts, type: 'task.ready', taskId: 't', failed: { message: 1 } }, 'task.ready with a malformed failed'],
    ];
    const text = HEADER + bad.map(([v]) => line(v)).join('');
    const r = parseRunLog(text);
    expect(r.header).toEqual(header('r'));
    expect(r.events).toEqual([]);
    expect(r.problems).toEqual(bad.map(([, why], i) => `line ${i + 2}: ${why}, ignored`));
  });

  it('well-formed events of every kind are kept as they are', () => {
    const good = [
      ev(1, 'run.started', { workflow: 'w' }),
      ev(2, 'run.resumed'),
      ev(3, 'task.started', { taskId: 't', attempt: 1 }),
      ev(4, 'task.failed', { taskId: 't', error: { message: 'boom' } }),
      ev(5, 'llm.call', { usage: { promptTokens: 1, completionTokens: 2, totalTokens: 3 } }),
      ev(6, 'task.ready', { taskId: 't', failed: { message: 'before' } }),
      ev(7, 'something.new'),
      ev(8, 'task.retrying', { taskId: 't', error: { message: 'e' } }),
      ev(9, 'task.recovery', { taskId: 't', error: { message: 'e' } }),
      ev(10, 'task.skipped', { taskId: 't', reason: 'condition_false' }),
      ev(11, 'task.labeled', { taskId: 't', label: 'good', source: 'llm' }),
      ev(12, 'task.approval', { taskId: 't', approved: false }),
      ev(13, 'task.child', { taskId: 't', childRunId: 'c' }),
      ev(14, 'task.routed', { taskId: 't', to: 'u' }),
      ev(15, 'run.finished', { status: 'failed', error: { message: 'x' } }),
    ];
    expect(parseRunLog(HEADER + good.map(line).join(''))).toEqual({ header: header('r'), events: good, problems: [] });
  });

  it('lines that are not events or not JSON, a second header and a cut last line are named; blank lines skipped', () => {
    const text = `${HEADER}  \n{oops\n42\nnull\n{"type":7}\n${HEADER}${line(ev(1, 'run.resumed'))}{"seq":2,"ts`;
    expect(parseRunLog(text)).toEqual({
      header: header('r'),
      events: [ev(1, 'run.resumed')],
      problems: [
        'line 3: not valid JSON, ignored',
        'line 4: not an event, ignored',
        'line 5: not an event, ignored',
        'line 6: not an event, ignored',
        'line 7: a second header, ignored (the header is the first line)',
        'line 9: truncated last line (12 bytes, the writer stopped mid-line), ignored',
      ],
    });
    expect(parseRunLog('{oops\n').problems).toEqual([NO_HEADER, 'line 1: not valid JSON, ignored']);
    expect(parseRunLog('')).toEqual({ header: undefined, events: [], problems: [NO_HEADER] });
  });

  it('a header without a run id, workflow tasks, task ids or an input object is reported, and there is no header', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ...header('r'), runId: 5 }, 'a header without a run id or workflow tasks'],
      [{ ...header('r'), workflow: null }, 'a header without a run id or workflow tasks'],
      [{ ...header('r'), workflow: 'w' }, 'a header without a run id or workflow tasks'],
      [{ ...header('r'), workflow: { tasks: {} } }, 'a header without a run id or workflow tasks'],
      [{ ...header('r'), workflow: { tasks: [{ id: 't' }, null] } }, 'a header with a task without an id'],
      [{ ...header('r'), workflow: { tasks: [7] } }, 'a header with a task without an id'],
      [{ ...header('r'), workflow: { tasks: [{ id: 1 }] } }, 'a header with a task without an id'],
      [{ ...header('r'), input: null }, 'a header without an input object'],
      [{ ...header('r'), input: 'x' }, 'a header without an input object'],
    ];
    for (const [h, why] of cases)
      expect(parseRunLog(line(h))).toEqual({
        header: undefined,
        events: [],
        problems: [NO_HEADER, `line 1: ${why}, ignored`],
      });
  });
});

describe('JsonlRunStore: names, errors, listing', () => {
  it('a run id is letters, digits, _ . - (not first), at most 200 characters; a long bad one is cut in the message', () => {
    const store = new JsonlRunStore('/runs');
    expect(store.path('a')).toBe(join('/runs', 'a.jsonl'));
    expect(store.path(`A0_.-${'x'.repeat(195)}`)).toBe(join('/runs', `A0_.-${'x'.repeat(195)}.jsonl`));
    expect(store.lockPath('a')).toBe(join('/runs', '.locks', 'a.lock'));
    for (const id of ['', '.a', '-a', '_a', 'a/b', 'a b', 'x'.repeat(201), '../a'])
      expect(() => store.path(id)).toThrow(expect.objectContaining({ code: 'E_BAD_ARGUMENT' }));
    expect(() => store.lockPath('../a')).toThrow(/invalid run id/);
    expect(() => store.path('a/b')).toThrow('invalid run id "a/b" (letters, digits, _ . -, at most 200 characters)');
    expect(() => store.path(`/${'x'.repeat(60)}`)).toThrow(`invalid run id "/${'x'.repeat(59)}..." (`);
    expect(() => store.path(`/${'x'.repeat(59)}`)).toThrow(`invalid run id "/${'x'.repeat(59)}" (`);
  });

  it('storeError names what was done, the file and the system reason without the repeated path', () => {
    const enospc = Object.assign(new Error("ENOSPC: no space left on device, write '/d/r.jsonl'"), { code: 'ENOSPC' });
    expect(storeError('/d/r.jsonl', enospc)).toMatchObject({
      code: 'E_STORE',
      retryable: false,
      cause: enospc,
      message: 'cannot write the run record /d/r.jsonl (ENOSPC: no space left on device)',
    });
    const eacces = Object.assign(new Error('EACCES: permission denied, mkdir'), { code: 'EACCES' });
    expect(storeError('/d', eacces, 'create', 'the run store folder').message).toBe(
      'cannot create the run store folder /d (EACCES: permission denied)',
    );
    expect(storeError('/f', new Error('boom'), 'read').message).toBe('cannot read the run record /f (boom)');
    expect(storeError('/f', 'plain').message).toBe('cannot write the run record /f (plain)');
    expect(storeError('/f', undefined).message).toBe('cannot write the run record /f (undefined)');
    expect(storeError('/f', null).message).toBe('cannot write the run record /f (null)');
  });

  it('list: only valid run ids of .jsonl files, newest (greatest) first; a missing folder lists nothing', async () => {
    const store = freshStore();
    expect(await store.list()).toEqual([]);
    for (const id of ['20260101-a', '20261129-b', '20260601-c']) await (await store.create(header(id))).close();
    writeFileSync(join(store.dir, 'notes.txt'), 'x');
    writeFileSync(join(store.dir, '.hidden.jsonl'), 'x');
    expect(await store.list()).toEqual(['20261129-b', '20260601-c', '20260101-a']);
  });

  it('reading, folding, reopening or slicing a run that is not there is E_RUN_NOT_FOUND naming the folder', async () => {
    const store = freshStore();
    const message = `no run "nope" in ${store.dir} (list them with: braid runs)`;
    await expect(store.read('nope')).rejects.toMatchObject({ code: 'E_RUN_NOT_FOUND', message, retryable: false });
    await expect(store.fold('nope')).rejects.toMatchObject({ code: 'E_RUN_NOT_FOUND', message });
    await expect(store.readFrom('nope')).rejects.toMatchObject({ code: 'E_RUN_NOT_FOUND', message });
    await expect(store.reopen('nope')).rejects.toMatchObject({ code: 'E_RUN_NOT_FOUND', message });
    // the failed reopen released its lock
    (await store.lock('nope')).release();
    expect(await store.version('nope')).toBeUndefined();
  });

  it('a record that cannot be read is E_STORE naming the file and what was done', async () => {
    const store = freshStore();
    await (await store.create(header('x'))).close();
    mkdirSync(store.path('d'));
    const why = '(EISDIR: illegal operation on a directory)';
    await expect(store.read('d')).rejects.toMatchObject({
      code: 'E_STORE',
      message: `cannot read the run record ${store.path('d')} ${why}`,
    });
    await expect(store.readFrom('d')).rejects.toMatchObject({
      code: 'E_STORE',
      message: `cannot read the run record ${store.path('d')} ${why}`,
    });
    await expect(store.reopen('d')).rejects.toMatchObject({
      code: 'E_STORE',
      message: `cannot open the run record ${store.path('d')} ${why}`,
    });
    (await store.lock('d')).release();
  });

  it('create: an unserializable header is refused; an existing record is not overwritten and its lock is freed', async () => {
    const store = freshStore();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(store.create({ ...header('c'), input: cyclic })).rejects.toMatchObject({
      code: 'E_STORE',
      message: expect.stringMatching(/^run "c" cannot be recorded: its workflow or input is not serializable \(/),
    });
    await (await store.create(header('c'))).close();
    const before = readFileSync(store.path('c'), 'utf8');
    await expect(store.create(header('c'))).rejects.toMatchObject({
      code: 'E_STORE',
      message: `cannot create the run record ${store.path('c')} (EEXIST: file already exists)`,
    });
    expect(readFileSync(store.path('c'), 'utf8')).toBe(before);
    (await store.lock('c')).release();
  });
});

describe('JsonlRunStore: reading a record', () => {
  it('readFrom returns whole lines only, continues where it stopped, and counts lines from the start', async () => {
    const store = freshStore();
    const log = await store.create(header('r'));
    log.append(ev(1, 'run.started', { workflow: 'w' }));
    await log.flush();
    const first = await store.readFrom('r');
    expect(first).toMatchObject({ header: header('r'), events: [ev(1, 'run.started', { workflow: 'w' })], lines: 2 });
    expect(first.next).toBe(first.size);
    appendFileSync(store.path('r'), `${line(ev(2, 'run.resumed'))}{"seq":3`);
    const second = await store.readFrom('r', first.next, first.lines);
    expect(second).toMatchObject({ header: undefined, events: [ev(2, 'run.resumed')], problems: [], lines: 3 });
    expect(second.size - second.next).toBe('{"seq":3'.length);
    const none = await store.readFrom('r', second.next, second.lines);
    expect(none).toMatchObject({ events: [], problems: [], next: second.next, lines: 3 });
    await log.close();
  });

  it('a line longer than a read is reported once and skipped to its newline; the next lines keep their numbers', async () => {
    const store = freshStore();
    await (await store.create(header('r'))).close();
    const start = readFileSync(store.path('r')).length;
    appendFileSync(store.path('r'), `${'x'.repeat(120)}\n${line(ev(1, 'run.resumed'))}{oops\n`);
    const long = await store.readFrom('r', start, 1, 50);
    expect(long).toMatchObject({ events: [], problems: ['line 2: longer than 50 bytes, ignored'], lines: 2 });
    expect(long.next).toBe(start + 121);
    const rest = await store.readFrom('r', long.next, long.lines, 1000);
    expect(rest).toMatchObject({
      events: [ev(1, 'run.resumed')],
      problems: ['line 4: not valid JSON, ignored'],
      lines: 4,
    });
    // a line that runs on for several 64 KiB pieces after the read, and a read past the end
    writeFileSync(store.path('r'), `${'w'.repeat(200 * 1024)}\n${line(ev(1, 'run.resumed'))}`);
    const longer = await store.readFrom('r', 0, 0, 50);
    expect(longer).toMatchObject({ problems: ['line 1: longer than 50 bytes, ignored'], next: 200 * 1024 + 1 });
    const size = readFileSync(store.path('r')).length;
    expect(await store.readFrom('r', size + 10, 2)).toMatchObject({ events: [], next: size + 10, lines: 2, size });
    // a long line without its newline yet is an unfinished last line: nothing read, nothing reported
    writeFileSync(store.path('r'), 'y'.repeat(80));
    expect(await store.readFrom('r', 0, 0, 50)).toMatchObject({
      events: [],
      problems: [],
      next: 0,
      lines: 0,
      size: 80,
    });
  });

  it('fold reads the record in slices, reports a cut last line and a missing header', async () => {
    const store = freshStore();
    const log = await store.create(header('r'));
    log.append(ev(1, 'run.started', { workflow: 'w' }));
    await log.close();
    appendFileSync(store.path('r'), '{"seq":2');
    const folded = await store.fold('r');
    expect(folded.header).toEqual(header('r'));
    expect(folded.problems).toEqual(['line 3: truncated last line (8 bytes, the writer stopped mid-line), ignored']);
    expect(folded.version).toBe(await store.version('r'));
    writeFileSync(store.path('r'), line(ev(1, 'run.resumed')));
    expect((await store.fold('r')).problems).toEqual([NO_HEADER]);
  });

  it('a finished run is folded once until its file changes; an unfinished one every time', async () => {
    const store = freshStore();
    const log = await store.create(header('r'));
    log.append(ev(1, 'run.started', { workflow: 'w' }));
    await log.flush();
    const running = store.fold('r');
    expect((await running).run.status).toBe('interrupted'); // no live writer (alive: () => false)
    await new Promise((r) => setImmediate(r));
    expect(await store.fold('r')).not.toBe(await running);
    log.append(ev(2, 'run.finished', { status: 'succeeded' }));
    await log.close();
    const done = store.fold('r');
    expect((await done).run.status).toBe('succeeded');
    await new Promise((r) => setImmediate(r));
    expect(await store.fold('r')).toBe(await done);
    appendFileSync(store.path('r'), '\n');
    expect(await store.fold('r')).not.toBe(await done);
  });

  it('the fold cache keeps the 64 runs folded last', async () => {
    const store = freshStore();
    const ids = Array.from({ length: 65 }, (_, i) => `r${i}`);
    for (const id of ids) {
      const log = await store.create(header(id));
      log.append(ev(1, 'run.finished', { status: 'succeeded' }));
      await log.close();
    }
    const first = new Map<string, unknown>();
    for (const id of ids) first.set(id, await store.fold(id));
    await new Promise((r) => setImmediate(r));
    expect(await store.fold('r64')).toBe(first.get('r64'));
    expect(await store.fold('r1')).toBe(first.get('r1'));
    expect(await store.fold('r0')).not.toBe(first.get('r0'));
  });

  it('reopen cuts a torn last line back to the last newline, and appends go after it', async () => {
    const store = freshStore();
    const log = await store.create(header('r'));
    log.append(ev(1, 'run.started', { workflow: 'w' }));
    await log.close();
    const whole = readFileSync(store.path('r'), 'utf8');
    appendFileSync(store.path('r'), '{"seq":2,"ts":"20');
    const again = await store.reopen('r');
    again.append(ev(2, 'run.resumed'));
    await again.close();
    expect(readFileSync(store.path('r'), 'utf8')).toBe(whole + line(ev(2, 'run.resumed')));
    expect((await store.read('r')).problems).toEqual([]);
  });

  it('reopen finds the last newline also more than 64 KiB back (a long torn line)', async () => {
    const store = freshStore();
    const log = await store.create(header('r'));
    log.append(ev(1, 'run.started', { workflow: 'w' }));
    await log.close();
    const whole = readFileSync(store.path('r'), 'utf8');
    appendFileSync(store.path('r'), `{"seq":2,"pad":"${'z'.repeat(150 * 1024)}`);
    await (await store.reopen('r')).close();
    expect(readFileSync(store.path('r'), 'utf8')).toBe(whole);
    writeFileSync(store.path('r'), 'no newline at all'.repeat(5000));
    await (await store.reopen('r')).close();
    expect(readFileSync(store.path('r'), 'utf8')).toBe('');
  });
});

describe('JsonlRunStore: a log that cannot write', () => {
  it('an event that cannot be serialized fails the log once (E_STORE naming the event); later appends are dropped', async () => {
    const store = freshStore();
    const log = await store.create(header('r'));
    const failures: unknown[] = [];
    log.onFailure = (err) => failures.push(err);
    log.append(ev(1, 'run.started', { workflow: 'w' }));
    log.append(ev(2, 'task.succeeded', { taskId: 't', attempt: 1, visit: 1, durationMs: 1, output: 1n }));
    log.append(ev(3, 'run.finished', { status: 'succeeded' }));
    expect(log.failure).toMatchObject({
      code: 'E_STORE',
      message: `event 2 (task.succeeded of t) cannot be written to ${store.path('r')}: Do not know how to serialize a BigInt`,
    });
    expect(failures).toEqual([log.failure]);
    await expect(log.flush()).rejects.toBe(log.failure);
    await log.close().catch(() => {});
    const r = await store.read('r');
    expect(r.events.map((e) => e.seq)).toEqual([1]);
  });

  it('flushSync writes and syncs what is buffered at once; after close it does nothing', async () => {
    const store = freshStore();
    const log = await store.create(header('r'));
    log.append(ev(1, 'task.ready', { taskId: 't', visit: 1 }));
    expect(readFileSync(store.path('r'), 'utf8')).toBe(line(header('r')));
    store.flushSync();
    expect(readFileSync(store.path('r'), 'utf8')).toBe(
      line(header('r')) + line(ev(1, 'task.ready', { taskId: 't', visit: 1 })),
    );
    await log.close();
    await store.idle();
    log.append(ev(2, 'task.ready', { taskId: 't', visit: 2 }));
    store.flushSync();
    expect((await store.read('r')).events).toHaveLength(1);
  });
});

describe('JsonlRunStore: when lines reach the file', () => {
  afterEach(() => vi.restoreAllMocks());
  const file = (store: JsonlRunStore) => readFileSync(store.path('r'), 'utf8');
  const turn = () => new Promise((r) => setImmediate(r));

  it('run.started, run.resumed, task.approval and run.finished are written at once; other events a turn later', async () => {
    const store = freshStore();
    const log = await store.create(header('r'));
    let expected = line(header('r'));
    const barriers = [
      ev(1, 'run.started', { workflow: 'w' }),
      ev(2, 'run.resumed'),
      ev(3, 'task.approval', { taskId: 't', approved: true }),
      ev(4, 'run.finished', { status: 'succeeded' }),
    ];
    for (const e of barriers) {
      log.append(e);
      expected += line(e);
      expect(file(store)).toBe(expected);
    }
    log.append(ev(5, 'task.ready', { taskId: 't', visit: 1 }));
    expect(file(store)).toBe(expected);
    await turn();
    expect(file(store)).toBe(expected + line(ev(5, 'task.ready', { taskId: 't', visit: 1 })));
    await log.close();
  });

  it('64 KiB of buffered lines are written at once', async () => {
    const store = freshStore();
    const log = await store.create(header('r'));
    const small = ev(1, 'task.ready', { taskId: 't', visit: 1, pad: 'x'.repeat(60 * 1024) });
    log.append(small);
    expect(file(store)).toBe(line(header('r')));
    const more = ev(2, 'task.ready', { taskId: 't', visit: 1, pad: 'y'.repeat(4 * 1024) });
    log.append(more);
    expect(file(store)).toBe(line(header('r')) + line(small) + line(more));
    await log.close();
  });

  it('a synchronous stretch writes within about 50 ms: the clock is read every 32nd line', async () => {
    let now = 1000;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const store = freshStore();
    const log = await store.create(header('r'));
    const e = (seq: number) => ev(seq, 'task.ready', { taskId: 't', visit: seq });
    for (let seq = 1; seq <= 31; seq++) log.append(e(seq));
    now += 49;
    log.append(e(32)); // the 32nd line, 49 ms after the first: not yet
    expect(file(store)).toBe(line(header('r')));
    for (let seq = 33; seq <= 63; seq++) log.append(e(seq));
    now += 1; // 50 ms: the 64th line writes, the 63 before it too
    expect(file(store)).toBe(line(header('r')));
    log.append(e(64));
    const written = file(store).split('\n').length - 2;
    expect(written).toBe(64);
    await log.close();
  });

  it('a store folder that cannot be made is E_STORE naming it', async () => {
    const blocker = join(root, `file${++dirs}`);
    writeFileSync(blocker, 'x');
    const store = new JsonlRunStore(join(blocker, 'runs'));
    await expect(store.create(header('r'))).rejects.toMatchObject({
      code: 'E_STORE',
      message: `cannot create the run store folder ${store.dir} (ENOTDIR: not a directory)`,
    });
    await expect(store.lock('r')).rejects.toMatchObject({ code: 'E_STORE' });
  });

  it('idle resolves once every closed log is durable; flush after close resolves', async () => {
    const store = freshStore();
    const log = await store.create(header('r'));
    log.append(ev(1, 'task.ready', { taskId: 't', visit: 1 }));
    const closing = log.close();
    expect(log.close()).toBe(closing);
    expect(file(store)).toBe(line(header('r')) + line(ev(1, 'task.ready', { taskId: 't', visit: 1 })));
    await store.idle();
    await closing;
    await expect(log.flush()).resolves.toBeUndefined();
  });
});

describe('edges the second mutation pass missed', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    fsWatch.failWrite = fsWatch.failTruncate = undefined;
    fsWatch.statExtra = 0;
  });
  const syncs = (path: string) => fsWatch.synced.filter((p) => p === path).length;

  it('storeError strips only a leading code and a trailing path or syscall; other text of the reason stays', () => {
    const errno = (message: string, code: string) => Object.assign(new Error(message), { code });
    expect(storeError('/f', errno('lock failed on NFS: stale handle', 'ESTALE')).message).toBe(
      'cannot write the run record /f (ESTALE: lock failed on NFS: stale handle)',
    );
    expect(storeError('/f', errno("EIO: i/o error, read '/f' at 12", 'EIO')).message).toBe(
      "cannot write the run record /f (EIO: i/o error, read '/f' at 12)",
    );
    expect(storeError('/f', errno("ENOENT: no such file or directory, rename '/a' -> '/b'", 'ENOENT')).message).toBe(
      'cannot write the run record /f (ENOENT: no such file or directory)',
    );
  });

  it('a bad run id and an unserializable header are errors that are not retried', async () => {
    const store = freshStore();
    expect(() => store.path('a/b')).toThrow(expect.objectContaining({ code: 'E_BAD_ARGUMENT', retryable: false }));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(store.create({ ...header('c'), input: cyclic })).rejects.toMatchObject({
      code: 'E_STORE',
      retryable: false,
    });
  });

  it('a lock file that cannot be made is E_STORE naming it (the folders are made once, on first use)', async () => {
    const store = freshStore();
    await (await store.create(header('a'))).close();
    rmSync(join(store.dir, '.locks'), { recursive: true });
    await expect(store.lock('b')).rejects.toMatchObject({
      code: 'E_STORE',
      retryable: false,
      message: `cannot create the run lock ${store.lockPath('b')} (ENOENT: no such file or directory)`,
    });
  });

  it('create: a header that cannot be written leaves no record behind and frees the lock', async () => {
    const store = freshStore();
    fsWatch.failWrite = store.path('r');
    await expect(store.create(header('r'))).rejects.toMatchObject({
      code: 'E_STORE',
      message: `cannot write the run record ${store.path('r')} (ENOSPC: no space left on device)`,
    });
    expect(existsSync(store.path('r'))).toBe(false);
    fsWatch.failWrite = undefined;
    await (await store.create(header('r'))).close();
    expect(readFileSync(store.path('r'), 'utf8')).toBe(line(header('r')));
  });

  it('a new record is synced without an append; a reopened one closed without appends is not', async () => {
    const store = freshStore();
    const log = await store.create(header('r'));
    await log.flush();
    expect(syncs(store.path('r'))).toBe(1);
    await log.close();
    await (await store.reopen('r')).close();
    expect(syncs(store.path('r'))).toBe(1);
  });

  it('reopen: a record that cannot be cut back is E_STORE naming it, and the lock is freed', async () => {
    const store = freshStore();
    await (await store.create(header('r'))).close();
    appendFileSync(store.path('r'), '{"seq":1');
    fsWatch.failTruncate = store.path('r');
    await expect(store.reopen('r')).rejects.toMatchObject({
      code: 'E_STORE',
      message: `cannot open the run record ${store.path('r')} (EIO: i/o error)`,
    });
    (await store.lock('r')).release();
  });

  it('reopen leaves a record that ends with a whole line untouched (its version stays)', async () => {
    const store = freshStore();
    await (await store.create(header('r'))).close();
    utimesSync(store.path('r'), new Date(1e12), new Date(1e12));
    const before = await store.version('r');
    await (await store.reopen('r')).close();
    expect(await store.version('r')).toBe(before);
  });

  it('fold without an alive check counts the writer as gone; a running fold is not cached either', async () => {
    const store = freshStore();
    const log = await store.create({ ...header('r'), pid: process.pid });
    log.append(ev(1, 'run.started', { workflow: 'w' }));
    await log.flush();
    const interrupted = await store.fold('r');
    expect(interrupted.run.status).toBe('interrupted');
    expect(await store.fold('r')).not.toBe(interrupted);
    const running = await store.fold('r', () => true);
    expect(running.run.status).toBe('running');
    expect(await store.fold('r', () => true)).not.toBe(running);
    await log.close();
  });

  it('an unfinished fold that ends late does not drop the newer, finished fold from the cache', async () => {
    const store = freshStore();
    const log = await store.create(header('r'));
    log.append(ev(1, 'run.started', { workflow: 'w' }));
    await log.flush();
    const readFrom = store.readFrom.bind(store);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const reading = new Promise<void>((r) => (entered = r));
    let calls = 0;
    // The first fold is held after its last read (the one that finds nothing more), before it ends.
    vi.spyOn(store, 'readFrom').mockImplementation(async (...args) => {
      const slice = await readFrom(...args);
      if (++calls === 2) (entered(), await gate);
      return slice;
    });
    const stale = store.fold('r');
    await reading;
    log.append(ev(2, 'run.finished', { status: 'succeeded' }));
    await log.close();
    const done = await store.fold('r');
    expect(done.run.status).toBe('succeeded');
    release();
    expect((await stale).run.status).toBe('interrupted');
    expect(await store.fold('r')).toBe(done);
  });

  it('a fold that failed is not kept: the next fold reads the record again', async () => {
    const store = freshStore();
    const log = await store.create(header('r'));
    log.append(ev(1, 'run.finished', { status: 'succeeded' }));
    await log.close();
    vi.spyOn(store, 'readFrom').mockRejectedValueOnce(new Error('disk hiccup'));
    await expect(store.fold('r')).rejects.toThrow('disk hiccup');
    expect((await store.fold('r')).run.status).toBe('succeeded');
  });

  it('fold: a record that cannot be looked at is E_STORE naming it', async () => {
    const blocker = join(root, `file${++dirs}`);
    writeFileSync(blocker, 'x');
    const store = new JsonlRunStore(join(blocker, 'runs'));
    await expect(store.fold('r')).rejects.toMatchObject({
      code: 'E_STORE',
      message: `cannot read the run record ${store.path('r')} (ENOTDIR: not a directory)`,
    });
  });

  it('readFrom stops after the last whole line that fits in maxBytes (the cut line is read next time)', async () => {
    const store = freshStore();
    await (await store.create(header('r'))).close();
    const one = line(ev(1, 'run.resumed'));
    writeFileSync(store.path('r'), one + line(ev(2, 'run.resumed')));
    expect(await store.readFrom('r', 0, 0, one.length + 5)).toEqual({
      header: undefined,
      events: [ev(1, 'run.resumed')],
      problems: [],
      next: one.length,
      lines: 1,
      size: 2 * one.length,
    });
  });

  it('a too-long line whose newline is the first byte after the read is skipped up to that newline only', async () => {
    const store = freshStore();
    await (await store.create(header('r'))).close();
    writeFileSync(store.path('r'), `${'x'.repeat(50)}\n${line(ev(1, 'run.resumed'))}`);
    expect(await store.readFrom('r', 0, 0, 50)).toMatchObject({
      events: [],
      problems: ['line 1: longer than 50 bytes, ignored'],
      next: 51,
      lines: 1,
    });
  });

  it('readFrom lets the event loop turn when parsing has run for more than 8 ms, and only then', async () => {
    const store = freshStore();
    await (await store.create(header('r'))).close();
    const events = [1, 2, 3].map((seq) => ev(seq, 'run.resumed'));
    appendFileSync(store.path('r'), events.map(line).join(''));
    // Each reading of the clock is 8 ms later: every second line finds more than 8 ms passed since the last turn.
    let now = 1000;
    let reads = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => (reads++, (now += 8)));
    const slice = await store.readFrom('r');
    vi.restoreAllMocks();
    expect(slice).toMatchObject({ header: header('r'), events, problems: [], lines: 4 });
    // one start, one reading per line, one restart after each of the two turns
    expect(reads).toBe(1 + 4 + 2);
  }, 5000);

  it('readFrom closes the file it opened, also when the read fails', async () => {
    const store = freshStore();
    await (await store.create(header('r'))).close();
    await store.readFrom('r');
    mkdirSync(store.path('d'));
    await expect(store.readFrom('d')).rejects.toMatchObject({ code: 'E_STORE' });
    expect(fsWatch.handles.size).toBe(0);
  });

  it('a too-long line in a record cut back while it is read ends the read: nothing skipped or reported', async () => {
    const store = freshStore();
    await (await store.create(header('r'))).close();
    writeFileSync(store.path('r'), 'y'.repeat(80));
    fsWatch.statExtra = 100; // measured 180 bytes, 80 left when read
    expect(await store.readFrom('r', 0, 0, 50)).toMatchObject({ events: [], problems: [], next: 0, lines: 0 });
  }, 3000);
});
