// The Gantt timeline: one row per task, one bar per attempt (retries, for_each items side by side).
// Only the rows in view are drawn, so a run of thousands of tasks scrolls smoothly.
import { html, useState } from './vendor/preact-htm.js';
import { timeline } from './model.js';
import { fmtDuration } from './ui.js';

const ROW = 24;
const VIEW_ROWS = 18;

export function Timeline({ run, version, selected, onSelect }) {
  const [top, setTop] = useState(0);
  const { rows, t0, t1 } = timeline(run, run.endedAt ? Date.parse(run.endedAt) : Date.now());
  const span = t1 - t0;
  const first = Math.max(0, Math.floor(top / ROW) - 4);
  const last = Math.min(rows.length, first + VIEW_ROWS + 10);
  const pct = (t) => ((t - t0) / span) * 100;
  return html`<section class="timeline" aria-label="timeline" data-version=${version}>
    <div class="timeline-head"><span>task</span><span class="scale"><span>0</span><span>${fmtDuration(span)}</span></span></div>
    <div class="timeline-rows" style=${{ maxHeight: `${VIEW_ROWS * ROW}px` }} onScroll=${(e) => setTop(e.currentTarget.scrollTop)}>
      <div style=${{ height: `${rows.length * ROW}px`, position: 'relative' }}>
        ${rows.slice(first, last).map((r, k) => {
          const busy = r.bars.reduce((ms, b) => ms + b.end - b.start, 0);
          return html`<div class=${`timeline-row${selected === r.id ? ' selected' : ''}`} style=${{ top: `${(first + k) * ROW}px` }} key=${r.id}>
            <button type="button" class="timeline-task" data-task=${r.id} onClick=${() => onSelect(r.id)} aria-pressed=${String(selected === r.id)} title=${r.id}>
              <span class=${`dot st-${r.status}`} aria-hidden="true"></span>${r.id}
            </button>
            <div class="track" aria-label=${`${r.id}: ${r.status}${r.bars.length ? `, ${fmtDuration(busy)} in ${r.bars.length} attempt${r.bars.length > 1 ? 's' : ''}` : ', did not run'}`} role="img">
              ${r.bars.map(
                (
                  b,
                ) => html`<span class=${`bar st-${b.status}`} style=${{ left: `${pct(b.start)}%`, width: `max(3px, ${pct(b.end) - pct(b.start)}%)` }}
                title=${`${b.item === undefined ? '' : `item ${b.item}, `}attempt ${b.attempt} (${b.status}): ${fmtDuration(b.end - b.start)}`}></span>`,
              )}
            </div>
          </div>`;
        })}
      </div>
    </div>
  </section>`;
}
