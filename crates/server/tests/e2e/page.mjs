// Drives the web page of `aj serve` in a real headless Chromium.
//
// Run by crates/server/tests/browser.rs, which starts the servers and passes
// the setup as JSON in AJ_E2E:
//   { "url": "http://127.0.0.1:PORT/",          a server without a token
//     "token_url": "http://127.0.0.1:PORT2/",   a server that needs `token`
//     "token": "…",
//     "input": "tone.wav",                      a WAV in folder `album` of each library
//     "broken": "broken.wav",                   not audio, in the first library's `album`
//     "chromium": "/path/to/chromium",
//     "shots": "DIR",                           screenshots go here
//     "keep": "DIR" | null,                     a few are copied here too
//     "drive": "demo",                          the first server's drive (the demo disc)
//     "rip_dir": "rips/demo",                   where the page rips it, inside the library
//     "album": "…", "performer": "…" }          the demo disc's CD-TEXT
// Prints one JSON line with what it saw; exits non-zero on failure.

import { chromium } from 'playwright-core';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const cfg = JSON.parse(process.env.AJ_E2E || '{}');
const STEP_MS = 30000;
const result = { ok: false, steps: [], screenshots: [], states_seen: [], downloads: [] };

function step(name) {
  result.steps.push(name);
  process.stderr.write(`e2e: ${name}\n`);
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

async function shot(page, name, keep) {
  const path = join(cfg.shots, `${name}.png`);
  await page.screenshot({ path, fullPage: true, animations: 'disabled' });
  result.screenshots.push(path);
  if (keep && cfg.keep) {
    mkdirSync(cfg.keep, { recursive: true });
    copyFileSync(path, join(cfg.keep, `${name}.png`));
  }
}

/** Collects console errors, page errors and CSP violations of a page. */
function watch(page, problems) {
  page.on('console', (m) => {
    // A 401 before the token is pasted is expected and shown on the page.
    if (m.type() === 'error' && !/401/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) problems.navigations = (problems.navigations || 0) + 1;
  });
}

async function csp(context) {
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
}

/** Every visible form control has a name a screen reader can read. */
async function unlabelled(page) {
  return page.evaluate(() => {
    const bad = [];
    for (const e of document.querySelectorAll('input, select, button, textarea')) {
      if (e.closest('[hidden]') || e.type === 'hidden') continue;
      const name = (e.labels && e.labels.length) || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') ||
        (e.tagName === 'BUTTON' && e.textContent.trim());
      if (!name) bad.push(e.outerHTML.slice(0, 80));
    }
    return bad;
  });
}

/** Opens the library's first root, its `album` folder, and ticks `name`. */
async function chooseInput(page, name) {
  const root = page.locator('#entries li.folder').first();
  await root.waitFor({ timeout: STEP_MS });
  await root.locator('button').click();
  await page.locator('#entries li.folder', { hasText: 'album/' }).locator('button').click();
  const entry = page.locator(`#entries li.audio[data-path$="/${name}"]`);
  await entry.waitFor({ timeout: STEP_MS });
  await entry.locator('input[type=checkbox]').check();
  await page.waitForFunction(() => document.getElementById('selected-count').textContent === '1');
}

/** Submits the form and waits, without reloading, for the new job to reach `end`. */
async function convertAndWait(page, end = 'done') {
  await page.evaluate(() => {
    window.__noReload = true;
    window.__states = [];
    const list = document.getElementById('jobs');
    const seen = (s) => {
      if (!window.__states.includes(s)) window.__states.push(s);
    };
    // Several events may be applied in one task: the old values of the
    // attribute show the states passed through.
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === 'attributes' && r.oldValue) seen(`${r.target.dataset.id}:${r.oldValue}`);
      }
      for (const li of list.querySelectorAll('li.job')) seen(`${li.dataset.id}:${li.dataset.state}`);
    }).observe(list, { subtree: true, childList: true, attributes: true, attributeOldValue: true, attributeFilter: ['data-state'] });
  });
  const before = await page.locator('#jobs li.job').count();
  await page.locator('#submit').click();
  await page.waitForFunction((n) => document.querySelectorAll('#jobs li.job').length === n + 1, before, { timeout: STEP_MS });
  const row = page.locator('#jobs li.job').first();
  const id = await row.getAttribute('data-id');
  await page.locator(`#jobs li.job[data-id="${id}"][data-state="${end}"]`).waitFor({ timeout: STEP_MS });
  check(await page.evaluate(() => window.__noReload === true), 'the page was not reloaded');
  if (end === 'done') {
    const bar = row.locator('[role=progressbar]');
    check((await bar.getAttribute('aria-valuenow')) === '100', 'the progress bar is full');
  }
  const states = await page.evaluate(() => window.__states);
  result.states_seen.push(...states);
  check(states.includes(`${id}:${end}`), `the list showed job ${id} ${end}`);
  return { id, row };
}

