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
//     "album": "…", "performer": "…",           the demo disc's CD-TEXT
//     "join": { "folder": "tracks",             two WAVs in this folder of the first library,
//               "files": ["…", "…"],            joined by the page into one image
//               "name": "…", "out": "joined",   named so, in this folder of the library
//               "root": "/…/lib" },             the library's path, never shown by the page
//     "gain": { "folder": "gain",               two WAVs of different levels in this folder of
//               "files": ["…", "…"] } }          the first library, given ReplayGain tags by the page
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
  // A full-page shot resizes the view for a moment: let the layout settle
  // before the next click.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
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

/** Opens the library's first root, then `folder`, and ticks each of `names`. */
async function chooseInputs(page, folder, names) {
  const root = page.locator('#entries li.folder').first();
  await root.waitFor({ timeout: STEP_MS });
  await root.locator('button').click();
  await page.locator('#entries li.folder', { hasText: `${folder}/` }).locator('button').click();
  for (const name of names) {
    const entry = page.locator(`#entries li.audio[data-path$="/${name}"]`);
    await entry.waitFor({ timeout: STEP_MS });
    await entry.locator('input[type=checkbox]').check();
  }
  await page.waitForFunction((n) => document.getElementById('selected-count').textContent === String(n), names.length);
}

/** How much wider than the window the page is (0 or less: it fits). */
async function tooWide(page) {
  return page.evaluate(() => document.scrollingElement.scrollWidth - window.innerWidth);
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
  try {
    await page.waitForFunction((n) => document.querySelectorAll('#jobs li.job').length === n + 1, before, { timeout: STEP_MS });
  } catch (e) {
    throw new Error(`no job was started; the form says: ${await page.locator('#submit-error').textContent()} (${e.message})`);
  }
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
  const posted = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/api/v1/jobs')) posted.push(JSON.parse(r.postData()));
  });
  const { id, row } = await convertAndWait(page);
  // Options left alone stay out of the spec: the API's defaults apply.
  check(posted.length === 1, `one job posted: ${JSON.stringify(posted)}`);
  const keys = Object.keys(posted[0]).sort().join(' ');
  check(keys === 'encoder format inputs kind overwrite verify', `only the options the form always sent: ${keys}`);
  check(posted[0].overwrite === false && posted[0].verify === true, `the defaults: ${JSON.stringify(posted[0])}`);
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

  step('desktop: names that are not UTF-8 are listed, browsable, not pickable');
  await page.locator('#crumbs button', { hasText: 'Library' }).click();
  const top = page.locator('#entries li.folder').first();
  await top.waitFor({ timeout: STEP_MS });
  await top.locator('button').click();
  await page.locator('#entries li.folder', { hasText: 'odd/' }).locator('button').click();
  const oddFile = page.locator('#entries li', { hasText: 'caf\uFFFD.wav' });
  await oddFile.waitFor({ timeout: STEP_MS });
  check((await oddFile.textContent()).includes('name not UTF-8'), 'the file says why it cannot be chosen');
  check(await oddFile.locator('input[type=checkbox]').isDisabled(), 'a file whose name is not UTF-8 cannot be ticked');
  await page.locator('#entries li.folder', { hasText: 'd\uFFFDr/' }).locator('button').click();
  await page.locator('#entries li', { hasText: 'inner.wav' }).waitFor({ timeout: STEP_MS });
  check((await page.locator('#browse-error').textContent()) === '', 'the folder opened without an error');

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
  const overflow = await tooWide(p);
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

/**
 * Joins the two tracks into one 24-bit FLAC image with its cue sheet, into
 * a folder: the join choice and "More options" of the form, its own checks
 * and the server's, the job's files (image and cue sheet, both downloaded)
 * and its settings, with paths shown relative to the library.
 */
