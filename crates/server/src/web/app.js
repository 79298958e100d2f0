// AudioJuggler's web page: a client of the API under api/v1, nothing more.
//
// Live updates come from the server-sent events of api/v1/events, read with
// fetch() so that the bearer token travels in the Authorization header (an
// EventSource cannot send headers, and a token in a URL would end up in
// histories and logs). The reader follows the event-stream format of the
// HTML standard (§9.2 "Server-sent events") and reconnects with
// Last-Event-ID, so nothing is missed across a reconnection.
//
// Text from the server is always inserted as text (textContent, text
// nodes), never as markup.

'use strict';

(function () {
  const TOKEN_KEY = 'aj.token';
  /** The port IANA registered for AudioJuggler. */
  const AJ_PORT = '3643';

  const S = {
    token: readToken(),
    status: null,
    jobs: new Map(),
    progress: new Map(),
    rows: new Map(),
    lastEventId: null,
    eventsGen: 0,
    eventsAbort: null,
    live: false,
    detailId: null,
    logTimer: null,
    logLoading: false,
    logAgain: false,
    browsePath: null,
    roots: [],
    selected: new Map(),
    drives: [],
    driveRows: new Map(),
    discs: new Map(),
    drivesTimer: null,
  };

  // ---------------------------------------------------------------- helpers

  function $(id) {
    return document.getElementById(id);
  }

  /** An element with properties (or `attr:` attributes) and children; strings become text nodes. */
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('attr:')) e.setAttribute(k.slice(5), String(v));
      else if (k === 'class') e.className = v;
      else if (k.startsWith('on:')) e.addEventListener(k.slice(3), v);
      else e[k] = v;
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      e.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return e;
  }

  /** Sets an element's text, leaving it alone when unchanged (no layout or scroll jump, no repeated announcement). */
  function setText(id, text) {
    const e = $(id);
    if (e.textContent !== text) e.textContent = text;
  }

  function readToken() {
    try {
      return localStorage.getItem(TOKEN_KEY) || '';
    } catch (_) {
      return '';
    }
  }

  function writeToken(t) {
    try {
      if (t) localStorage.setItem(TOKEN_KEY, t);
      else localStorage.removeItem(TOKEN_KEY);
    } catch (_) {
      // Private mode: the token lasts as long as the page.
    }
  }

  function sleep(ms) {
    return new Promise((r) => setTimeout(r, ms));
  }

  function basename(p) {
    const s = String(p || '').replace(/\/+$/, '');
    const i = s.lastIndexOf('/');
    return i >= 0 ? s.slice(i + 1) : s;
  }

  /** The cue sheet beside an image: its name with the extension `.cue`. */
  function cueOf(path) {
    const p = String(path || '');
    const slash = p.lastIndexOf('/');
    const dot = p.lastIndexOf('.');
    return `${dot > slash + 1 ? p.slice(0, dot) : p}.cue`;
  }

  function plural(n, one, many) {
    return `${n} ${n === 1 ? one : many}`;
  }

  function fmtTime(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleString();
  }

  function fmtClock(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return String(iso || '');
    const pad = (n, w) => String(n).padStart(w || 2, '0');
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }

  function fmtDuration(seconds) {
    if (!isFinite(seconds) || seconds < 0) return '';
    if (seconds < 1) return 'under a second';
    const s = Math.round(seconds);
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ${s % 60} s`;
    return `${Math.floor(m / 60)} h ${m % 60} min`;
  }

  function fmtSize(bytes) {
    if (bytes === null || bytes === undefined) return '';
    if (bytes < 1000) return `${bytes} B`;
    const units = ['kB', 'MB', 'GB', 'TB'];
    let v = bytes;
    let u = -1;
    do {
      v /= 1000;
      u += 1;
    } while (v >= 1000 && u < units.length - 1);
    return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
  }

  function between(a, b) {
    const t0 = Date.parse(a);
    const t1 = Date.parse(b);
    return isFinite(t0) && isFinite(t1) ? (t1 - t0) / 1000 : NaN;
  }

  function announce(text) {
    setText('announce', text);
  }

  // -------------------------------------------------------------------- API

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function authHeaders(extra) {
    const h = Object.assign({}, extra || {});
    if (S.token) h.Authorization = `Bearer ${S.token}`;
    return h;
  }

  async function api(method, path, body) {
    const headers = authHeaders({ Accept: 'application/json' });
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(path, init);
    } catch (e) {
      throw new HttpError(0, `the server cannot be reached (${e.message})`);
    }
    const text = await r.text().catch(() => '');
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = null;
      }
    }
    if (r.status === 401) {
      needToken(S.token ? 'The server refused this token. Paste the right one.' : null);
    }
    if (!r.ok) {
      const why = data && typeof data.error === 'string' ? data.error : `${r.status} ${r.statusText}`;
      throw new HttpError(r.status, why);
    }
    return data;
  }

  /** The download URL of a file inside the library (its absolute path). */
  function fileUrl(path) {
    const p = String(path);
    const parts = p.replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/');
    return `api/v1/files/${p.startsWith('/') ? '%2F' : ''}${parts}`;
  }

  /** A link that downloads a library file; with a token, through fetch (a plain link cannot send it). */
  function downloadLink(path, label) {
    const a = el('a', { href: fileUrl(path), class: 'download', 'attr:download': basename(path) }, label);
    a.addEventListener('click', async (ev) => {
      if (!S.token) return;
      ev.preventDefault();
      try {
        const r = await fetch(a.href, { headers: authHeaders(), cache: 'no-store' });
        if (!r.ok) {
          const data = await r.json().catch(() => null);
          throw new Error(data && data.error ? data.error : `${r.status} ${r.statusText}`);
        }
        const url = URL.createObjectURL(await r.blob());
        const tmp = el('a', { href: url, 'attr:download': basename(path) });
        document.body.append(tmp);
        tmp.click();
        tmp.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60000);
      } catch (e) {
        setText('action-error', `Cannot download ${basename(path)}: ${e.message}`);
      }
    });
    return a;
  }

  // ------------------------------------------------------------ status, token

  function needToken(message) {
    $('token-panel').hidden = false;
    setText('token-why', message || "This server needs a token. It is in the file 'token' in the server's data folder, and was printed when the server made it.");
    setText('st-token', 'required: paste it below');
  }

  function renderStatus() {
    const st = S.status;
    const host = location.host || '(this page)';
    const port = location.port || (location.protocol === 'https:' ? '443' : '80');
    setText('st-address', port === AJ_PORT ? `${host} (AudioJuggler's port)` : host);
    if (!st) return;
    setText('version', `v${st.version}`);
    setText('foot-version', st.version);
    setText('st-encoders', String(st.max_encoders));
    if (st.token_required) {
      setText('st-token', S.token ? 'required, sent from this browser' : 'required');
    } else {
      setText('st-token', 'not needed on this address');
    }
    $('token-forget').hidden = !S.token;
  }

  function setLive(live, text) {
    S.live = live;
    const e = $('st-events');
    e.classList.toggle('off', !live);
    e.textContent = text || (live ? 'live' : 'reconnecting…');
  }

  async function loadStatus() {
    S.status = await api('GET', 'api/v1/status');
    S.roots = Array.isArray(S.status.libraries) ? S.status.libraries.map(String) : [];
    $('token-panel').hidden = true;
    renderStatus();
  }

  // ------------------------------------------------------------ event stream

  function startEvents() {
    S.eventsGen += 1;
    if (S.eventsAbort) S.eventsAbort.abort();
    runEvents(S.eventsGen);
  }

  async function runEvents(gen) {
    let delay = 1000;
    while (gen === S.eventsGen) {
      const ctl = new AbortController();
      S.eventsAbort = ctl;
      try {
        const headers = authHeaders({ Accept: 'text/event-stream' });
        if (S.lastEventId !== null) headers['Last-Event-ID'] = String(S.lastEventId);
        const r = await fetch('api/v1/events', { headers, signal: ctl.signal, cache: 'no-store' });
        if (r.status === 401) {
          setLive(false, 'waiting for the token');
          needToken(S.token ? 'The server refused this token. Paste the right one.' : null);
          return;
        }
        if (!r.ok || !r.body) throw new Error(`${r.status} ${r.statusText}`);
        setLive(true);
        delay = 1000;
        if (S.lastEventId === null) {
          // Nothing to replay from: the list as it is now, then what changes.
          await loadJobs();
        }
        if (S.detailId !== null) loadLogSoon(0);
        await readStream(r.body, gen);
      } catch (_) {
        // Network gone or stream cut: reconnect below.
      }
      if (gen !== S.eventsGen) return;
      setLive(false);
      await sleep(delay);
      delay = Math.min(delay * 2, 15000);
    }
  }

  async function readStream(body, gen) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    let type = '';
    let data = [];
    let id = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done || gen !== S.eventsGen) {
        reader.cancel().catch(() => {});
        return;
      }
      buf += value;
      for (;;) {
        const i = buf.search(/[\r\n]/);
        if (i < 0) break;
        // A CR at the end may be the first half of CRLF: wait for more.
        if (buf[i] === '\r' && i === buf.length - 1) break;
        const line = buf.slice(0, i);
        buf = buf.slice(i + (buf[i] === '\r' && buf[i + 1] === '\n' ? 2 : 1));
        if (line === '') {
          if (id !== null) S.lastEventId = id;
          if (data.length) dispatch(type || 'message', data.join('\n'));
          type = '';
          data = [];
          id = null;
          continue;
        }
        if (line.startsWith(':')) continue;
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        let v = c < 0 ? '' : line.slice(c + 1);
        if (v.startsWith(' ')) v = v.slice(1);
        if (field === 'event') type = v;
        else if (field === 'data') data.push(v);
        else if (field === 'id' && !v.includes('\0')) id = v;
      }
    }
  }

  function dispatch(type, text) {
    let d;
    try {
      d = JSON.parse(text);
    } catch (_) {
      return;
    }
    if (!d || typeof d !== 'object') return;
    switch (type) {
      case 'job.created':
      case 'job.state':
        upsertJob(d, type === 'job.created');
        if (d.spec && (d.spec.kind === 'rip' || d.spec.kind === 'disc_info')) loadDrivesSoon();
        break;
      case 'job.progress':
        if (typeof d.id === 'number') {
          S.progress.set(d.id, d);
          renderRow(d.id);
          if (d.id === S.detailId) {
            renderDetail();
            loadLogSoon(1000);
          }
        }
        break;
      case 'job.deleted':
        removeJob(d.id);
        break;
      default:
        break;
    }
  }

  // ------------------------------------------------------------------ jobs

  const FINISHED = ['done', 'failed', 'cancelled', 'interrupted'];

  async function loadJobs() {
    try {
      const r = await api('GET', 'api/v1/jobs');
      const seen = new Set();
      for (const j of r.jobs || []) {
        seen.add(j.id);
        upsertJob(j, false, true);
      }
      for (const id of [...S.jobs.keys()]) if (!seen.has(id)) removeJob(id, true);
      renderJobs();
    } catch (e) {
      if (e.status !== 401) setText('jobs-empty', `Cannot list the jobs: ${e.message}`);
    }
  }

  function upsertJob(job, fresh, quiet) {
    if (!job || typeof job.id !== 'number') return;
    const before = S.jobs.get(job.id);
    S.jobs.set(job.id, job);
    if (job.progress) S.progress.set(job.id, job.progress);
    else if (FINISHED.includes(job.state)) S.progress.delete(job.id);
    if (!quiet && before && before.state !== job.state && FINISHED.includes(job.state)) {
      announce(`Job ${job.id} ${job.state}.`);
    }
    if (quiet) return;
    renderJobs();
    if (fresh) {
      const row = S.rows.get(job.id);
      if (row) row.li.classList.add('fresh');
    }
    if (job.id === S.detailId) {
      renderDetail();
      loadLogSoon(0);
    }
  }

  function removeJob(id, quiet) {
    S.jobs.delete(id);
    S.progress.delete(id);
    const row = S.rows.get(id);
    if (row) row.li.remove();
    S.rows.delete(id);
    if (quiet) return;
    renderJobs();
    if (id === S.detailId) {
      location.hash = '#/';
      announce(`Job ${id} was deleted.`);
    }
  }

  function jobName(job) {
    const spec = job.spec || {};
    const fmt = spec.format ? String(spec.format).toUpperCase() : '?';
    if (spec.kind === 'rip') return `#${job.id} · rip ${spec.drive ? String(spec.drive) : 'from the first drive'} → ${fmt}`;
    if (spec.kind === 'gain') {
      const files = Array.isArray(spec.files) ? spec.files : [];
      const first = files.length ? basename(files[0]) : '(no file)';
      const more = files.length > 1 ? ` and ${files.length - 1} more` : '';
      return `#${job.id} · ReplayGain ${first}${more}${spec.album ? ' (album)' : ''}${spec.dry_run ? ', measured only' : ''}`;
    }
    if (spec.kind !== 'convert') return `#${job.id} · ${String(spec.kind || 'job')}`;
    const inputs = Array.isArray(spec.inputs) ? spec.inputs : [];
    const first = inputs.length ? basename(inputs[0]) : '(no input)';
    const more = inputs.length > 1 ? ` and ${inputs.length - 1} more` : '';
    return `#${job.id} · ${first}${more} → ${spec.join ? `one ${fmt} image` : fmt}`;
  }

  function jobPercent(job) {
    if (job.state === 'done') return 100;
    const p = S.progress.get(job.id);
    return p && isFinite(p.percent) ? Math.max(0, Math.min(100, p.percent)) : 0;
  }

  /** A job's summary in words; `spec` is the job's. */
  function summaryText(s, spec) {
    if (!s) return '';
    const kind = spec && spec.kind;
    const join = spec && spec.join;
    let done = `${s.ok} converted`;
    if (kind === 'rip') done = `${plural(s.ok, 'track', 'tracks')} ripped`;
    else if (kind === 'gain') done = spec.dry_run ? `${s.ok} measured, no file changed` : `${s.ok} measured and tagged`;
    else if (join) done = s.ok ? 'joined into one image' : 'nothing joined';
    const parts = [done];
    if (kind === 'rip' && s.accurate) parts.push(`${s.accurate} accurate (AccurateRip)`);
    if (s.skipped) parts.push(`${s.skipped} skipped`);
    if (s.failed) parts.push(`${s.failed} failed`);
    if (s.cancelled) parts.push('cancelled');
    return parts.join(', ');
  }

  function jobLine(job) {
    const p = S.progress.get(job.id);
    switch (job.state) {
      case 'queued':
        return job.spec && job.spec.kind !== 'convert' ? 'waiting for the drive or an encoder' : 'waiting for an encoder';
      case 'running': {
        if (!p) return 'starting';
        const parts = [p.stage];
        const unit = job.spec && job.spec.kind === 'rip' ? 'track' : 'file';
        if (p.items) parts.push(`${unit} ${Math.max(p.item, 1)} of ${p.items}`);
        parts.push(`${Math.floor(p.percent)}%`);
        if (isFinite(p.eta_seconds) && p.eta_seconds !== null) parts.push(`about ${fmtDuration(p.eta_seconds)} left`);
        if (p.file) parts.push(basename(p.file));
        return parts.join(' · ');
      }
      case 'done': {
        const took = between(job.started_at, job.finished_at);
        return [summaryText(job.summary, job.spec), isFinite(took) ? `took ${fmtDuration(took)}` : ''].filter(Boolean).join(' · ');
      }
      case 'interrupted':
        return 'interrupted when the server stopped; retry to run it again';
      default:
        return relText(job.error) || summaryText(job.summary, job.spec) || job.state;
    }
  }

  function setBar(bar, state, percent, label) {
    bar.className = `bar ${state}`;
    bar.firstElementChild.style.width = `${percent}%`;
    bar.setAttribute('aria-valuenow', String(Math.round(percent)));
    bar.setAttribute('aria-valuetext', label);
  }

  function renderRow(id) {
    const job = S.jobs.get(id);
    if (!job) return null;
    let row = S.rows.get(id);
    if (!row) {
      const name = el('span', { class: 'job-name' });
      const badge = el('span', { class: 'badge' });
      const bar = el('div', { class: 'bar', 'attr:role': 'progressbar', 'attr:aria-valuemin': 0, 'attr:aria-valuemax': 100 }, el('span'));
      const meta = el('div', { class: 'job-meta' });
      const link = el('a', { href: `#/jobs/${id}` }, el('div', { class: 'job-title' }, name, badge), bar, meta);
      const li = el('li', { class: 'job', 'attr:data-id': id, 'attr:data-state': job.state }, link);
      row = { li, name, badge, bar, meta };
      S.rows.set(id, row);
    }
    const pct = jobPercent(job);
    row.li.setAttribute('data-state', job.state);
    row.name.textContent = jobName(job);
    row.badge.textContent = job.state;
    row.badge.className = `badge ${job.state}`;
    row.bar.setAttribute('aria-label', `Job ${id} progress`);
    setBar(row.bar, job.state, pct, `${Math.round(pct)}%, ${job.state}`);
    row.meta.textContent = jobLine(job);
    return row;
  }

  function renderJobs() {
    const filter = $('jobs-filter').value;
    const ids = [...S.jobs.keys()].sort((a, b) => b - a);
    const list = $('jobs');
    let shown = 0;
    let prev = null;
    for (const id of ids) {
      const job = S.jobs.get(id);
      const row = renderRow(id);
      const visible =
        filter === '' || (filter === 'active' ? !FINISHED.includes(job.state) : FINISHED.includes(job.state));
      row.li.hidden = !visible;
      if (visible) shown += 1;
      // Newest first, moving nodes only when out of place (keeps focus).
      const want = prev ? prev.nextSibling : list.firstChild;
      if (want !== row.li) list.insertBefore(row.li, want);
      prev = row.li;
    }
    $('jobs-empty').hidden = shown > 0;
    if (!shown) {
      setText('jobs-empty', S.jobs.size ? 'No job matches this filter.' : 'No jobs yet. Start one with “New conversion”.');
    }
  }

  // ------------------------------------------------------------ job detail

  function route() {
    const m = /^#\/jobs\/(\d+)$/.exec(location.hash);
    if (m) showDetail(Number(m[1]));
    else showList();
  }

  function showList() {
    const was = S.detailId;
    S.detailId = null;
    $('detail-panel').hidden = true;
    $('jobs-panel').hidden = false;
    if (was !== null) {
      const row = S.rows.get(was);
      if (row) row.li.querySelector('a').focus();
    }
  }

  async function showDetail(id) {
    S.detailId = id;
    S.log = [];
    $('jobs-panel').hidden = true;
    $('detail-panel').hidden = false;
    setText('detail-title', `Job #${id}`);
    setText('action-error', '');
    setText('detail-error', '');
    $('files').replaceChildren();
    $('gain-results').hidden = true;
    $('gain-rows').replaceChildren();
    $('gain-albums').replaceChildren();
    $('log').replaceChildren();
    setText('log-count', '0');
    $('detail-title').focus();
    if (!S.jobs.has(id)) {
      try {
        const job = await api('GET', `api/v1/jobs/${id}`);
        S.jobs.set(job.id, job);
        if (job.progress) S.progress.set(job.id, job.progress);
        renderJobs();
      } catch (e) {
        if (S.detailId === id) setText('detail-error', `Job #${id}: ${e.message}`);
        return;
      }
    }
    renderDetail();
    loadLogSoon(0);
  }

  function renderDetail() {
    const id = S.detailId;
    const job = S.jobs.get(id);
    if (!job) return;
    const badge = $('detail-badge');
    badge.textContent = job.state;
    badge.className = `badge ${job.state}`;
    const times = [`created ${fmtTime(job.created_at)}`];
    if (job.started_at) times.push(`started ${fmtTime(job.started_at)}`);
    if (job.finished_at) times.push(`finished ${fmtTime(job.finished_at)}`);
    setText('detail-line', jobLine(job));
    setText('detail-times', `${times.join(', ')}.`.replace(/^./, (c) => c.toUpperCase()));
    const pct = jobPercent(job);
    setBar($('detail-bar'), job.state, pct, `${Math.round(pct)}%, ${job.state}`);
    setText('detail-error', job.error ? relText(job.error) : '');
    $('act-cancel').disabled = FINISHED.includes(job.state);
    $('act-retry').disabled = !['failed', 'cancelled', 'interrupted'].includes(job.state);
    $('act-delete').disabled = job.state === 'running';
    renderSpec(job.spec || {});
  }

  /** The DSP a convert spec asks for, in words (empty: none). */
  function soundText(spec) {
    const parts = [];
    if (spec.rate) parts.push(`resampled to ${khz(spec.rate)}`);
    if (spec.float) parts.push('32-bit float');
    else if (spec.bits) parts.push(`${spec.bits}-bit`);
    if (spec.channels) parts.push(Number(spec.channels) === 1 ? 'mono' : Number(spec.channels) === 2 ? 'stereo' : `${spec.channels} channels`);
    if (spec.gain_db !== null && spec.gain_db !== undefined && Number(spec.gain_db) !== 0) parts.push(`gain ${fmtGain(spec.gain_db)}`);
    if (spec.apply_replaygain) parts.push(`${spec.apply_replaygain === 'album' ? 'album' : 'track'} ReplayGain applied`);
    return parts.join(', ');
  }

  function renderSpec(spec) {
    const rows = [];
    const add = (k, v) => rows.push(el('dt', {}, k), el('dd', {}, v));
    if (spec.kind === 'gain') {
      add('What', spec.dry_run ? 'measure only (no file changed)' : 'write ReplayGain 2.0 tags into the files');
      add('Album gain', spec.album ? 'yes: one album per folder, and the files chosen one by one as one' : 'no');
      add('Peak', spec.true_peak ? 'true peak' : 'sample peak');
      const files = Array.isArray(spec.files) ? spec.files : [];
      const ul = el('ul', { class: 'plain' });
      for (const f of files) ul.append(el('li', {}, showPath(f)));
      rows.push(el('dt', {}, files.length === 1 ? 'File' : 'Files'), el('dd', {}, ul));
      $('detail-spec').replaceChildren(...rows);
      return;
    }
    if (spec.kind !== 'convert') {
      // Another kind of job: its settings as they are.
      for (const [k, v] of Object.entries(spec)) {
        if (v === null || v === undefined) continue;
        add(k.replace(/_/g, ' '), relText(typeof v === 'object' ? JSON.stringify(v) : String(v)));
      }
      $('detail-spec').replaceChildren(...rows);
      return;
    }
    add('Format', String(spec.format || '').toUpperCase());
    const enc = spec.encoder || {};
    const opts = [];
    if (enc.level !== null && enc.level !== undefined) opts.push(`level ${enc.level}`);
    if (enc.quality !== null && enc.quality !== undefined) opts.push(spec.format === 'mp3' ? `V${enc.quality}` : `quality ${enc.quality}`);
    if (enc.bitrate !== null && enc.bitrate !== undefined) opts.push(`${enc.bitrate} kb/s${enc.abr ? ' average' : ''}`);
    add('Options', opts.length ? opts.join(', ') : 'defaults');
    const join = spec.join && typeof spec.join === 'object' ? spec.join : null;
    if (join) {
      add('Join', `into one image with a cue sheet, ${join.keep_order ? 'in the order chosen' : 'by disc and track number (when every file has them)'}`);
      add('Image name', join.name ? String(join.name) : 'the album’s artist and title (else the folder’s name)');
    }
    const inputs = Array.isArray(spec.inputs) ? spec.inputs : [];
    const ul = el('ul', { class: 'plain' });
    for (const i of inputs) ul.append(el('li', {}, showPath(i)));
    rows.push(el('dt', {}, inputs.length === 1 ? 'Input' : 'Inputs'), el('dd', {}, ul));
    add('Output', spec.output_dir ? showPath(spec.output_dir) : join ? 'beside the inputs' : 'beside each input');
    if (!join && spec.name) add('File names', `${spec.name}${spec.keep_tree ? ' (sub-folders kept)' : ''}`);
    if (spec.safe_names === 'windows' && (join || spec.name)) add('Names', 'safe on Windows and memory cards');
    if (!join && spec.split === false) add('Cue sheet images', 'converted whole');
    else if (!join && spec.gaps && spec.gaps !== 'append') add('Cue sheet images', `split into tracks, ${GAPS[spec.gaps] || spec.gaps}`);
    const sound = soundText(spec);
    if (sound) add('Sound', sound);
    const onExists = spec.overwrite ? 'overwrite' : spec.on_exists || 'skip';
    add('Existing files', ON_EXISTS[onExists] || String(onExists));
    add('Verify', spec.verify === false ? 'no' : 'yes (lossless outputs)');
    if (spec.replaygain !== undefined) add('ReplayGain tags', spec.replaygain ? (join ? 'yes (the image is the album)' : 'yes') : 'no');
    if (spec.delete_source) add('Sources', 'deleted once their output is checked');
    if (!join) add('Files at once', spec.threads ? String(spec.threads) : 'one per core');
    $('detail-spec').replaceChildren(...rows);
  }

  /** Reloads the log of the job shown, at most once per `wait` ms. */
  function loadLogSoon(wait) {
    if (S.logTimer !== null) {
      if (wait > 0) return;
      clearTimeout(S.logTimer);
    }
    S.logTimer = setTimeout(() => {
      S.logTimer = null;
      loadLog();
    }, wait);
  }

  async function loadLog() {
    const id = S.detailId;
    if (id === null) return;
    if (S.logLoading) {
      S.logAgain = true;
      return;
    }
    S.logLoading = true;
    try {
      const r = await api('GET', `api/v1/jobs/${id}/log`);
      if (S.detailId === id) renderLog(r.events || []);
    } catch (e) {
      if (S.detailId === id && e.status !== 404) setText('action-error', `Cannot read the log: ${e.message}`);
    } finally {
      S.logLoading = false;
      if (S.logAgain) {
        S.logAgain = false;
        loadLog();
      }
    }
  }

  /** A log event in words; `spec` is the job's (a join's tracks are not a rip's). */
  function describe(ev, spec) {
    const n = (i) => `file ${Number(i) + 1}`;
    switch (ev.event) {
      case 'job_started':
        return `started: ${plural(ev.files, 'file', 'files')}, ${ev.threads} at once`;
      case 'file_started':
        return `${n(ev.index)}: ${ev.input} → ${ev.output}`;
      case 'progress':
        return `${n(ev.index)}: ${ev.percent === null || ev.percent === undefined ? `${ev.frames} frames` : `${Math.floor(ev.percent)}%`}`;
      case 'stage':
        return `${n(ev.index)}: ${ev.stage}`;
      case 'file_done':
        return `${n(ev.index)}: done, ${ev.frames} frames${ev.verified ? ', verified' : ''} → ${ev.output}`;
      case 'file_failed':
        return `${n(ev.index)}: failed: ${ev.error}`;
      case 'file_skipped':
        return `${n(ev.index)}: skipped: ${ev.reason}`;
      case 'summary':
        return `finished: ${summaryText(ev, spec)}`;
      case 'warning':
        return `warning: ${ev.message}`;
      case 'rip_started':
        return `disc in ${ev.drive}: ${[ev.artist, ev.album].filter(Boolean).join(' – ') || 'no names'}, ${plural((ev.tracks || []).length, 'track', 'tracks')} → ${ev.output_dir}`;
      case 'track_started':
        if (spec.kind === 'convert') return `${n(ev.index)}: track ${ev.track} of the image from ${ev.file}`;
        return `track ${ev.track}: reading → ${ev.file}`;
      case 'loudness':
        return `${ev.album ? `album${ev.folder ? ` ${ev.folder}` : ''}` : n(ev.index)}: ${loudnessText(ev)}${ev.album ? '' : ev.written ? ', tags written' : ', not written'}`;
      case 'track_done':
        return `track ${ev.track}: done, CRC32 ${ev.crc32}${ev.verified ? ', verified' : ''}${ev.file ? ` → ${ev.file}` : ''}`;
      default:
        return JSON.stringify(ev);
    }
  }

  /** A loudness event's values: `-14.20 LUFS, gain -3.80 dB, peak 0.501187`. */
  function loudnessText(ev) {
    const num = (v, d) => (typeof v === 'number' && isFinite(v) ? v.toFixed(d) : null);
    const lufs = num(ev.loudness_lufs, 2);
    const gain = num(ev.gain_db, 2);
    const parts = [lufs === null ? 'silent' : `${lufs} LUFS`];
    if (gain !== null) parts.push(`gain ${ev.gain_db > 0 ? '+' : ''}${gain} dB`);
    if (num(ev.peak, 6) !== null) parts.push(`peak ${num(ev.peak, 6)}`);
    return parts.join(', ');
  }

  /** A gain in dB as the ReplayGain tags hold it: `+1.00 dB`, `-6.20 dB`. */
  function fmtRgGain(db) {
    if (typeof db !== 'number' || !isFinite(db)) return null;
    return `${db < 0 ? '-' : '+'}${Math.abs(db).toFixed(2)} dB`;
  }

  /** A linear peak, and in dBFS: `0.501187 (−6.0 dBFS)`. */
  function fmtPeak(peak) {
    if (typeof peak !== 'number' || !isFinite(peak)) return '';
    const db = peak > 0 ? 20 * Math.log10(peak) : -Infinity;
    const dbText = isFinite(db) ? `${db < 0 ? '−' : ''}${Math.abs(db).toFixed(1)} dBFS` : '−∞ dBFS';
    return `${peak.toFixed(6)} (${dbText})`;
  }

  /** The table of a gain job's `loudness` events: one row per file, one line per album. */
  function renderGain(events, spec) {
    const box = $('gain-results');
    box.hidden = events.length === 0;
    if (!events.length) {
      $('gain-rows').replaceChildren();
      $('gain-albums').replaceChildren();
      return;
    }
    setText('gain-peak-head', spec.true_peak ? 'True peak' : 'Peak');
    const lufs = (ev) => (typeof ev.loudness_lufs === 'number' && isFinite(ev.loudness_lufs) ? `${ev.loudness_lufs.toFixed(2)} LUFS` : 'silent');
    const files = events.filter((ev) => !ev.album && typeof ev.index === 'number').sort((a, b) => a.index - b.index);
    const cell = (cls, label, ...children) => el('td', { class: cls, 'attr:data-label': label }, ...children);
    $('gain-rows').replaceChildren(
      ...files.map((ev) => {
        const path = String(ev.file || '');
        const written = ev.written ? 'written' : spec.dry_run ? 'measured only' : 'not written';
        return el(
          'tr',
          { 'attr:data-index': ev.index, 'attr:data-written': ev.written ? 'yes' : 'no' },
          el('th', { scope: 'row', class: 'rg-file', title: showPath(path), 'attr:data-label': 'File' }, basename(path), ev.note ? el('span', { class: 'rg-row-note' }, relText(ev.note)) : null),
          cell('rg-lufs num', 'Loudness', lufs(ev)),
          cell('rg-gain num', 'Gain', fmtRgGain(ev.gain_db) || '—'),
          cell('rg-peak num', spec.true_peak ? 'True peak' : 'Peak', fmtPeak(ev.peak)),
          cell(`rg-written ${ev.written ? 'good' : ''}`, 'Tags', written),
        );
      }),
    );
    const albums = events.filter((ev) => ev.album);
    $('gain-albums').replaceChildren(
      ...albums.map((ev) => {
        const where = ev.folder ? `folder ${showPath(String(ev.folder))}` : albums.length > 1 ? 'the files chosen one by one' : '';
        const gain = fmtRgGain(ev.gain_db);
        return el(
          'li',
          { 'attr:data-folder': ev.folder ? String(ev.folder) : '' },
          el('span', { class: 'rg-album-name' }, where ? `Album (${where})` : 'Album'),
          ' ',
          el('span', { class: 'rg-album-lufs' }, lufs(ev)),
          ' · gain ',
          el('strong', { class: 'rg-album-gain' }, gain || '—'),
          ` · ${spec.true_peak ? 'true peak' : 'peak'} `,
          el('span', { class: 'rg-album-peak' }, fmtPeak(ev.peak)),
        );
      }),
    );
  }

  function renderLog(entries) {
    const job = S.jobs.get(S.detailId);
    const spec = (job && job.spec) || {};
    const join = spec.kind === 'convert' && !!spec.join;
    const files = new Map();
    const file = (i) => {
      if (!files.has(i)) files.set(i, { index: i, input: '', output: '', state: 'waiting', percent: 0, note: '' });
      return files.get(i);
    };
    const items = [];
    const loud = [];
    for (const entry of entries) {
      const ev = entry && entry.event;
      if (!ev || typeof ev !== 'object') continue;
      if (ev.event === 'loudness') loud.push(ev);
      items.push(el('li', {}, el('time', { dateTime: String(entry.time || '') }, fmtClock(entry.time)), relText(describe(ev, spec))));
      if (typeof ev.index !== 'number') continue;
      const f = file(ev.index);
      if (ev.input) f.input = String(ev.input);
      switch (ev.event) {
        case 'file_started':
          // A gain job rewrites its files in place: no output to show.
          f.output = spec.kind === 'gain' ? '' : String(ev.output || '');
          f.state = 'converting';
          break;
        case 'progress':
          if (isFinite(ev.percent) && ev.percent !== null) f.percent = ev.percent;
          break;
        case 'stage':
          f.state = ev.stage === 'verify' ? 'verifying' : ev.stage === 'measure' ? 'measuring' : ev.stage === 'tag' ? 'tagging' : String(ev.stage);
          if (join) f.note = '';
          break;
        case 'file_done':
          if (spec.kind !== 'gain') f.output = String(ev.output || f.output);
          f.state = 'done';
          f.percent = 100;
          if (spec.kind !== 'gain') f.note = ev.verified ? 'verified' : '';
          break;
        case 'loudness':
          // The values are in the table below the files.
          f.note = ev.written ? 'tags written' : spec.dry_run ? 'measured only' : 'not written';
          break;
        case 'file_failed':
          f.state = 'failed';
          f.note = relText(ev.error || '');
          break;
        case 'file_skipped':
          f.state = 'skipped';
          f.note = relText(ev.reason || '');
          if (ev.output) f.output = String(ev.output);
          break;
        case 'track_started':
          // A join appends its tracks to the one image: the file stays.
          if (spec.kind === 'convert') {
            f.note = `appending track ${ev.track}`;
            break;
          }
          f.input = `track ${ev.track}`;
          f.output = String(ev.file || '');
          f.state = 'converting';
          break;
        case 'track_done':
          f.input = `track ${ev.track}`;
          if (ev.file) f.output = String(ev.file);
          f.state = 'done';
          f.percent = 100;
          f.note = [`CRC32 ${ev.crc32}`, ev.verified ? 'verified' : ''].filter(Boolean).join(' · ');
          break;
        default:
          break;
      }
    }
    renderGain(spec.kind === 'gain' ? loud : [], spec);
    const log = $('log');
    log.replaceChildren(...items);
    setText('log-count', String(items.length));

    const list = [...files.values()].sort((a, b) => a.index - b.index);
    $('files-empty').hidden = list.length > 0;
    $('files').replaceChildren(
      ...list.map((f) => {
        const state = el('div', { class: `file-state ${f.state === 'failed' ? 'bad' : f.state === 'done' ? 'good' : ''}` });
        let text = f.state;
        if (f.state === 'converting' || f.state === 'measuring') text = `${f.state} · ${Math.floor(f.percent)}%`;
        if (f.note) text += ` · ${f.note}`;
        state.append(text);
        const li = el(
          'li',
          { 'attr:data-state': f.state },
          el(
            'div',
            { class: 'file-name', title: showPath(f.input) },
            basename(f.input),
            f.output ? ` → ${basename(f.output)}` : '',
            join && f.output ? ` + ${basename(cueOf(f.output))}` : '',
          ),
          state,
        );
        if (f.state === 'converting' || f.state === 'verifying' || f.state === 'measuring') {
          const bar = el('div', { class: 'bar', 'attr:role': 'progressbar', 'attr:aria-valuemin': 0, 'attr:aria-valuemax': 100, 'attr:aria-label': `${basename(f.input)} progress` }, el('span'));
          setBar(bar, 'running', f.percent, `${Math.floor(f.percent)}%`);
          li.append(bar);
        }
        if ((f.state === 'done' || f.state === 'skipped') && f.output) {
          const links = el('div', { class: 'links' }, downloadLink(f.output, `Download ${basename(f.output)}`));
          // A join's cue sheet: beside the image, with its name (aj-jobs' join).
          if (join && f.state === 'done') links.append(downloadLink(cueOf(f.output), `Download ${basename(cueOf(f.output))}`));
          li.append(links);
        }
        return li;
      }),
    );
  }

  async function act(method, suffix, okText) {
    const id = S.detailId;
    if (id === null) return;
    setText('action-error', '');
    try {
      const job = await api(method, `api/v1/jobs/${id}${suffix}`);
      // While the event stream is live it brings this change, and maybe
      // later ones that this answer must not overwrite.
      if (!S.live && job && typeof job.id === 'number') upsertJob(job);
      announce(okText);
    } catch (e) {
      setText('action-error', `Job #${id}: ${e.message}`);
    }
  }

  async function deleteJob() {
    const id = S.detailId;
    if (id === null) return;
    if (!window.confirm(`Delete job #${id} and its log? The files it wrote stay.`)) return;
    setText('action-error', '');
    try {
      await api('DELETE', `api/v1/jobs/${id}`);
      removeJob(id);
      location.hash = '#/';
    } catch (e) {
      setText('action-error', `Job #${id}: ${e.message}`);
    }
  }

  // ------------------------------------------------------------ library

  /** The root holding `path`, if any. */
  function rootOf(path) {
    return S.roots.find((r) => path === r || path.startsWith(r.endsWith('/') ? r : `${r}/`)) || null;
  }

  /** `path` as the library shows it: the root's name, then the rest. */
  function showPath(path) {
    const p = String(path || '');
    const r = rootOf(p);
    if (!r) return p;
    return basename(r) + p.slice(r.replace(/\/+$/, '').length);
  }

  /** The roots, longest first, each with a pattern matching it as a whole path (not `/music` in `/musicals`). */
  function rootPatterns() {
    return [...S.roots]
      .map((r) => r.replace(/\/+$/, ''))
      .filter((r) => r.length > 1)
      .sort((a, b) => b.length - a.length)
      .map((r) => ({ name: basename(r), re: new RegExp(`${r.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=/|$|[\\s,;:)'"\u201d])`, 'g') }));
  }

  /** A text from the server (a log line, an error) with its library paths shown as the library shows them. */
  function relText(text) {
    let t = String(text === null || text === undefined ? '' : text);
    for (const { name, re } of rootPatterns()) t = t.replace(re, name);
    return t;
  }

  /**
   * A folder typed as the page shows paths (`ROOT/sub`, the root's name
   * first) as the server takes it: the root's own path, then the rest.
   * Anything else goes as typed (absolute inside a root, or relative to the
   * first root where it exists, as the API resolves it).
   */
  function serverPath(typed) {
    const t = String(typed).trim();
    if (t.startsWith('/')) return t;
    const [first, ...rest] = t.split('/');
    const roots = S.roots.filter((r) => basename(r) === first);
    if (roots.length !== 1) return t;
    return [roots[0].replace(/\/+$/, ''), ...rest].filter((x, i) => i === 0 || x !== '').join('/');
  }

  /** Lists `path`; `encoded`: it is already percent-encoded (an entry's path_encoded, for names that are not UTF-8). */
  async function browse(path, encoded = false) {
    setText('browse-error', '');
    try {
      const q = path ? `?path=${encoded ? path : encodeURIComponent(path)}` : '';
      const listing = await api('GET', `api/v1/library${q}`);
      S.browsePath = listing.path === null || listing.path === undefined ? null : String(listing.path);
      renderCrumbs();
      renderEntries(listing);
    } catch (e) {
      setText('browse-error', `Cannot open ${path ? showPath(path) : 'the library'}: ${e.message}`);
    }
  }

  function crumbButton(label, path, current) {
    if (current) return el('span', { 'attr:aria-current': 'location' }, label);
    return el('button', { type: 'button', class: 'link', 'on:click': () => browse(path) }, label);
  }

  function renderCrumbs() {
    const nav = $('crumbs');
    const parts = [crumbButton('Library', null, S.browsePath === null)];
    const p = S.browsePath;
    if (p !== null) {
      const r = rootOf(p);
      if (r) {
        let acc = r;
        parts.push(el('span', { class: 'sep', 'attr:aria-hidden': 'true' }, '/'), crumbButton(basename(r), r, p === r));
        const rest = p.slice(r.length).split('/').filter(Boolean);
        rest.forEach((seg, i) => {
          acc = `${acc.replace(/\/+$/, '')}/${seg}`;
          parts.push(el('span', { class: 'sep', 'attr:aria-hidden': 'true' }, '/'), crumbButton(seg, acc, i === rest.length - 1));
        });
      } else {
        parts.push(el('span', { class: 'sep' }, '/'), el('span', {}, p));
      }
    }
    nav.replaceChildren(...parts);
  }

  let entrySeq = 0;

  function renderEntries(listing) {
    const entries = Array.isArray(listing.entries) ? listing.entries : [];
    const items = entries.map((e) => {
      const path = String(e.path);
      const folder = e.kind === 'folder';
      // A name that is not UTF-8 cannot be named in a job (JSON): its folder can.
      const exact = e.utf8 !== false;
      const pickable = exact && (folder || e.audio);
      const id = `entry-${++entrySeq}`;
      const box = el('input', { type: 'checkbox', id, disabled: !pickable, checked: S.selected.has(path), value: path });
      box.addEventListener('change', () => {
        if (box.checked) S.selected.set(path, { name: e.name, kind: e.kind });
        else S.selected.delete(path);
        renderSelected();
      });
      const label = el('label', { htmlFor: id }, box, el('span', {}, folder ? `${e.name}/` : String(e.name)));
      const li = el('li', { class: folder ? 'folder' : pickable ? 'audio' : 'other', 'attr:data-path': path }, label);
      if (folder) {
        const open = exact ? () => browse(path) : () => browse(String(e.path_encoded), true);
        li.append(el('button', { type: 'button', class: 'small', 'attr:aria-label': `Open ${e.name}`, 'on:click': open }, 'Open'));
      } else {
        const what = !exact ? 'name not UTF-8: convert its folder' : pickable ? '' : 'not audio';
        li.append(el('span', { class: 'size' }, what ? `${fmtSize(e.size)} · ${what}` : fmtSize(e.size)));
      }
      return li;
    });
    $('entries').replaceChildren(...items);
    let note = '';
    if (!entries.length) {
      note = S.browsePath === null ? 'No library folder: start the server with --library DIR.' : 'This folder is empty.';
    } else if (listing.truncated) {
      note = `Only the first ${entries.length} entries are shown.`;
    }
    setText('entries-note', note);
  }

  function renderSelected() {
    const list = $('selected');
    const items = [...S.selected.entries()].map(([path, e]) =>
      el(
        'li',
        {},
        el('span', { title: path }, showPath(path) + (e.kind === 'folder' ? '/' : '')),
        el(
          'button',
          {
            type: 'button',
            class: 'small',
            'attr:aria-label': `Remove ${e.name}`,
            'on:click': () => {
              S.selected.delete(path);
              renderSelected();
              for (const box of $('entries').querySelectorAll('input[type=checkbox]')) {
                if (box.value === path) box.checked = false;
              }
            },
          },
          'Remove',
        ),
      ),
    );
    list.replaceChildren(...items);
    setText('selected-count', String(S.selected.size));
    $('selected-clear').hidden = S.selected.size === 0;
    $('rg-box').hidden = S.selected.size === 0;
    // The question names what is chosen: asked again after a change.
    confirmGain(false);
  }

  // ------------------------------------------------------------ the form

  const BITRATES = { mp3: [8, 320], ogg: [32, 500], opus: [6, 510] };
  /**
   * Sample rates MP3 holds (MPEG-1, 2 and 2.5 Layer III) and Opus encodes at
   * (RFC 6716 §2), as the converter checks them (aj-jobs' MP3_RATES and
   * OPUS_RATES); the other formats take any rate offered.
   */
  const RATES = { mp3: [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000], opus: [8000, 12000, 16000, 24000, 48000] };
  const FORMAT_NAMES = { flac: 'FLAC', wav: 'WAV', aiff: 'AIFF', mp3: 'MP3', ogg: 'Ogg Vorbis', opus: 'Opus' };
  const LOSSLESS = ['wav', 'aiff', 'flac'];
  /** The largest gain the converter takes, either way (aj-jobs' MAX_GAIN_DB). */
  const MAX_GAIN_DB = 60;
  const GAPS = {
    append: 'gaps at the end of the previous track',
    prepend: 'gaps at the start of their own track',
    discard: 'gaps left out',
  };
  const ON_EXISTS = {
    skip: 'skipped (the old file stays)',
    overwrite: 'replaced',
    rename: 'kept (the new file is numbered)',
  };

  function khz(rate) {
    return `${Number(rate) / 1000} kHz`;
  }

  function fmtGain(db) {
    const n = Number(db);
    return `${n > 0 ? '+' : n < 0 ? '−' : ''}${Math.abs(n)} dB`;
  }

  /** A problem with the form, and the control to fix it in. */
  class FormError extends Error {
    constructor(message, field) {
      super(message);
      this.field = field;
    }
  }

  function mode() {
    const format = $('format').value;
    if (format === 'opus') return 'bitrate';
    const checked = document.querySelector('input[name=mode]:checked');
    let m = checked ? checked.value : 'quality';
    if (format === 'ogg' && m === 'abr') m = 'bitrate';
    return m;
  }

  /** What "More options" changes, in a few words (empty: nothing). */
  function moreChanges() {
    const format = $('format').value;
    const join = $('join').checked;
    const named = !join && $('name').value.trim() !== '';
    const out = [];
    const onExists = $('on-exists').value;
    if (onExists === 'overwrite') out.push('replace files');
    if (onExists === 'rename') out.push('number new files');
    if (named) out.push('names from tags');
    if ($('safe-names').checked && (join || named)) out.push('Windows-safe names');
    if (!join && !$('split').checked) out.push('images whole');
    else if (!join && $('gaps').value !== 'append') out.push(GAPS[$('gaps').value]);
    if ($('rate').value) out.push(khz($('rate').value));
    const bits = $('bits').value;
    if (bits && LOSSLESS.includes(format)) out.push(bits === 'float' ? 'float' : `${bits}-bit`);
    if ($('channels').value) out.push($('channels').value === '1' ? 'mono' : 'stereo');
    const gain = Number($('gain').value);
    if ($('gain').value.trim() !== '' && isFinite(gain) && gain !== 0) out.push(fmtGain(gain));
    if ($('apply-rg').value) out.push(`${$('apply-rg').value} gain applied`);
    return out;
  }

  function updateOptions() {
    const format = $('format').value;
    if (format === 'ogg' && document.querySelector('input[name=mode][value=abr]').checked) {
      document.querySelector('input[name=mode][value=bitrate]').checked = true;
    }
    const m = mode();
    for (const e of document.querySelectorAll('#new-form [data-for]')) {
      const formats = e.getAttribute('data-for').split(' ');
      const modes = e.hasAttribute('data-mode') ? e.getAttribute('data-mode').split(' ') : null;
      e.hidden = !formats.includes(format) || (modes !== null && !modes.includes(m));
    }
    const range = BITRATES[format];
    if (range) {
      $('bitrate').min = String(range[0]);
      $('bitrate').max = String(range[1]);
    }
    setText('level-out', $('level').value);
    setText('mp3-quality-out', `V${$('mp3-quality').value}`);
    setText('ogg-quality-out', $('ogg-quality').value);
    $('outdir-field').hidden = document.querySelector('input[name=dest]:checked').value !== 'folder';

    // A join writes one image named by its own template: the file naming
    // and the splitting of cue sheet images do not apply to it.
    const join = $('join').checked;
    $('join-fields').hidden = !join;
    $('naming-group').hidden = join;
    $('split-group').hidden = join;
    setText('dest-beside', join ? 'Beside the inputs' : 'Beside each input');
    const named = $('name').value.trim() !== '';
    $('keep-tree').disabled = !named;
    $('keep-tree-label').classList.toggle('off', !named);
    $('safe-names').disabled = !(join || named);
    $('safe-names-label').classList.toggle('off', !(join || named));
    $('gaps').disabled = !$('split').checked;
    // Rates the format cannot hold, and float outside WAV, cannot be chosen.
    const rates = RATES[format];
    for (const o of $('rate').options) {
      if (o.value) o.disabled = !!rates && !rates.includes(Number(o.value));
    }
    for (const o of $('bits').options) {
      if (o.value === 'float') o.disabled = format !== 'wav';
    }
    // Closed, "More options" says what is in it, or what it changes.
    const changes = moreChanges();
    setText('more-note', changes.length ? `· ${changes.join(', ')}` : join ? 'existing files, sound' : 'names, existing files, cue sheets, sound');
    $('more-note').classList.toggle('changed', changes.length > 0);
  }

  /** The DSP fields of the spec (flat in the JSON), checked against the format. */
  function dspFields(format) {
    const out = {};
    const name = FORMAT_NAMES[format] || format;
    const rate = $('rate').value;
    if (rate) {
      const r = Number(rate);
      const allowed = RATES[format];
      if (allowed && !allowed.includes(r)) {
        throw new FormError(`${name} cannot hold ${khz(r)}: it takes ${allowed.map(khz).join(', ')}. Choose another sample rate.`, 'rate');
      }
      out.rate = r;
    }
    const bits = $('bits').value;
    if (bits && LOSSLESS.includes(format)) {
      if (bits === 'float') {
        if (format !== 'wav') throw new FormError(`32-bit float samples are for WAV only, not ${name}: choose a bit depth.`, 'bits');
        out.float = true;
      } else {
        out.bits = Number(bits);
      }
    }
    if ($('channels').value) out.channels = Number($('channels').value);
    const gain = $('gain');
    if (gain.validity.badInput) throw new FormError('The gain is a number of decibels, like -3 or 2.5.', 'gain');
    const g = gain.value.trim();
    if (g !== '') {
      const n = Number(g);
      if (!isFinite(n) || Math.abs(n) > MAX_GAIN_DB) {
        throw new FormError(`A gain of ${g} dB is too much: the gain is −${MAX_GAIN_DB} to ${MAX_GAIN_DB} dB.`, 'gain');
      }
      if (n !== 0) out.gain_db = n;
    }
    if ($('apply-rg').value) out.apply_replaygain = $('apply-rg').value;
    return out;
  }

  /**
   * The job spec the form describes. Options left as they are stay out of
   * it (or keep the values the API takes by default), so that a spec posted
   * without touching them is the one the form always posted.
   */
  function buildSpec() {
    const inputs = [...S.selected.keys()];
    if (!inputs.length) throw new FormError('Choose at least one file or folder first.', null);
    const format = $('format').value;
    const encoder = {};
    const m = mode();
    if (format === 'flac') encoder.level = Number($('level').value);
    if (format === 'mp3' || format === 'ogg' || format === 'opus') {
      if (m === 'quality') {
        encoder.quality = Number($(`${format}-quality`).value);
      } else {
        const b = Number($('bitrate').value);
        const [lo, hi] = BITRATES[format];
        if (!Number.isInteger(b) || b < lo || b > hi) {
          throw new FormError(`The bitrate for ${format.toUpperCase()} is ${lo} to ${hi} kb/s.`, 'bitrate');
        }
        encoder.bitrate = b;
        if (m === 'abr') encoder.abr = true;
      }
    }
    const onExists = $('on-exists').value;
    const spec = {
      kind: 'convert',
      inputs,
      format,
      encoder,
      overwrite: onExists === 'overwrite',
      verify: $('verify').checked,
    };
    if (onExists === 'rename') spec.on_exists = 'rename';
    if ($('replaygain').checked) spec.replaygain = true;
    const join = $('join').checked;
    if (join) {
      const folders = [...S.selected.values()].filter((e) => e.kind === 'folder').length;
      if (inputs.length < 2 && folders === 0) {
        throw new FormError('Joining needs two files or more, or a folder of them: choose another, or untick “Join”.', 'join');
      }
      spec.join = { keep_order: $('keep-order').checked };
      const name = $('join-name').value.trim();
      if (name) spec.join.name = name;
    } else {
      const name = $('name').value.trim();
      if (name) {
        spec.name = name;
        if ($('keep-tree').checked) spec.keep_tree = true;
      }
      if (!$('split').checked) spec.split = false;
      else if ($('gaps').value !== 'append') spec.gaps = $('gaps').value;
    }
    if ($('safe-names').checked && (join || spec.name)) spec.safe_names = 'windows';
    Object.assign(spec, dspFields(format));
    if (document.querySelector('input[name=dest]:checked').value === 'folder') {
      const dir = $('outdir').value.trim();
      if (!dir) throw new FormError('Name the output folder, or choose “Beside each input”.', 'outdir');
      spec.output_dir = serverPath(dir);
    }
    return spec;
  }

  async function submit(ev) {
    ev.preventDefault();
    setText('submit-error', '');
    let spec;
    try {
      spec = buildSpec();
    } catch (e) {
      setText('submit-error', e.message);
      const field = e.field ? $(e.field) : null;
      if (field) {
        // A field under "More options" is shown before it gets the focus.
        if ($('more').contains(field)) $('more').open = true;
        field.focus();
      }
      return;
    }
    const button = $('submit');
    button.disabled = true;
    try {
      const job = await api('POST', 'api/v1/jobs', spec);
      // The event stream may have brought this job, and newer states of it,
      // before this answer: keep those.
      if (!S.jobs.has(job.id)) upsertJob(job, true);
      else {
        const row = S.rows.get(job.id);
        if (row) row.li.classList.add('fresh');
      }
      announce(`Job ${job.id} queued.`);
      if (S.detailId !== null) location.hash = '#/';
    } catch (e) {
      setText('submit-error', `The job was not started: ${relText(e.message)}`);
    } finally {
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------ ReplayGain

  /** The chosen files and folders in words: `2 files`, `the audio files of 1 folder and 1 file`. */
  function chosenText() {
    const kinds = [...S.selected.values()];
    const folders = kinds.filter((e) => e.kind === 'folder').length;
    const files = kinds.length - folders;
    if (!folders) return files === 1 ? 'the chosen file' : `the ${files} chosen files`;
    const parts = [`the audio files of ${plural(folders, 'folder', 'folders')}`];
    if (files) parts.push(plural(files, 'file', 'files'));
    return parts.join(' and ');
  }

  /** Shows or hides the "write tags?" question under the ReplayGain buttons. */
  function confirmGain(show) {
    $('rg-confirm').hidden = !show;
    $('rg-write').setAttribute('aria-expanded', String(show));
    if (show) {
      setText('rg-confirm-text', `Write ReplayGain tags into ${chosenText()}?`);
      $('rg-confirm-yes').focus();
    }
  }

  /** Posts a gain job for the chosen files; `dryRun`: measure only. Opens the job's detail. */
  async function startGain(dryRun) {
    setText('rg-error', '');
    const files = [...S.selected.keys()];
    if (!files.length) {
      setText('rg-error', 'Choose at least one file or folder first.');
      return;
    }
    const spec = { kind: 'gain', files, album: $('rg-album').checked, true_peak: $('rg-true-peak').checked, dry_run: dryRun };
    const buttons = ['rg-measure', 'rg-write', 'rg-confirm-yes'].map($);
    for (const b of buttons) b.disabled = true;
    try {
      const job = await api('POST', 'api/v1/jobs', spec);
      if (!S.jobs.has(job.id)) upsertJob(job, true);
      announce(`Job ${job.id} queued.`);
      confirmGain(false);
      location.hash = `#/jobs/${job.id}`;
    } catch (e) {
      setText('rg-error', `The job was not started: ${relText(e.message)}`);
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  }

  // ---------------------------------------------------------------- drives

  const SECTORS_PER_SECOND = 75; // Red Book: 75 sectors a second.

  function loadDrivesSoon() {
    if (S.drivesTimer) return;
    S.drivesTimer = setTimeout(() => {
      S.drivesTimer = null;
      loadDrives();
    }, 150);
  }

  async function loadDrives() {
    try {
      const r = await api('GET', 'api/v1/drives');
      S.drives = Array.isArray(r.drives) ? r.drives : [];
      setText('drives-error', '');
    } catch (e) {
      if (e.status !== 401) setText('drives-error', `Cannot list the drives: ${e.message}`);
      return;
    }
    renderDrives();
  }

  function driveName(d) {
    const name = [d.vendor, d.model].filter(Boolean).join(' ');
    return name || (d.kind === 'demo' ? 'Demo drive' : d.kind === 'image' ? 'Disc image' : 'CD drive');
  }

  function renderDrives() {
    const panel = $('drives-panel');
    const has = S.drives.length > 0;
    panel.hidden = !has;
    document.querySelector('main.layout').classList.toggle('has-drives', has);
    const list = $('drives');
    const seen = new Set();
    let prev = null;
    for (const d of S.drives) {
      if (typeof d.id !== 'string') continue;
      seen.add(d.id);
      const row = driveRow(d);
      const want = prev ? prev.nextSibling : list.firstChild;
      if (want !== row.li) list.insertBefore(row.li, want);
      prev = row.li;
    }
    for (const [id, row] of [...S.driveRows]) {
      if (!seen.has(id)) {
        row.li.remove();
        S.driveRows.delete(id);
      }
    }
  }

  /** The row of a drive, made once and updated in place (focus and form contents stay). */
  function driveRow(d) {
    let row = S.driveRows.get(d.id);
    if (!row) row = makeDriveRow(d.id);
    row.drive = d;
    row.name.textContent = driveName(d);
    row.spec.textContent = [d.id, d.spec !== d.id ? d.spec : null, d.revision ? `firmware ${d.revision}` : null]
      .filter(Boolean)
      .join(' · ');
    row.badge.textContent = d.busy ? (d.job ? `busy · job ${d.job}` : 'busy') : 'free';
    row.badge.className = `badge ${d.busy ? 'busy' : 'free'}`;
    row.li.setAttribute('data-busy', d.busy ? 'true' : 'false');
    row.read.disabled = d.busy;
    row.eject.disabled = d.busy;
    row.note.textContent = d.error ? d.error : '';
    renderDisc(row);
    return row;
  }

  function makeDriveRow(id) {
    const name = el('span', { class: 'drive-name' });
    const badge = el('span', { class: 'badge' });
    const spec = el('div', { class: 'drive-spec' });
    const note = el('p', { class: 'error', 'attr:role': 'alert' });
    const disc = el('div', { class: 'disc', 'attr:aria-live': 'polite' });
    const read = el('button', { type: 'button', class: 'small' }, 'Read disc');
    const eject = el('button', { type: 'button', class: 'small' }, 'Eject');
    const ripToggle = el('button', { type: 'button', class: 'small', 'attr:aria-expanded': 'false' }, 'Rip…');
    const p = `drive-${id}`;
    const format = el(
      'select',
      { id: `${p}-format` },
      el('option', { value: 'flac' }, 'FLAC (lossless)'),
      el('option', { value: 'wav' }, 'WAV (lossless, uncompressed)'),
      el('option', { value: 'aiff' }, 'AIFF (lossless, uncompressed)'),
      el('option', { value: 'mp3' }, 'MP3'),
      el('option', { value: 'ogg' }, 'Ogg Vorbis'),
      el('option', { value: 'opus' }, 'Opus'),
    );
    const outdir = el('input', { id: `${p}-outdir`, type: 'text', spellcheck: false, autocomplete: 'off', required: true });
    const mode = el(
      'select',
      { id: `${p}-mode` },
      el('option', { value: 'secure' }, 'Secure (reads until two reads agree)'),
      el('option', { value: 'burst' }, 'Burst (one read, fastest)'),
      el('option', { value: 'test-and-copy' }, 'Test and copy (reads twice, compares)'),
    );
    const offline = el('input', { id: `${p}-offline`, type: 'checkbox' });
    const ripError = el('p', { class: 'error', 'attr:role': 'alert' });
    const start = el('button', { type: 'submit', class: 'primary' }, 'Start rip');
    const form = el(
      'form',
      { class: 'rip-form', hidden: true, noValidate: true, 'attr:aria-label': `Rip from ${id}` },
      el('div', { class: 'field' }, el('label', { htmlFor: `${p}-format` }, 'Format'), format),
      el('div', { class: 'field' }, el('label', { htmlFor: `${p}-outdir` }, 'Folder (inside the library; made when missing)'), outdir),
      el('div', { class: 'field' }, el('label', { htmlFor: `${p}-mode` }, 'Mode'), mode),
      el('label', { class: 'check' }, offline, 'Offline (no MusicBrainz, AccurateRip or CTDB)'),
      ripError,
      start,
    );
    const li = el(
      'li',
      { class: 'drive', 'attr:data-id': id },
      el('div', { class: 'drive-title' }, name, badge),
      spec,
      note,
      disc,
      el('div', { class: 'actions' }, read, eject, ripToggle),
      form,
    );
    const row = { li, name, badge, spec, note, disc, read, eject, ripToggle, form, format, outdir, mode, offline, ripError, start, drive: null };
    read.addEventListener('click', () => readDisc(row));
    eject.addEventListener('click', () => ejectDrive(row));
    ripToggle.addEventListener('click', () => {
      form.hidden = !form.hidden;
      ripToggle.setAttribute('aria-expanded', form.hidden ? 'false' : 'true');
      if (!form.hidden) format.focus();
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      startRip(row);
    });
    S.driveRows.set(id, row);
    return row;
  }

  /** CD-TEXT's album fields (the first block), if any. */
  function discText(doc) {
    const blocks = doc && doc.cdtext && Array.isArray(doc.cdtext.blocks) ? doc.cdtext.blocks : [];
    return blocks.length && blocks[0].disc ? blocks[0].disc : {};
  }

  function renderDisc(row) {
    const box = row.disc;
    const got = S.discs.get(row.drive.id);
    box.replaceChildren();
    if (!got) {
      box.append(el('p', { class: 'muted' }, 'Disc not read yet.'));
      return;
    }
    if (got.error) {
      box.append(el('p', { class: 'error' }, got.error));
      return;
    }
    const doc = got.doc;
    const tracks = Array.isArray(doc.tracks) ? doc.tracks : [];
    const audio = tracks.filter((t) => !t.data);
    const first = tracks.length ? Number(tracks[0].start) || 0 : 0;
    const seconds = Math.max(0, (Number(doc.leadout) || 0) - first) / SECTORS_PER_SECOND;
    const text = discText(doc);
    const dl = el('dl', { class: 'spec' });
    const add = (k, v) => {
      if (v === undefined || v === null || v === '') return;
      dl.append(el('dt', {}, k), el('dd', {}, String(v)));
    };
    add('Artist', text.performer);
    add('Album', text.title);
    add('Tracks', `${tracks.length}${audio.length !== tracks.length ? ` (${audio.length} audio)` : ''}`);
    add('Length', fmtDuration(seconds));
    add('MusicBrainz', doc.musicbrainz);
    add('CDDB', doc.cddb);
    add('CTDB', doc.ctdb);
    const ar = doc.accuraterip;
    if (ar && ar.id1) add('AccurateRip', `${ar.id1}-${ar.id2}-${ar.cddb}`);
    const ol = el('ol', { class: 'disc-tracks', 'attr:aria-label': 'Tracks' });
    for (const t of tracks) {
      const len = fmtDuration((Number(t.length) || 0) / SECTORS_PER_SECOND);
      const title = [t.performer !== text.performer ? t.performer : null, t.title].filter(Boolean).join(' – ');
      ol.append(el('li', { value: t.number }, `${title || `Track ${t.number}`} · ${len}${t.data ? ' · data' : ''}`));
    }
    box.append(dl, ol);
  }

  async function readDisc(row) {
    const id = row.drive.id;
    row.read.disabled = true;
    row.read.textContent = 'Reading…';
    try {
      const doc = await api('GET', `api/v1/drives/${encodeURIComponent(id)}/disc`);
      S.discs.set(id, { doc });
      const text = discText(doc);
      if (!row.outdir.value && (text.performer || text.title)) {
        row.outdir.value = [text.performer, text.title].filter(Boolean).join(' - ').replace(/[\/]/g, '_');
      }
      announce(`Disc read in ${id}: ${(doc.tracks || []).length} tracks.`);
    } catch (e) {
      S.discs.set(id, { error: `Cannot read the disc: ${e.message}` });
    } finally {
      row.read.textContent = 'Read disc';
      row.read.disabled = !!(row.drive && row.drive.busy);
      renderDisc(row);
    }
  }

  async function ejectDrive(row) {
    const id = row.drive.id;
    row.eject.disabled = true;
    setText('drives-error', '');
    try {
      await api('POST', `api/v1/drives/${encodeURIComponent(id)}/eject`);
      S.discs.delete(id);
      renderDisc(row);
      announce(`The tray of ${id} opened.`);
    } catch (e) {
      row.note.textContent = `Cannot eject: ${e.message}`;
    } finally {
      row.eject.disabled = !!(row.drive && row.drive.busy);
    }
  }

  async function startRip(row) {
    row.ripError.textContent = '';
    const folder = row.outdir.value.trim();
    if (!folder) {
      row.ripError.textContent = 'Name a folder for the tracks.';
      row.outdir.focus();
      return;
    }
    const spec = {
      kind: 'rip',
      drive: row.drive.id,
      output_dir: folder,
      format: row.format.value,
      mode: row.mode.value,
      offline: row.offline.checked,
    };
    row.start.disabled = true;
    try {
      const job = await api('POST', 'api/v1/jobs', spec);
      if (!S.jobs.has(job.id)) upsertJob(job, true);
      announce(`Rip job ${job.id} queued.`);
      row.form.hidden = true;
      row.ripToggle.setAttribute('aria-expanded', 'false');
      loadDrivesSoon();
    } catch (e) {
      row.ripError.textContent = `The rip was not started: ${e.message}`;
    } finally {
      row.start.disabled = false;
    }
  }

  // ------------------------------------------------------------ start

  async function connect() {
    try {
      await loadStatus();
    } catch (e) {
      if (e.status !== 401) {
        setText('st-token', '?');
        setLive(false, `cannot reach the server: ${e.message}`);
        setTimeout(connect, 5000);
      }
      return;
    }
    S.lastEventId = null;
    startEvents();
    loadDrives();
    browse(S.browsePath);
    route();
  }

  function bind() {
    $('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = $('token-input').value.trim();
      if (!t) {
        setText('token-error', 'Paste the token first.');
        return;
      }
      setText('token-error', '');
      S.token = t;
      writeToken(t);
      $('token-input').value = '';
      connect();
    });
    $('token-forget').addEventListener('click', () => {
      S.token = '';
      writeToken('');
      S.eventsGen += 1;
      if (S.eventsAbort) S.eventsAbort.abort();
      connect();
    });
    $('jobs-filter').addEventListener('change', renderJobs);
    $('drives-refresh').addEventListener('click', loadDrives);
    $('act-cancel').addEventListener('click', () => act('POST', '/cancel', 'Cancel asked.'));
    $('act-retry').addEventListener('click', () => act('POST', '/retry', 'Queued again.'));
    $('act-delete').addEventListener('click', deleteJob);
    $('selected-clear').addEventListener('click', () => {
      S.selected.clear();
      renderSelected();
      for (const box of $('entries').querySelectorAll('input[type=checkbox]')) box.checked = false;
    });
    $('outdir-here').addEventListener('click', () => {
      if (S.browsePath === null) return;
      // As the library shows it, when that leads back to the same folder.
      const shown = showPath(S.browsePath);
      $('outdir').value = serverPath(shown) === S.browsePath.replace(/\/+$/, '') ? shown : S.browsePath;
    });
    $('rg-measure').addEventListener('click', () => startGain(true));
    $('rg-write').addEventListener('click', () => confirmGain($('rg-confirm').hidden));
    $('rg-confirm-yes').addEventListener('click', () => startGain(false));
    $('rg-confirm-no').addEventListener('click', () => {
      confirmGain(false);
      $('rg-write').focus();
    });
    $('new-form').addEventListener('submit', submit);
    $('new-form').addEventListener('input', updateOptions);
    $('new-form').addEventListener('change', updateOptions);
    window.addEventListener('hashchange', route);
  }

  bind();
  updateOptions();
  renderStatus();
  renderSelected();
  connect();
})();