/** Opens the job's detail, checks it, and downloads its output through the page. */
async function detailAndDownload(page, id, row) {
  await row.locator('a').click();
  await page.waitForFunction((i) => location.hash === `#/jobs/${i}`, id);
  await page.locator('#detail-panel').waitFor({ state: 'visible' });
  check((await page.locator('#detail-title').textContent()) === `Job #${id}`, 'the detail names the job');
  check((await page.locator('#detail-badge').textContent()) === 'done', 'the detail shows done');
  const link = page.locator('#files li[data-state=done] a.download');
  await link.waitFor({ timeout: STEP_MS });
  await page.locator('#log-box summary').click();
  await page.waitForFunction(() => Number(document.getElementById('log-count').textContent) >= 3);
  const logText = await page.locator('#log').textContent();
  check(logText.includes('finished: 1 converted'), 'the log shows the summary');
  check(await page.locator('#act-cancel').isDisabled(), 'a finished job cannot be cancelled');
  check(await page.locator('#act-retry').isDisabled(), 'a done job cannot be retried');
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: STEP_MS }), link.click()]);
  const file = await download.path();
  const bytes = readFileSync(file);
  const magic = bytes.subarray(0, 4).toString('latin1');
  result.downloads.push({ name: download.suggestedFilename(), bytes: bytes.length, magic });
  check(magic === 'fLaC', `the download is FLAC (starts with ${JSON.stringify(magic)})`);
}

