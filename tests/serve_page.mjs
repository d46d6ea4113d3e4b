// serve_page.mjs — the demo page in a real browser, run by tests/test_serve.sh:
// Debian's chromium, headless, with a fake camera playing a y4m file.
// Usage: node tests/serve_page.mjs URL CAMERA.y4m PHOTO ARTIFACT_DIR VIDEO
// Prints "ok NAME" / "FAIL NAME: why" lines and a "N passed, M failed" line.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [url, y4m, photo, artifacts, video] = process.argv.slice(2);
const EMOJI = ['😠', '🤢', '😨', '😄', '😢', '😮', '😐', '😒', '☹️', '🙂'];
let passed = 0, failed = 0;
function check(name, cond, why) {
  if (cond) { passed++; console.log(`ok   ${name}`); } else { failed++; console.log(`FAIL ${name}: ${why}`); }
}

const profile = mkdtempSync(join(tmpdir(), 'emo-chromium-'));
// A fresh profile (--user-data-dir) for every run.
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`,
    '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--no-first-run', '--disable-quic'],
});
try {
  const page = browser.pages()[0] || await browser.newPage();
  const outside = [];
  page.on('request', (r) => { if (!r.url().startsWith(url.replace(/\/$/, '')) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) outside.push(r.url()); });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => document.querySelector('#model option'), null, { timeout: 10000 });
  check('page_lists_models', true);

  // Camera: within a few seconds a face box, an emoji and a bar chart.
  await page.click('#start');
  let ok = true;
  try {
    await page.waitForFunction(() => window.emoState.frames >= 5 && window.emoState.faces.length > 0
      && document.querySelector('#faces .face-card .chart .bar div'), null, { timeout: 30000 });
  } catch (e) { ok = false; }
  const cam = await page.evaluate(() => {
    const card = document.querySelector('#faces .face-card');
    const bars = card ? [...card.querySelectorAll('.bar div')].map((d) => [d.dataset.class, parseFloat(d.style.width)]) : [];
    return {
      frames: window.emoState.frames, faces: window.emoState.faces,
      emotion: card && card.dataset.emotion, emoji: card && card.querySelector('.emoji').textContent,
      top: card && card.querySelector('.name.top') && card.querySelector('.name.top').dataset.class, bars,
      fps: document.querySelector('#fps').textContent, latency: document.querySelector('#latency').textContent,
      inflight: Number(document.querySelector('#inflight').textContent),
    };
  });
  check('camera_results_arrive', ok && cam.frames >= 5, `frames ${cam.frames}`);
  check('camera_face_box', cam.faces.length > 0 && cam.faces[0].box.length === 4 && cam.faces[0].box[2] > 0, JSON.stringify(cam.faces));
  check('camera_emoji_shown', EMOJI.includes(cam.emoji), `emoji ${cam.emoji}`);
  const best = cam.bars.reduce((a, b) => (b[1] > a[1] ? b : a), ['', -1]);
  check('camera_chart_dominant', cam.bars.length >= 2 && cam.top === cam.emotion && best[0] === cam.emotion,
    `chart top ${cam.top}, widest bar ${best}, emotion ${cam.emotion}`);
  check('camera_fps_latency_shown', /\d/.test(cam.fps) && /ms/.test(cam.latency), `${cam.fps} / ${cam.latency}`);
  check('camera_at_most_two_in_flight', cam.inflight <= 2, `in flight ${cam.inflight}`);
  await page.screenshot({ path: join(artifacts, 'serve-camera.png') });
  console.log(`     camera: ${cam.frames} frames, ${cam.fps} fps, latency ${cam.latency}, ${cam.emotion} ${cam.emoji}`);

  // Changing a setting reconnects with it and results keep coming.
  const before = cam.frames;
  await page.fill('#detect-every', '1');
  await page.dispatchEvent('#detect-every', 'change');
  try {
    await page.waitForFunction((n) => window.emoState.frames > n + 3, before, { timeout: 20000 });
    check('settings_change_keeps_running', true);
  } catch (e) { check('settings_change_keeps_running', false, 'no results after reconnecting'); }
  await page.click('#start'); // stop

  // Upload a photo: annotated, with a chart per face.
  await page.click('#tabs button[data-tab=upload]');
  await page.setInputFiles('#file', photo);
  try {
    // The photo's result, then its download link (made asynchronously).
    await page.waitForFunction(() => window.emoState.photo && document.querySelector('#downloads a'), null,
      { timeout: 30000 });
  } catch (e) { /* checked below */ }
  const up = await page.evaluate(() => ({
    photo: window.emoState.photo, cards: document.querySelectorAll('#photo-faces .face-card').length,
    emoji: document.querySelector('#photo-faces .face-card .emoji')?.textContent,
    message: document.querySelector('#upload-message').textContent,
    canvas: [document.querySelector('#photo').width, document.querySelector('#photo').height],
    download: document.querySelector('#downloads a')?.getAttribute('href') || '',
  }));
  check('upload_photo_analysed', up.photo && up.photo.faces.length > 0, up.message);
  check('upload_photo_cards', up.cards === (up.photo ? up.photo.faces.length : -1) && EMOJI.includes(up.emoji), `${up.cards} cards, emoji ${up.emoji}`);
  check('upload_photo_drawn', up.photo && up.canvas[0] === up.photo.width && up.canvas[1] === up.photo.height, JSON.stringify(up.canvas));
  check('upload_photo_download', up.download.startsWith('blob:'), `link ${up.download}`);
  await page.screenshot({ path: join(artifacts, 'serve-photo.png') });

  // A phone's portrait photo (pixels on their side, EXIF orientation 6): the
  // server turns it upright, and the page must draw it the same way round.
  const portrait = join(dirname(fileURLToPath(import.meta.url)), 'data/image/happy_portrait.jpg');
  await page.evaluate(() => { window.emoState.photo = null; });
  await page.setInputFiles('#file', portrait);
  try {
    await page.waitForFunction(() => window.emoState.photo, null, { timeout: 30000 });
  } catch (e) { /* checked below */ }
  const pt = await page.evaluate(() => ({
    photo: window.emoState.photo, message: document.querySelector('#upload-message').textContent,
    canvas: [document.querySelector('#photo').width, document.querySelector('#photo').height],
  }));
  check('upload_portrait_upright', pt.photo && pt.photo.width === 500 && pt.photo.height === 282
    && pt.photo.faces.length === 1 && pt.canvas[0] === 500 && pt.canvas[1] === 282,
    `${pt.message} ${JSON.stringify(pt.canvas)} ${pt.photo ? pt.photo.faces.length : -1} faces`);

  // Upload a video: progress, then the annotated video, CSV and timeline.
  if (video) {
    await page.setInputFiles('#file', video);
    let done = true;
    try {
      await page.waitForFunction(() => !document.querySelector('#downloads').hidden
        || document.querySelector('#upload-message').classList.contains('error'), null, { timeout: 240000 });
    } catch (e) { done = false; }
    const v = await page.evaluate(() => ({
      links: [...document.querySelectorAll('#downloads a')].map((a) => a.getAttribute('href')),
      src: document.querySelector('#result-video').getAttribute('src'),
      timeline: !document.querySelector('#timeline').hidden,
      message: document.querySelector('#upload-message').textContent,
    }));
    check('upload_video_processed', done && v.links.length === 2 && /video\.mp4$/.test(v.src), `${v.message} ${JSON.stringify(v.links)}`);
    check('upload_video_timeline', v.timeline, v.message);
    if (v.links.length) {
      const csv = await page.evaluate(async (h) => (await fetch(h)).text(), v.links[1]);
      check('upload_video_csv', csv.startsWith('frame,time_s,face_id'), csv.slice(0, 80));
    }
    await page.screenshot({ path: join(artifacts, 'serve-video.png'), fullPage: true });
  }

  check('no_requests_leave_the_machine', outside.length === 0, outside.join(' '));
  check('no_page_errors', errors.length === 0, errors.join(' | '));
} catch (e) {
  check('browser_suite_completed', false, String(e));
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