async function joinTracks(browser) {
  const j = cfg.join;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  await csp(context);
  const page = await context.newPage();
  const problems = [];
  watch(page, problems);
  step('join: choose both tracks');
  await page.goto(cfg.url);
  await page.locator('#st-events', { hasText: 'live' }).waitFor({ timeout: STEP_MS });
  await chooseInputs(page, j.folder, j.files);
  check(await page.locator('#more').evaluate((d) => !d.open), '"More options" starts closed');
  check(!(await page.locator('#more-note').evaluate((e) => e.classList.contains('changed'))), 'nothing changed under "More options"');
  check((await page.locator('#more-note').textContent()).includes('sound'), '"More options" says what it holds');

  step('join: the join choice hides what does not apply');
  await page.locator('#more summary').click();
  check(await page.locator('#naming-group').isVisible(), 'file names are offered for a conversion');
  check(await page.locator('#split-group').isVisible(), 'cue sheet splitting is offered for a conversion');
  await page.getByLabel('Join them into one file, with a cue sheet').check();
  check(await page.locator('#naming-group').isHidden(), 'a join hides the file names');
  check(await page.locator('#split-group').isHidden(), 'a join hides cue sheet splitting');
  check(await page.locator('#join-fields').isVisible(), 'the join shows its own fields');
  check((await page.locator('#dest-beside').textContent()) === 'Beside the inputs', 'the destination is worded for one image');

  step('join: the form checks what it can');
  const jobsBefore = await page.locator('#jobs li.job').count();
  await page.getByLabel('Sample rate').selectOption('96000');
  await page.locator('#format').selectOption('mp3');
  check(await page.locator('#bits').isHidden(), 'no bit depth for MP3');
  check(await page.locator('#rate option[value="96000"]').isDisabled(), 'MP3 cannot be given 96 kHz');
  await page.locator('#submit').click();
  const rateError = await page.locator('#submit-error').textContent();
  check(rateError.includes('MP3 cannot hold 96 kHz'), `the rate is refused in words: ${rateError}`);
  check(await page.evaluate(() => document.activeElement && document.activeElement.id === 'rate'), 'the sample rate gets the focus');
  await page.getByLabel('Sample rate').selectOption('');
  await page.locator('#format').selectOption('flac');
  await page.getByLabel('Gain in dB (optional)').fill('75');
  await page.locator('#submit').click();
  const gainError = await page.locator('#submit-error').textContent();
  check(gainError.includes('−60 to 60 dB'), `the gain is refused in words: ${gainError}`);
  await page.getByLabel('Gain in dB (optional)').fill('');
  // A template the server cannot parse: its 400 is shown as it words it.
  await page.getByLabel('Image name (optional)').fill('{album');
  await page.locator('#submit').click();
  await page.locator('#submit-error', { hasText: 'The job was not started' }).waitFor({ timeout: STEP_MS });
  const serverError = await page.locator('#submit-error').textContent();
  check(serverError.includes('without its }'), `the server's reason is shown: ${serverError}`);
  check((await page.locator('#jobs li.job').count()) === jobsBefore, 'no job was started by a refused form');

  step('join: name, depth and folder');
  await page.getByLabel('Image name (optional)').fill(j.name);
  await page.getByLabel('Bit depth').selectOption('24');
  check((await page.locator('#more-note').textContent()).includes('24-bit'), 'the closed options would show the depth');
  await page.getByLabel('Into a folder').check();
  await page.getByRole('button', { name: 'This folder' }).click();
  const here = await page.locator('#outdir').inputValue();
  check(!here.startsWith('/') && here.endsWith(`/${j.folder}`), `the folder is shown inside the library: ${here}`);
  await page.locator('#outdir').fill(`${here.split('/')[0]}/${j.out}`);
  check((await tooWide(page)) <= 0, 'the open form fits the window');
  const bad = await unlabelled(page);
  check(bad.length === 0, `every control has a label: ${bad.join(' | ')}`);
  await shot(page, 'desktop-join-form', true);

  step('join: run it and watch it reach done');
  let started;
  try {
    started = await convertAndWait(page);
  } catch (e) {
    await shot(page, 'join-failed', true);
    throw new Error(`${e.message}; page problems: ${problems.join(' | ')}`);
  }
  const { id, row } = started;
  check((await row.locator('.job-name').textContent()).includes('one FLAC image'), 'the job is named a join');
  await row.locator('a').click();
  await page.locator('#detail-panel').waitFor({ state: 'visible' });
  const links = page.locator('#files li[data-state=done] a.download');
  await links.nth(1).waitFor({ timeout: STEP_MS });
  const names = await links.evaluateAll((as) => as.map((a) => a.getAttribute('download')));
  check(names.length === 2 && names[0] === `${j.name}.flac` && names[1] === `${j.name}.cue`, `the image and its cue sheet: ${names}`);

  step('join: the settings in words, the paths inside the library');
  const facts = await page.locator('#detail-spec').evaluate((dl) => {
    const out = {};
    for (const dt of dl.querySelectorAll('dt')) out[dt.textContent] = dt.nextElementSibling.textContent;
    return out;
  });
  check((facts.Join || '').startsWith('into one image with a cue sheet'), `the join is shown: ${JSON.stringify(facts)}`);
  check(facts['Image name'] === j.name, `the image name is shown: ${JSON.stringify(facts)}`);
  check(facts.Sound === '24-bit', `the depth is shown: ${JSON.stringify(facts)}`);
  const lib = j.root.split('/').pop();
  check(facts.Output === `${lib}/${j.out}`, `the output folder inside the library: ${facts.Output}`);
  check(facts.Inputs === j.files.map((f) => `${lib}/${j.folder}/${f}`).join(''), `the inputs inside the library: ${facts.Inputs}`);
  check(!('File names' in facts) && !('Files at once' in facts), 'no setting that a join does not use');
  await page.locator('#log-box summary').click();
  await page.waitForFunction(() => Number(document.getElementById('log-count').textContent) >= 5);
  const logText = await page.locator('#log').textContent();
  check(logText.includes('finished: joined into one image'), `the log says what was done: ${logText}`);
  check(logText.includes(`track 2 of the image from ${lib}/${j.folder}/${j.files[1]}`), `the log names the tracks: ${logText}`);
  const panel = await page.locator('#detail-panel').textContent();
  check(!panel.includes(j.root), 'the server\'s own path of the library is not shown');

  step('join: download the cue sheet');
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: STEP_MS }), links.nth(1).click()]);
  const sheet = readFileSync(await download.path(), 'utf8');
  const tracks = sheet.split(/\r?\n/).filter((l) => /^\s*TRACK \d\d AUDIO/.test(l)).length;
  check(sheet.includes(`FILE "${j.name}.flac" WAVE`), `the sheet names the image: ${sheet}`);
  check(tracks === 2, `the sheet lists two tracks: ${sheet}`);
  result.join = { id, cue_tracks: tracks, settings: facts };
  await shot(page, 'desktop-join-detail', true);
  const violations = await page.evaluate(() => window.__cspViolations);
  check(violations.length === 0, `no CSP violation: ${violations.join(', ')}`);
  // The browser logs the one refusal the test asked for.
  const refused = problems.filter((m) => m.includes('status of 400'));
  const others = problems.filter((m) => !m.includes('status of 400'));
  check(refused.length === 1, `one request refused: ${refused.join(' | ')}`);
  check(others.length === 0, `no error in the page: ${others.join(' | ')}`);
  await context.close();

  for (const scheme of ['light', 'dark']) {
    step(`join: on a phone, ${scheme}`);
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: scheme });
    await csp(phone);
    const p = await phone.newPage();
    const pproblems = [];
    watch(p, pproblems);
    await p.goto(cfg.url);
    await p.locator('#st-events', { hasText: 'live' }).waitFor({ timeout: STEP_MS });
    await chooseInputs(p, j.folder, j.files);
    await p.locator('#more summary').tap();
    if (scheme === 'dark') await p.getByLabel('Join them into one file, with a cue sheet').check();
    await p.getByLabel('Sample rate').selectOption('48000');
    check((await tooWide(p)) <= 0, `the form fits the phone (${await tooWide(p)} px too wide)`);
    await shot(p, `phone-form-${scheme}`, true);
    await p.goto(`${cfg.url}#/jobs/${id}`);
    await p.locator('#files li[data-state=done] a.download').nth(1).waitFor({ timeout: STEP_MS });
    check((await tooWide(p)) <= 0, `the join's detail fits the phone (${await tooWide(p)} px too wide)`);
    await shot(p, `phone-join-detail-${scheme}`, true);
    check(pproblems.length === 0, `no error in the page: ${pproblems.join(' | ')}`);
    await phone.close();
  }
}