async function withoutToken(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  await csp(context);
  const page = await context.newPage();
  const problems = [];
  watch(page, problems);
  step('desktop: open the page');
  await page.goto(cfg.url);
  await page.locator('#st-events', { hasText: 'live' }).waitFor({ timeout: STEP_MS });
  check((await page.locator('#st-token').textContent()).includes('not needed'), 'no token is needed');
  check(await page.locator('#token-panel').isHidden(), 'the token field is hidden');

  step('desktop: browse the library and choose the WAV');
  await chooseInput(page, cfg.input);
  check((await page.locator('#format').inputValue()) === 'flac', 'FLAC is the default format');
  // The level slider by keyboard: End is level 8.
  await page.locator('#level').focus();
  await page.keyboard.press('End');
  check((await page.locator('#level-out').textContent()) === '8', 'the level shows 8');
  const bad = await unlabelled(page);
  check(bad.length === 0, `every control has a label: ${bad.join(' | ')}`);
  await shot(page, 'desktop-form', true);

  step('desktop: convert and watch the job reach done');
  const { id, row } = await convertAndWait(page);
  await shot(page, 'desktop-done', false);

  step('desktop: the job detail, its log, and the download');
  await detailAndDownload(page, id, row);
  const spec = await page.locator('#detail-spec').textContent();
  check(spec.includes('level 8'), 'the detail shows level 8');
  await shot(page, 'desktop-detail', true);

  step('desktop: back to the list by keyboard');
  await page.locator('#detail-back').focus();
  await page.keyboard.press('Enter');
  await page.locator('#jobs-panel').waitFor({ state: 'visible' });

  step('desktop: a file that is not audio fails; retry runs it again');
  await page.locator('#selected-clear').click();
  await page.locator('#crumbs button', { hasText: 'Library' }).click();
  await chooseInput(page, cfg.broken);
  const failed = await convertAndWait(page, 'failed');
  await failed.row.locator('a').click();
  await page.locator('#files li[data-state=failed]').waitFor({ timeout: STEP_MS });
  const why = await page.locator('#files li[data-state=failed] .file-state').textContent();
  check(why.includes('not a recognised audio file'), `the file's error is shown: ${why}`);
  check((await page.locator('#detail-error').textContent()).includes('failed'), 'the job error is shown');
  check(await page.locator('#act-cancel').isDisabled(), 'a failed job cannot be cancelled');
  await page.waitForFunction(() => Number(document.getElementById('log-count').textContent) === 3);
  await page.evaluate(() => { window.__states = []; });
  await page.locator('#act-retry').click();
  // The job runs again (its log grows) and fails again, shown without reload.
  await page.waitForFunction(() => Number(document.getElementById('log-count').textContent) === 6, null, { timeout: STEP_MS });
  await page.locator('#detail-badge', { hasText: 'failed' }).waitFor({ timeout: STEP_MS });
  const again = await page.evaluate(() => window.__states);
  check(again.some((s) => s === `${failed.id}:queued` || s === `${failed.id}:running`), `the retry was seen: ${again}`);
  await shot(page, 'desktop-failed', false);

  const violations = await page.evaluate(() => window.__cspViolations);
  check(violations.length === 0, `no CSP violation: ${violations.join(', ')}`);
  check(problems.length === 0, `no error in the page: ${problems.join(' | ')}`);
  check((problems.navigations || 0) <= 6, 'only hash navigations');
  await context.close();

  step('phone: the list and the detail in one column, dark');
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    colorScheme: 'dark',
    acceptDownloads: true,
  });
  await csp(phone);
  const p = await phone.newPage();
  const pproblems = [];
  watch(p, pproblems);
  await p.goto(cfg.url);
  await p.locator(`#jobs li.job[data-id="${id}"][data-state="done"]`).waitFor({ timeout: STEP_MS });
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `nothing wider than the phone (${overflow} px too wide)`);
  const cols = await p.evaluate(() => getComputedStyle(document.querySelector('.layout')).gridTemplateColumns.split(' ').length);
  check(cols === 1, `one column on a phone (${cols})`);
  await shot(p, 'phone-list', true);
  await p.locator(`#jobs li.job[data-id="${id}"] a`).tap();
  await p.locator('#files li[data-state=done] a.download').waitFor({ timeout: STEP_MS });
  await shot(p, 'phone-detail', true);

  step('phone: delete the job');
  p.once('dialog', (d) => d.accept());
  await p.locator('#act-delete').tap();
  await p.waitForFunction(() => location.hash === '#/');
  await p.locator(`#jobs li.job[data-id="${id}"]`).waitFor({ state: 'detached', timeout: STEP_MS });
  check((await p.locator('#jobs li.job').count()) === 1, 'the other job is still listed');
  check(await p.locator('#jobs-empty').isHidden(), 'the list is not called empty');
  check(pproblems.length === 0, `no error in the page: ${pproblems.join(' | ')}`);
  await phone.close();
}

/** Keeps what the job list and the drive list show while a rip runs. */
async function recordRip(page) {
  await page.evaluate(() => {
    window.__metas = [];
    window.__busy = [];
    const note = () => {
      for (const m of document.querySelectorAll('#jobs li.job .job-meta')) {
        const t = m.textContent;
        if (t && !window.__metas.includes(t)) window.__metas.push(t);
      }
      for (const d of document.querySelectorAll('#drives li.drive')) {
        const b = `${d.dataset.id}:${d.dataset.busy}:${d.querySelector('.badge').textContent}`;
        if (!window.__busy.includes(b)) window.__busy.push(b);
      }
    };
    const o = new MutationObserver(note);
    o.observe(document.getElementById('jobs'), { subtree: true, childList: true, characterData: true });
    o.observe(document.getElementById('drives'), { subtree: true, childList: true, characterData: true, attributes: true });
  });
}

