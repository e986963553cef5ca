import type { TaskRecord } from '../../src/runtime';

const STATUS_COLOURS: Record<string, string> = {
  QUEUED: '#6b7280',
  RUNNING: '#2563eb',
  SUCCESS: '#16a34a',
  FAILED: '#dc2626',
  RETRYING: '#d97706',
  CANCELLED: '#7c3aed',
};

const STATUSES = Object.keys(STATUS_COLOURS);

export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function time(value: Date | null | undefined): string {
  return value ? `<time datetime="${value.toISOString()}">${value.toISOString().replace('T', ' ').slice(0, 23)}</time>` : '<span class="muted">—</span>';
}

function duration(record: TaskRecord): string {
  if (!record.startTime) return '<span class="muted">—</span>';
  const end = record.endTime ?? new Date();
  const ms = end.getTime() - record.startTime.getTime();
  return `${ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`}${record.endTime ? '' : ' …'}`;
}

function badge(status: string): string {
  return `<span class="badge" data-status="${escapeHtml(status)}" style="background:${STATUS_COLOURS[status] ?? '#6b7280'}">${escapeHtml(status)}</span>`;
}

function json(value: unknown): string {
  return `<code>${escapeHtml(JSON.stringify(value))}</code>`;
}

const STYLE = `
  :root { font-family: ui-sans-serif, system-ui, -apple-system, "Segoe UI", sans-serif; color: #111827; background: #f9fafb; }
  body { margin: 0; }
  header { background: #111827; color: white; padding: 14px 28px; display: flex; align-items: baseline; gap: 18px; }
  header h1 { margin: 0; font-size: 18px; } header a { color: #e5e7eb; text-decoration: none; } header .mode { color: #9ca3af; font-size: 13px; }
  main { padding: 20px 28px; }
  form.bar { display: flex; flex-wrap: wrap; gap: 10px; align-items: end; background: white; border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px 14px; margin-bottom: 14px; }
  label { display: flex; flex-direction: column; font-size: 12px; color: #4b5563; gap: 4px; }
  input, select, button { font: inherit; font-size: 14px; padding: 6px 9px; border: 1px solid #d1d5db; border-radius: 6px; background: white; }
  button { background: #111827; color: white; border-color: #111827; cursor: pointer; } button.secondary { background: white; color: #111827; }
  table { width: 100%; border-collapse: collapse; background: white; border: 1px solid #e5e7eb; border-radius: 8px; overflow: hidden; font-size: 13px; }
  th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid #f3f4f6; vertical-align: top; }
  th { background: #f3f4f6; font-weight: 600; color: #374151; }
  tr:hover td { background: #f9fafb; }
  .badge { color: white; border-radius: 999px; padding: 2px 9px; font-size: 11px; font-weight: 700; letter-spacing: .03em; }
  .muted { color: #9ca3af; } code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
  details summary { cursor: pointer; color: #b91c1c; } pre { white-space: pre-wrap; font-size: 12px; background: #fef2f2; padding: 8px; border-radius: 6px; max-width: 720px; }
  dl { display: grid; grid-template-columns: 160px 1fr; gap: 8px 16px; background: white; border: 1px solid #e5e7eb; border-radius: 8px; padding: 16px; }
  dt { color: #6b7280; font-size: 13px; } dd { margin: 0; }
  .count { color: #6b7280; font-size: 13px; margin: 6px 0 10px; }
  form.inline { display: inline; margin: 0; } form.inline button { font-size: 12px; padding: 3px 8px; }
  button.danger { background: white; color: #b91c1c; border-color: #fca5a5; }
  h3 { margin: 22px 0 8px; font-size: 15px; } tr.current td { background: #eff6ff; }
`;

/**
 * Keeps the page current without reloading it: every second the element `#live` is replaced by a fresh
 * rendering from its `data-fragment` URL, when that changed (an open traceback stays open otherwise).
 */
const LIVE_SCRIPT = `<script>
(() => {
  const live = document.getElementById('live');
  if (!live) return;
  let busy = false;
  setInterval(async () => {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const response = await fetch(live.dataset.fragment, { cache: 'no-store' });
      if (response.ok) {
        const html = await response.text();
        if (html !== live.dataset.rendered) { live.innerHTML = html; live.dataset.rendered = html; }
      }
    } finally { busy = false; }
  }, 1000);
})();
</script>`;

function layout(title: string, body: string, mode: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${STYLE}</style></head><body>
<header><h1><a href="/">cdk-lambda-tasks · hello</a></h1><span class="mode">${escapeHtml(mode)}</span></header>
<main>${body}</main>${LIVE_SCRIPT}</body></html>`;
}

/** The live part of a page: rendered now, then refreshed from `fragment` by the page's script. */
function live(fragment: string, html: string): string {
  return `<div id="live" data-fragment="${escapeHtml(fragment)}">${html}</div>`;
}

/** Cancel (QUEUED) and retry (FAILED or CANCELLED; the server refuses all but the latest attempt) as POST forms. */
function actions(record: TaskRecord): string {
  const id = escapeHtml(record.id);
  if (record.status === 'QUEUED') return `<form class="inline" method="post" action="/tasks/${id}/cancel"><button class="danger" data-action="cancel">Cancel</button></form>`;
  if (record.status === 'FAILED' || record.status === 'CANCELLED') {
    return `<form class="inline" method="post" action="/tasks/${id}/retry"><button class="secondary" data-action="retry">Retry</button></form>`;
  }
  return '';
}

export interface ListFilters {
  readonly status?: string;
  readonly taskName?: string;
}

/** The list's live part: the count and the table of records (also served alone, as the refresh fragment). */
export function renderTaskRows(records: readonly TaskRecord[]): string {
  const rows = records
    .map(
      (r) => `<tr data-task-id="${escapeHtml(r.id)}">
      <td><a href="/tasks/${escapeHtml(r.id)}">${escapeHtml(r.taskName)}</a><br><span class="muted"><code>${escapeHtml(r.id.slice(0, 8))}</code> · attempt ${escapeHtml(r.attempt)}</span></td>
      <td>${badge(r.status)}</td>
      <td>${time(r.enqueuedAt)}</td><td>${time(r.startTime)}</td><td>${time(r.endTime)}</td><td>${duration(r)}</td>
      <td>${json(r.kwargs)}</td>
      <td>${r.result === null || r.result === undefined ? '<span class="muted">—</span>' : json(r.result)}</td>
      <td>${r.traceback ? `<details><summary>${escapeHtml(r.traceback.split('\n')[0])}</summary><pre>${escapeHtml(r.traceback)}</pre></details>` : '<span class="muted">—</span>'}</td>
      <td>${actions(r)}</td>
    </tr>`,
    )
    .join('');
  const table = records.length
    ? `<table><thead><tr><th>Task</th><th>Status</th><th>Queued</th><th>Started</th><th>Ended</th><th>Duration</th><th>Arguments</th><th>Result</th><th>Traceback</th><th></th></tr></thead><tbody>${rows}</tbody></table>`
    : '<p class="muted">No task records yet: trigger one above.</p>';
  return `<p class="count">${records.length} task record(s), newest first · updated live</p>${table}`;
}

export function renderTaskList(records: readonly TaskRecord[], filters: ListFilters, taskNames: readonly string[], mode: string): string {
  const option = (value: string, selected?: string) => `<option value="${escapeHtml(value)}"${value === selected ? ' selected' : ''}>${escapeHtml(value || 'any')}</option>`;
  const trigger = `<form class="bar" action="/trigger" method="get">
    <input type="hidden" name="redirect" value="1">
    <label>Name<input name="name" value="Alice" required maxlength="100"></label>
    <label>Task<select name="task">${option('sayHello', 'sayHello')}${option('slowReport')}${option('failsOnPurpose')}</select></label>
    <label>Delay (s)<input name="delay" type="number" min="0" max="3600" value="0"></label>
    <button type="submit" id="trigger">Trigger task</button>
  </form>`;
  const filter = `<form class="bar" action="/" method="get" id="filters">
    <label>Status<select name="status" id="status-filter">${option('', filters.status)}${STATUSES.map((s) => option(s, filters.status)).join('')}</select></label>
    <label>Task name<select name="task" id="task-filter">${option('', filters.taskName)}${taskNames.map((n) => option(n, filters.taskName)).join('')}</select></label>
    <button type="submit" class="secondary">Filter</button>
  </form>`;
  const query = new URLSearchParams({ ...(filters.status ? { status: filters.status } : {}), ...(filters.taskName ? { task: filters.taskName } : {}) }).toString();
  return layout('Task records', `${trigger}${filter}${live(`/fragments/tasks${query ? `?${query}` : ''}`, renderTaskRows(records))}`, mode);
}

/** The detail page's live part: the record, its actions, and every attempt of the task (by root id). */
export function renderTaskDetailBody(record: TaskRecord, attempts: readonly TaskRecord[]): string {
  const field = (name: string, value: string) => `<dt>${escapeHtml(name)}</dt><dd>${value}</dd>`;
  const history = attempts
    .map((a) => `<tr data-attempt="${escapeHtml(a.attempt)}"${a.id === record.id ? ' class="current"' : ''}><td><a href="/tasks/${escapeHtml(a.id)}">attempt ${escapeHtml(a.attempt)}</a></td><td>${badge(a.status)}</td><td>${time(a.enqueuedAt)}</td><td>${time(a.endTime)}</td><td>${a.note ? escapeHtml(a.note) : '<span class="muted">—</span>'}</td></tr>`)
    .join('');
  return `<h2>${escapeHtml(record.taskName)} ${badge(record.status)} ${actions(record)}</h2><dl>
    ${field('Id', `<code>${escapeHtml(record.id)}</code>`)}
    ${field('Queue', escapeHtml(record.queue))}
    ${field('Attempt', escapeHtml(record.attempt))}
    ${field('Arguments', json(record.kwargs))}
    ${field('Queued', time(record.enqueuedAt))}
    ${field('Run after', time(record.runAfter))}
    ${field('Dispatched', time(record.dispatchedAt))}
    ${field('Started', time(record.startTime))}
    ${field('Ended', time(record.endTime))}
    ${field('Duration', duration(record))}
    ${field('Hard timeout', `${escapeHtml(record.hardTimeout)} s`)}
    ${field('Result', record.result === null || record.result === undefined ? '<span class="muted">—</span>' : json(record.result))}
    ${field('Note', record.note ? escapeHtml(record.note) : '<span class="muted">—</span>')}
    ${field('Traceback', record.traceback ? `<pre id="traceback">${escapeHtml(record.traceback)}</pre>` : '<span class="muted">—</span>')}
    ${field('JSON', `<a href="/api/tasks/${escapeHtml(record.id)}">/api/tasks/${escapeHtml(record.id)}</a>`)}
  </dl>
  <h3>Attempts</h3>
  <table id="attempts"><thead><tr><th>Attempt</th><th>Status</th><th>Queued</th><th>Ended</th><th>Note</th></tr></thead><tbody>${history}</tbody></table>`;
}

export function renderTaskDetail(record: TaskRecord, attempts: readonly TaskRecord[], mode: string): string {
  return layout(`${record.taskName} ${record.status}`, live(`/fragments/tasks/${record.id}`, renderTaskDetailBody(record, attempts)), mode);
}
