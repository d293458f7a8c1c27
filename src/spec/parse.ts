/** Read a workflow file (JSON or YAML) into a plain value, or issues that name the line. */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseDocument } from 'yaml';
import type { Issue } from '../errors.js';

export type ParsedFile = { ok: true; value: unknown } | { ok: false; issues: Issue[] };

export function parseText(text: string, format: 'json' | 'yaml'): ParsedFile {
  if (format === 'json') {
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (err) {
      return { ok: false, issues: [{ code: 'parse_error', path: '', message: `invalid JSON: ${(err as Error).message}`, hint: 'check commas and quotes near that position' }] };
    }
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      issues: doc.errors.map((e) => ({
        code: 'parse_error' as const,
        path: e.linePos ? `line ${e.linePos[0].line}` : '',
        message: `invalid YAML: ${e.message.split('\n')[0]}`,
        hint: 'check indentation and quoting',
      })),
    };
  }
  return { ok: true, value: doc.toJS() };
}

export function formatOf(file: string): 'json' | 'yaml' | undefined {
  const ext = extname(file).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  return undefined;
}

export async function parseFile(file: string): Promise<ParsedFile> {
  const format = formatOf(file);
  if (!format) {
    return { ok: false, issues: [{ code: 'parse_error', path: '', message: `unsupported file type "${extname(file) || '(none)'}"`, hint: 'use .json, .yaml or .yml' }] };
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? 'file not found' : `cannot read file: ${(err as Error).message}`;
    return { ok: false, issues: [{ code: 'parse_error', path: '', message, hint: 'check the path' }] };
  }
  return parseText(text, format);
}