/** What the detail of a gain job shows: its table's rows and its album lines. */
async function readGain(page) {
  return page.evaluate(() => ({
    rows: [...document.querySelectorAll('#gain-rows tr')].map((tr) => ({
      file: tr.querySelector('.rg-file').firstChild.textContent,
      lufs: tr.querySelector('.rg-lufs').textContent,
      gain: tr.querySelector('.rg-gain').textContent,
      peak: tr.querySelector('.rg-peak').textContent,
      written: tr.querySelector('.rg-written').textContent,
    })),
    albums: [...document.querySelectorAll('#gain-albums li')].map((li) => ({
      text: li.textContent,
      gain: li.querySelector('.rg-album-gain').textContent,
    })),
  }));
}

/** Waits for the page to show the detail of a job other than `previous`, done; returns its id. */
async function gainJobDone(page, previous) {
  await page.waitForFunction((p) => {
    const m = /^#\/jobs\/(\d+)$/.exec(location.hash);
    return m && m[1] !== p;
  }, previous, { timeout: STEP_MS });
  const id = /^#\/jobs\/(\d+)$/.exec(await page.evaluate(() => location.hash))[1];
  await page.locator('#detail-title', { hasText: `Job #${id}` }).waitFor({ timeout: STEP_MS });
  await page.locator('#detail-badge', { hasText: 'done' }).waitFor({ timeout: STEP_MS });
  await page.locator('#gain-albums li').first().waitFor({ timeout: STEP_MS });
  await page.locator('#gain-rows tr').nth(1).waitFor({ timeout: STEP_MS });
  return id;
}

