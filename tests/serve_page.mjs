// serve_page.mjs — the demo page in a real browser, run by tests/test_serve.sh:
// Debian's chromium, headless, with a fake camera playing a y4m file.
// Usage: node tests/serve_page.mjs URL CAMERA.y4m PHOTO ARTIFACT_DIR VIDEO CROWD_PHOTO
// Prints "ok NAME" / "FAIL NAME: why" lines and a "N passed, M failed" line.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [url, y4m, photo, artifacts, video, crowd] = process.argv.slice(2);
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
  // One colour per emotion: the page's bars are in the colours the server
  // draws with (GET /api/models, from the drawer's table).
  const colours = await page.evaluate(async () => {
    const m = await (await fetch('/api/models')).json();
    const rgb = (h) => `rgb(${parseInt(h.slice(1, 3), 16)}, ${parseInt(h.slice(3, 5), 16)}, ${parseInt(h.slice(5, 7), 16)})`;
    return m.classes.map((c) => {
      const bar = document.querySelector(`#faces .face-card .bar div[data-class="${c}"]`);
      return [c, m.colours[c] && rgb(m.colours[c]), bar && getComputedStyle(bar).backgroundColor];
    });
  });
  check('colours_from_server', colours.length === 7 && colours.every(([, want, got]) => want && want === got), JSON.stringify(colours));
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

  // A crowded photo: no chip or emoji covers another face (the rectangles,
  // and the pixels inside every box against the photo itself), text is
  // readable on screen, cards are compact and linked to their faces, and
  // the download sits above the photo.
  if (crowd) {
    await page.evaluate(() => { window.emoState.photo = null; });
    await page.setInputFiles('#file', crowd);
    try {
      await page.waitForFunction(() => window.emoState.photo && document.querySelector('#downloads a'), null, { timeout: 60000 });
    } catch (e) { /* checked below */ }
    const cr = await page.evaluate(async () => {
      const L = window.emoState.photoLayout, cv = document.querySelector('#photo');
      if (!L) return null;
      const meets = (a, b) => a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3];
      const covers = [];
      for (const r of L.rects)
        for (const part of [r.chip, r.emoji])
          if (part) for (const o of L.rects) if (o.index !== r.index && meets(part, o.box)) covers.push(`${r.index} over ${o.index}`);
      // Pixels: inside each box (less its stroke) only its own chip or
      // emoji may differ from the photo.
      const file = document.querySelector('#file').files[0];
      const img = await createImageBitmap(file, { imageOrientation: 'from-image' });
      const ref = document.createElement('canvas');
      ref.width = cv.width; ref.height = cv.height;
      ref.getContext('2d').drawImage(img, 0, 0);
      const a = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data, b = ref.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
      const inside = (r, x, y) => r && x >= r[0] - 1 && x < r[0] + r[2] + 1 && y >= r[1] - 1 && y < r[1] + r[3] + 1;
      let stray = 0;
      for (const r of L.rects) {
        const [x0, y0, w, h] = r.box, m = r.lw + 2;
        for (let y = y0 + m; y < y0 + h - m; y++)
          for (let x = x0 + m; x < x0 + w - m; x++) {
            const i = (y * cv.width + x) * 4;
            if (Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]) <= 6) continue;
            if (!inside(r.chip, x, y) && !inside(r.emoji, x, y)) stray++;
          }
      }
      const chips = L.rects.filter((r) => r.chip);
      const minCss = Math.min(...chips.map((r) => r.chip[3] / 1.5 / L.px));
      const link = document.querySelector('#downloads a').getBoundingClientRect(), pic = cv.getBoundingClientRect();
      const cards = [...document.querySelectorAll('#photo-faces .face-card')];
      return { faces: L.rects.length, covers, stray, chips: chips.length, minCss, linkAbove: link.bottom <= pic.top,
        cards: cards.length, compact: cards.every((c) => c.classList.contains('compact')),
        height: document.documentElement.scrollHeight, px: L.px };
    });
    check('crowd_photo_analysed', cr && cr.faces >= 15, JSON.stringify(cr));
    if (cr) {
      check('crowd_nothing_covers_another_face', cr.covers.length === 0 && cr.stray === 0,
        `${cr.covers.length} rectangles (${cr.covers.slice(0, 5)}), ${cr.stray} pixels inside other faces changed`);
      check('crowd_labels_readable', cr.chips >= cr.faces * 0.75 && cr.minCss >= 12,
        `${cr.chips} of ${cr.faces} faces labelled, smallest text ${cr.minCss.toFixed(1)} CSS px (photo scaled by ${(1 / cr.px).toFixed(2)})`);
      check('crowd_compact_cards', cr.cards === cr.faces && cr.compact && cr.height < 2000,
        `${cr.cards} cards, compact ${cr.compact}, page ${cr.height} px tall`);
      check('crowd_download_on_top', cr.linkAbove, 'the download link is not above the photo');
      // Hover a card: it and its face are highlighted; click a face: its card opens.
      const card = page.locator('#photo-faces .face-card').nth(2);
      await card.hover();
      const hov = await page.evaluate(() => {
        const hi = [...document.querySelectorAll('#photo-faces .face-card.hi')].map((c) => Number(c.dataset.index));
        const L = window.emoState.photoLayout, cv = document.querySelector('#photo'), r = L.rects[2].box;
        // The highlight's white halo just outside the box's stroke.
        const p = cv.getContext('2d').getImageData(r[0] + Math.round(r[2] / 2), r[1] - L.rects[2].lw - 1, 1, 1).data;
        return { hi, halo: p[0] > 240 && p[1] > 240 && p[2] > 240 };
      });
      check('crowd_card_hover_highlights_face', hov.hi.length === 1 && hov.hi[0] === 2 && hov.halo, JSON.stringify(hov));
      const box = await page.evaluate(() => {
        const L = window.emoState.photoLayout, cv = document.querySelector('#photo'), r = cv.getBoundingClientRect(), b = L.rects[5].box;
        return { x: r.left + (b[0] + b[2] / 2) * r.width / cv.width, y: r.top + (b[1] + b[3] / 2) * r.height / cv.height };
      });
      await page.mouse.click(box.x, box.y);
      const open = await page.evaluate(() => [...document.querySelectorAll('#photo-faces .face-card.open')].map((c) => Number(c.dataset.index)));
      check('crowd_face_click_opens_card', open.length === 1 && open[0] === 5, JSON.stringify(open));
      await page.screenshot({ path: join(artifacts, 'serve-crowd.png'), fullPage: true });
    }
  }

  // A failed upload leaves nothing of the previous photo; the detection
  // settings are on this tab too and go with the upload.
  const notImage = join(artifacts, 'not-an-image.jpg');
  writeFileSync(notImage, 'just text, not a photo\n');
  const settingsShown = await page.evaluate(() => !document.querySelector('#detection').hidden
    && document.querySelector('#detection').getBoundingClientRect().height > 0);
  await page.fill('#min-face', '40');
  const asked = page.waitForRequest((r) => r.url().includes('/api/analyze'));
  await page.setInputFiles('#file', notImage);
  const req = await asked;
  try {
    await page.waitForFunction(() => document.querySelector('#upload-message').classList.contains('error'), null, { timeout: 20000 });
  } catch (e) { /* checked below */ }
  const failedUp = await page.evaluate(() => ({
    message: document.querySelector('#upload-message').textContent,
    canvas: [document.querySelector('#photo').width, document.querySelector('#photo').height, document.querySelector('#photo').hidden],
    cards: document.querySelectorAll('#photo-faces .face-card').length,
    links: document.querySelectorAll('#downloads a').length, photo: window.emoState.photo,
  }));
  check('failed_upload_clears_photo', /Cannot analyse/.test(failedUp.message) && failedUp.canvas[0] === 0 && failedUp.canvas[2]
    && failedUp.cards === 0 && failedUp.links === 0 && failedUp.photo === null, JSON.stringify(failedUp));
  check('upload_settings_on_upload_tab', settingsShown && /min_face=40/.test(req.url()), `shown ${settingsShown}, ${req.url()}`);
  await page.fill('#min-face', '30');

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