async function withDrives(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await csp(context);
  const page = await context.newPage();
  const problems = [];
  watch(page, problems);
  step('drives: the demo drive is listed');
  await page.goto(cfg.url);
  await page.locator('#st-events', { hasText: 'live' }).waitFor({ timeout: STEP_MS });
  const drive = page.locator(`#drives li.drive[data-id="${cfg.drive}"]`);
  await drive.waitFor({ timeout: STEP_MS });
  check(await page.locator('#drives-panel').isVisible(), 'the drives panel shows');
  check((await drive.locator('.badge').textContent()) === 'free', 'the drive is free');
  check((await drive.locator('.drive-name').textContent()).trim().length > 0, 'the drive has a name');

  step('drives: read the disc');
  await drive.getByRole('button', { name: 'Read disc' }).click();
  await drive.locator('.disc dl').waitFor({ timeout: STEP_MS });
  const facts = await drive.locator('.disc dl').evaluate((dl) => {
    const out = {};
    for (const dt of dl.querySelectorAll('dt')) out[dt.textContent] = dt.nextElementSibling.textContent;
    return out;
  });
  check(facts.Tracks === '5', `five tracks: ${JSON.stringify(facts)}`);
  check(facts.Album === cfg.album, `the album from CD-TEXT: ${JSON.stringify(facts)}`);
  check(facts.Artist === cfg.performer, `the artist from CD-TEXT: ${JSON.stringify(facts)}`);
  check(/^1 min 5\d s$/.test(facts.Length), `the length: ${facts.Length}`);
  check(typeof facts.MusicBrainz === 'string' && facts.MusicBrainz.length === 28, 'the MusicBrainz disc ID');
  check((await drive.locator('.disc-tracks li').count()) === 5, 'five tracks listed');
  result.disc = facts;

  step('drives: the rip form, by keyboard');
  const toggle = drive.getByRole('button', { name: 'Rip…' });
  await toggle.focus();
  await page.keyboard.press('Enter');
  const form = drive.locator('form.rip-form');
  await form.waitFor({ state: 'visible' });
  check((await toggle.getAttribute('aria-expanded')) === 'true', 'the toggle says it is open');
  const outdir = form.getByLabel('Folder (inside the library; made when missing)');
  check((await outdir.inputValue()) === `${cfg.performer} - ${cfg.album}`, 'the folder is named after the disc');
  await outdir.fill(cfg.rip_dir);
  await form.getByLabel('Format').selectOption('flac');
  check((await form.getByLabel('Mode').inputValue()) === 'secure', 'secure is the default mode');
  await form.getByLabel(/^Offline/).focus();
  await page.keyboard.press('Space');
  check(await form.getByLabel(/^Offline/).isChecked(), 'offline is ticked');
  const bad = await unlabelled(page);
  check(bad.length === 0, `every control has a label: ${bad.join(' | ')}`);

  step('drives: rip and watch it reach done');
  await recordRip(page);
  const before = await page.locator('#jobs li.job').count();
  await form.getByRole('button', { name: 'Start rip' }).click();
  await page.waitForFunction((n) => document.querySelectorAll('#jobs li.job').length === n + 1, before, { timeout: STEP_MS });
  const row = page.locator('#jobs li.job').first();
  const id = await row.getAttribute('data-id');
  check((await row.locator('.job-name').textContent()).includes('rip'), 'the new job is the rip');
  check(await form.isHidden(), 'the form closes');
  await page.locator(`#jobs li.job[data-id="${id}"][data-state="done"]`).waitFor({ timeout: 4 * STEP_MS });
  const metas = await page.evaluate(() => window.__metas);
  check(metas.some((m) => /track [1-5] of 5/.test(m)), `track progress was shown: ${metas.join(' | ')}`);
  await page.waitForFunction((d) => {
    const li = document.querySelector(`#drives li.drive[data-id="${d}"]`);
    return li && li.dataset.busy === 'false';
  }, cfg.drive, { timeout: STEP_MS });
  const busy = await page.evaluate(() => window.__busy);
  check(busy.some((b) => b === `${cfg.drive}:true:busy · job ${id}`), `the drive showed the rip: ${busy.join(' | ')}`);
  result.rip = { id, metas: metas.slice(0, 12), busy };
  await shot(page, 'drives', true);

  step('drives: eject');
  await drive.getByRole('button', { name: 'Eject' }).click();
  await drive.locator('.disc', { hasText: 'Disc not read yet.' }).waitFor({ timeout: STEP_MS });
  const violations = await page.evaluate(() => window.__cspViolations);
  check(violations.length === 0, `no CSP violation: ${violations.join(', ')}`);
  check(problems.length === 0, `no error in the page: ${problems.join(' | ')}`);
  await context.close();

  step('drives: on a phone');
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await csp(phone);
  const p = await phone.newPage();
  const pproblems = [];
  watch(p, pproblems);
  await p.goto(cfg.url);
  const pdrive = p.locator(`#drives li.drive[data-id="${cfg.drive}"]`);
  await pdrive.waitFor({ timeout: STEP_MS });
  await pdrive.getByRole('button', { name: 'Read disc' }).tap();
  await pdrive.locator('.disc dl').waitFor({ timeout: STEP_MS });
  await pdrive.getByRole('button', { name: 'Rip…' }).tap();
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `nothing wider than the phone (${overflow} px too wide)`);
  await shot(p, 'phone-drives', true);
  check(pproblems.length === 0, `no error in the page: ${pproblems.join(' | ')}`);
  await phone.close();
}