/**
 * ReplayGain tags for two chosen files, from the page: measured only first
 * (nothing written), then written with album gain after the page asks; the
 * job's detail shows the values in a table. The Rust side compares the
 * files' tags with what the table shows.
 */
async function gainTags(browser) {
  const g = cfg.gain;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await csp(context);
  const page = await context.newPage();
  const problems = [];
  watch(page, problems);
  step('gain: choose two files');
  await page.goto(cfg.url);
  await page.locator('#st-events', { hasText: 'live' }).waitFor({ timeout: STEP_MS });
  check(await page.locator('#rg-box').isHidden(), 'no ReplayGain action before files are chosen');
  await chooseInputs(page, g.folder, g.files);
  check(await page.locator('#rg-box').isVisible(), 'the ReplayGain action shows with files chosen');
  check((await page.locator('#rg-hint').textContent()).includes('into the chosen files themselves'), 'the page says the files change');
  await page.getByLabel('Album gain too').check();
  const bad = await unlabelled(page);
  check(bad.length === 0, `every control has a label: ${bad.join(' | ')}`);
  check((await tooWide(page)) <= 0, 'the form fits the window');
  await shot(page, 'desktop-gain-form', true);

  step('gain: measure only');
  const posted = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/api/v1/jobs')) posted.push(JSON.parse(r.postData()));
  });
  await page.getByRole('button', { name: 'Measure only' }).click();
  const dryId = await gainJobDone(page, '');
  check(posted.length === 1, `one job posted: ${JSON.stringify(posted)}`);
  const p0 = posted[0];
  check(p0.kind === 'gain' && p0.album === true && p0.true_peak === false && p0.dry_run === true, `a gain job, measured only: ${JSON.stringify(p0)}`);
  check(p0.files.length === 2 && g.files.every((f, i) => p0.files[i].endsWith(`/${g.folder}/${f}`)), `the chosen files: ${JSON.stringify(p0.files)}`);
  const dry = await readGain(page);
  check(dry.rows.length === 2 && dry.rows.every((r) => r.written === 'measured only'), `nothing written: ${JSON.stringify(dry)}`);
  check(dry.rows.map((r) => r.file).join('|') === g.files.join('|'), `the table names the files: ${JSON.stringify(dry.rows)}`);
  check((await page.locator('#detail-spec').textContent()).includes('measure only'), 'the settings say measure only');
  check((await page.locator('#detail-line').textContent()).startsWith('2 measured, no file changed'), 'the summary says no file changed');

  step('gain: writing asks first');
  await page.getByRole('button', { name: 'Write tags…' }).click();
  await page.locator('#rg-confirm').waitFor({ state: 'visible' });
  const question = await page.locator('#rg-confirm').textContent();
  check(question.includes('into the 2 chosen files?') && question.includes('changes those files'), `the page asks: ${question}`);
  check(await page.evaluate(() => document.activeElement && document.activeElement.id === 'rg-confirm-yes'), 'the answer gets the focus');
  await page.getByRole('button', { name: 'Not now' }).click();
  check(await page.locator('#rg-confirm').isHidden(), '"Not now" closes the question');
  check(posted.length === 1, 'no job without a yes');
  await page.getByRole('button', { name: 'Write tags…' }).click();
  check((await tooWide(page)) <= 0, 'the question fits the window');
  await shot(page, 'desktop-gain-confirm', true);

  step('gain: write the tags and read the table');
  await page.getByRole('button', { name: 'Yes, write the tags' }).click();
  const id = await gainJobDone(page, dryId);
  check(posted.length === 2 && posted[1].dry_run === false && posted[1].album === true, `the tags job: ${JSON.stringify(posted[1])}`);
  const wrote = await readGain(page);
  check(wrote.rows.length === 2 && wrote.rows.every((r) => r.written === 'written'), `the tags were written: ${JSON.stringify(wrote)}`);
  check(wrote.rows.every((r, i) => r.gain === dry.rows[i].gain && r.lufs === dry.rows[i].lufs), `the same values as measured: ${JSON.stringify([dry, wrote])}`);
  check(wrote.rows.every((r) => /^[+-]\d+\.\d\d dB$/.test(r.gain) && /^-?\d+\.\d\d LUFS$/.test(r.lufs)), `gain and loudness in numbers: ${JSON.stringify(wrote.rows)}`);
  const [loud, quiet] = wrote.rows.map((r) => parseFloat(r.gain));
  check(quiet - loud > 11 && quiet - loud < 13, `the quieter file gets 12 dB more gain: ${loud} ${quiet}`);
  check(wrote.albums.length === 1 && /^[+-]\d+\.\d\d dB$/.test(wrote.albums[0].gain), `one album line: ${JSON.stringify(wrote.albums)}`);
  const albumGain = parseFloat(wrote.albums[0].gain);
  check(albumGain >= loud && albumGain <= quiet, `the album's gain lies between the files': ${albumGain}`);
  check(await page.locator('#rg-confirm').isHidden(), 'the question closes once the job is started');
  check((await page.locator('#detail-line').textContent()).startsWith('2 measured and tagged'), 'the summary says the files were tagged');
  check((await page.locator(`#jobs li.job[data-id="${id}"] .job-name`).textContent()).includes(`ReplayGain ${g.files[0]} and 1 more (album)`), 'the job is named after its files');
  check((await page.locator('#jobs-panel').isHidden()), 'the job detail is shown');
  result.gain = { dry_id: dryId, id, rows: wrote.rows, albums: wrote.albums };
  await shot(page, 'desktop-gain-detail', true);
  const violations = await page.evaluate(() => window.__cspViolations);
  check(violations.length === 0, `no CSP violation: ${violations.join(', ')}`);
  check(problems.length === 0, `no error in the page: ${problems.join(' | ')}`);
  await context.close();

  for (const scheme of ['light', 'dark']) {
    step(`gain: on a phone, ${scheme}`);
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: scheme });
    await csp(phone);
    const p = await phone.newPage();
    const pproblems = [];
    watch(p, pproblems);
    await p.goto(cfg.url);
    await p.locator('#st-events', { hasText: 'live' }).waitFor({ timeout: STEP_MS });
    await chooseInputs(p, g.folder, g.files);
    await p.getByRole('button', { name: 'Write tags…' }).tap();
    await p.locator('#rg-confirm').waitFor({ state: 'visible' });
    check((await tooWide(p)) <= 0, `the ReplayGain action fits the phone (${await tooWide(p)} px too wide)`);
    await p.locator('#rg-box').scrollIntoViewIfNeeded();
    await shot(p, `phone-gain-form-${scheme}`, true);
    await p.goto(`${cfg.url}#/jobs/${id}`);
    await p.locator('#gain-rows tr').nth(1).waitFor({ timeout: STEP_MS });
    check((await tooWide(p)) <= 0, `the gain detail fits the phone (${await tooWide(p)} px too wide)`);
    const shown = await readGain(p);
    check(JSON.stringify(shown.rows) === JSON.stringify(wrote.rows), `the phone shows the same table: ${JSON.stringify(shown.rows)}`);
    await shot(p, `phone-gain-detail-${scheme}`, true);
    check(pproblems.length === 0, `no error in the page: ${pproblems.join(' | ')}`);
    await phone.close();
  }
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
  const overflow = await tooWide(p);
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
    if (cfg.join) await joinTracks(browser);
    if (cfg.gain) await gainTags(browser);
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
