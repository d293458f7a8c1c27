import { describe, expect, it } from 'vitest';
import { decideTrigger } from './trigger-rules.js';

const c = (succeeded: number, failed: number, skipped: number, total = succeeded + failed + skipped) => ({
  total,
  succeeded,
  failed,
  skipped,
});

describe('decideTrigger', () => {
  it('runs a root (no upstreams) under every rule', () => {
    for (const rule of ['all_success', 'one_failed', 'none_failed'] as const)
      expect(decideTrigger(rule, c(0, 0, 0))).toBe('run');
  });
  it('none_failed_min_one_success: join after a skipped branch runs; all skipped skips; a failure skips', () => {
    expect(decideTrigger('none_failed_min_one_success', c(1, 0, 1))).toBe('run');
    expect(decideTrigger('none_failed_min_one_success', c(0, 0, 2))).toBe('upstream_skipped');
    expect(decideTrigger('none_failed_min_one_success', c(1, 1, 0))).toBe('upstream_failed');
    expect(decideTrigger('none_failed_min_one_success', c(1, 0, 0, 2))).toBe('wait');
  });
  it('all_success needs every upstream to succeed', () => {
    expect(decideTrigger('all_success', c(2, 0, 0))).toBe('run');
    expect(decideTrigger('all_success', c(1, 0, 1))).toBe('upstream_skipped');
    expect(decideTrigger('all_success', c(1, 1, 1))).toBe('upstream_failed');
  });
  it('all_done runs whatever happened, but only once all are terminal', () => {
    expect(decideTrigger('all_done', c(0, 1, 1))).toBe('run');
    expect(decideTrigger('all_done', c(0, 1, 0, 2))).toBe('wait');
  });
  it('one_success starts as soon as one succeeds', () => {
    expect(decideTrigger('one_success', c(1, 0, 0, 3))).toBe('run');
    expect(decideTrigger('one_success', c(0, 1, 0, 3))).toBe('wait');
    expect(decideTrigger('one_success', c(0, 1, 2))).toBe('upstream_failed');
    expect(decideTrigger('one_success', c(0, 0, 2))).toBe('upstream_skipped');
  });
  it('one_failed starts as soon as one fails', () => {
    expect(decideTrigger('one_failed', c(0, 1, 0, 3))).toBe('run');
    expect(decideTrigger('one_failed', c(2, 0, 0))).toBe('condition_false');
    expect(decideTrigger('one_failed', c(0, 0, 2))).toBe('upstream_skipped');
  });
  it('none_failed accepts all skipped', () => {
    expect(decideTrigger('none_failed', c(0, 0, 2))).toBe('run');
    expect(decideTrigger('none_failed', c(1, 1, 0))).toBe('upstream_failed');
  });
});