async function withToken(browser) {
  const context = await browser.newContext({ viewport: { width: 1024, height: 800 }, acceptDownloads: true });
  await csp(context);
  const page = await context.newPage();
  const problems = [];
  watch(page, problems);
  step('token: the page asks for the token');
  await page.goto(cfg.token_url);
  await page.locator('#token-panel').waitFor({ state: 'visible', timeout: STEP_MS });
  check((await page.locator('#entries li').count()) === 0, 'nothing is listed without the token');
  await page.locator('#token-input').fill('not-the-token');
  await page.locator('#token-form button[type=submit]').click();
  await page.locator('#token-why', { hasText: 'refused' }).waitFor({ timeout: STEP_MS });
  await page.locator('#token-input').fill(cfg.token);
  await page.locator('#token-form button[type=submit]').click();
  await page.locator('#token-panel').waitFor({ state: 'hidden', timeout: STEP_MS });
  await page.locator('#st-events', { hasText: 'live' }).waitFor({ timeout: STEP_MS });

  step('token: convert and download with the token');
  await chooseInput(page, cfg.input);
  const { id, row } = await convertAndWait(page);
  await detailAndDownload(page, id, row);

  step('token: kept in this browser after a reload');
  await page.reload();
  await page.locator('#st-events', { hasText: 'live' }).waitFor({ timeout: STEP_MS });
  check(await page.locator('#token-panel').isHidden(), 'no token asked after a reload');
  check((await page.locator('#st-token').textContent()).includes('sent from this browser'), 'the status says the token is sent');
  await shot(page, 'token-detail', false);
  const violations = await page.evaluate(() => window.__cspViolations);
  check(violations.length === 0, `no CSP violation: ${violations.join(', ')}`);
  check(problems.length === 0, `no error in the page: ${problems.join(' | ')}`);
  await context.close();
}

async function main() {
  for (const k of ['url', 'token_url', 'token', 'input', 'broken', 'chromium', 'shots']) {
    if (!cfg[k]) throw new Error(`AJ_E2E lacks ${k}`);
  }
  const browser = await chromium.launch({
    executablePath: cfg.chromium,
    headless: true,
    chromiumSandbox: false,
    timeout: STEP_MS,
    // The machine's network may refuse background connections: ask for none.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    await withoutToken(browser);
    if (cfg.drive) await withDrives(browser);
    await withToken(browser);
  } finally {
    await browser.close();
  }
  result.ok = true;
}

main()
  .catch((e) => {
    result.error = String(e && e.stack ? e.stack : e);
    process.exitCode = 1;
  })
  .finally(() => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  });
