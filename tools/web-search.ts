/**
 * Web search behind a provider interface. Offline by default: a bundled corpus of short factual entries
 * (`tools/data/search-corpus.json`) indexed with minisearch, labelled `provider: "offline"`. With
 * `BRAID_SEARCH_URL` set, a SearXNG-style JSON API is queried (`?q=...&format=json`, results with
 * title/url/content), with `BRAID_SEARCH_KEY` sent as a bearer token.
 */
import { readFileSync } from 'node:fs';
import type MiniSearch from 'minisearch';
import { lazy } from '../src/core/lazy.js';

/** Loaded by the first offline search. */
const miniSearch = lazy<typeof MiniSearch>('minisearch');
import { z } from 'zod';
import { defineTool } from '../src/toolkit/define-tool.js';
import { packagePath } from '../src/paths.js';

export interface SearchResult {
  title: string;
  url: string;
  snippet: string;
  score: number;
}

export interface SearchProvider {
  readonly name: string;
  search(query: string, maxResults: number, signal: AbortSignal): Promise<SearchResult[]>;
}

interface Entry {
  id: string;
  topic: string;
  title: string;
  text: string;
}

export class OfflineSearch implements SearchProvider {
  readonly name = 'offline';
  #index?: MiniSearch<Entry>;

  #load(): MiniSearch<Entry> {
    if (this.#index) return this.#index;
    const { entries } = JSON.parse(readFileSync(packagePath('tools', 'data', 'search-corpus.json'), 'utf8')) as {
      entries: Entry[];
    };
    const index = new (miniSearch())<Entry>({
      fields: ['title', 'text', 'topic'],
      storeFields: ['title', 'text', 'topic'],
      searchOptions: { boost: { title: 2 }, fuzzy: 0.2, prefix: true },
    });
    index.addAll(entries);
    return (this.#index = index);
  }

  async search(query: string, maxResults: number): Promise<SearchResult[]> {
    return this.#load()
      .search(query)
      .slice(0, maxResults)
      .map((r) => ({
        title: r.title as string,
        url: `braid://corpus/${r.id}`,
        snippet: r.text as string,
        score: Math.round(r.score * 100) / 100,
      }));
  }
}

export class HttpSearch implements SearchProvider {
  readonly name = 'http';
  constructor(
    readonly endpoint: string,
    readonly apiKey?: string,
  ) {}

  async search(query: string, maxResults: number, signal: AbortSignal): Promise<SearchResult[]> {
    const url = new URL(this.endpoint);
    url.searchParams.set('q', query);
    url.searchParams.set('format', 'json');
    const res = await fetch(url, { signal, headers: this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {} });
    if (!res.ok) throw new Error(`search API ${url.host} answered HTTP ${res.status}`);
    const body = (await res.json()) as {
      results?: { title?: string; url?: string; content?: string; score?: number }[];
    };
    return (body.results ?? []).slice(0, maxResults).map((r, i) => ({
      title: r.title ?? '',
      url: r.url ?? '',
      snippet: r.content ?? '',
      score: r.score ?? 1 / (i + 1),
    }));
  }
}

export function searchProviderFromEnv(): SearchProvider {
  return process.env.BRAID_SEARCH_URL
    ? new HttpSearch(process.env.BRAID_SEARCH_URL, process.env.BRAID_SEARCH_KEY)
    : offlineSearch;
}

const offlineSearch = new OfflineSearch();

/** The `web_search` tool: a bundled corpus offline, a SearXNG-style API when `BRAID_SEARCH_URL` is set. @public */
export const webSearch = defineTool({
  name: 'web_search',
  effects: 'none',
  description: 'Search the web (offline: a bundled corpus of short facts) and return titles, urls and snippets.',
  input: z.object({
    query: z.string().min(1).max(500).describe('what to search for'),
    max_results: z.number().int().min(1).max(50).default(5),
  }),
  output: z.object({
    query: z.string(),
    provider: z.string(),
    results: z.array(z.object({ title: z.string(), url: z.string(), snippet: z.string(), score: z.number() })),
  }),
  async run({ query, max_results }, ctx) {
    const provider = searchProviderFromEnv();
    const results = await provider.search(query, max_results, ctx.signal);
    return { query, provider: provider.name, results };
  },
});
