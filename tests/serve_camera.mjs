// serve_camera.mjs — the live view in a real browser with fake cameras of
// several shapes, run by tests/test_serve.sh. For each camera: the view is
// the camera's size, the boxes sit where the server found the faces, no
// pixel of an earlier frame is left outside the current annotations, every
// bar is as long as its number, no camera picture is sent twice, and
// stopping clears the view.
// Usage: node tests/serve_camera.mjs URL ARTIFACT_DIR FPS WxH=CAMERA.y4m...
// Prints "ok NAME" / "FAIL NAME: why" lines and a "N passed, M failed" line.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [url, artifacts, fpsArg, ...cameras] = process.argv.slice(2);
const cameraFps = Number(fpsArg);
let passed = 0, failed = 0;
function check(name, cond, why) {
  if (cond) { passed++; console.log(`ok   ${name}`); } else { failed++; console.log(`FAIL ${name}: ${why}`); }
}
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

async function oneCamera(spec) {
  const [size, y4m] = spec.split('=');
  const [W, H] = size.split('x').map(Number);
  const tag = `${W}x${H}`;
  const profile = mkdtempSync(join(tmpdir(), 'emo-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`,
      '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--disable-quic'],
  });
  try {
    const page = browser.pages()[0] || await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    // The server's answers as they cross the socket. The server numbers
    // the frames it receives (0, 1, ...) and answers each one (a result,
    // or "dropped" when a newer one arrived first): the highest number
    // answered + 1 is how many frames it got.
    const results = new Map();
    let sentFrames = 0;
    page.on('websocket', (ws) => {
      ws.on('framereceived', (f) => {
        try {
          const m = JSON.parse(f.payload);
          if (m.type === 'result') results.set(m.frame, m);
          if (typeof m.frame === 'number') sentFrames = Math.max(sentFrames, m.frame + 1);
        } catch (e) { /* not JSON */ }
      });
    });
    await page.goto(url);
    await page.waitForFunction(() => document.querySelector('#model option'), null, { timeout: 10000 });
    await page.click('#start');
    const t0 = Date.now();
    let ok = true;
    try {
      await page.waitForFunction(() => window.emoState.frames >= 8 && window.emoState.faces.length > 0
        && window.emoState.painted && window.emoState.painted.rects.length > 0, null, { timeout: 40000 });
    } catch (e) { ok = false; }
    check(`${tag}_results_arrive`, ok, 'no face results within 40 s');
    if (!ok) return;

    const dims = await page.evaluate(() => {
      const v = window.emoState.video, cv = document.querySelector('#view');
      return { vw: v.videoWidth, vh: v.videoHeight, cw: cv.width, ch: cv.height, sw: cv.clientWidth, sh: cv.clientHeight };
    });
    check(`${tag}_view_is_camera_size`, dims.vw === W && dims.vh === H && dims.cw === W && dims.ch === H
      && Math.abs(dims.sw / dims.sh - W / H) < 0.02, JSON.stringify(dims));

    // Box position, against the server's own message for the painted frame:
    // the page's box and the box's colour in the canvas pixels.
    let worst = 0, colourMisses = 0, boxes = 0, why = '';
    for (let k = 0; k < 5; k++) {
      const snap = await page.evaluate(() => {
        const p = window.emoState.painted, cv = document.querySelector('#view');
        const px = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
        // For each box: the rows of its top edge and the columns of its
        // left edge (within 3% of the canvas) drawn exactly in its colour.
        const hex = (c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
        const found = p.rects.map((r) => {
          const [x, y, w, h] = r.box, want = hex(r.colour), near = (i) => Math.abs(px[i] - want[0]) <= 3
            && Math.abs(px[i + 1] - want[1]) <= 3 && Math.abs(px[i + 2] - want[2]) <= 3;
          const col = Math.round(x + w * 0.4), row = Math.round(y + h * 0.55), dy = Math.ceil(cv.height * 0.03), dx = Math.ceil(cv.width * 0.03);
          const rows = [], cols = [];
          for (let yy = Math.max(0, y - dy); yy < Math.min(cv.height, y + dy); yy++) if (near((yy * cv.width + col) * 4)) rows.push(yy);
          for (let xx = Math.max(0, x - dx); xx < Math.min(cv.width, x + dx); xx++) if (near((row * cv.width + xx) * 4)) cols.push(xx);
          return { rows, cols };
        });
        return { painted: p, found };
      });
      const res = results.get(snap.painted.frame);
      if (!res) { why = `painted frame ${snap.painted.frame} not among the server's results`; worst = 1; break; }
      const sx = snap.painted.width / res.width, sy = snap.painted.height / res.height;
      for (const r of snap.painted.rects) {
        const f = res.faces[r.index];
        if (!f) { worst = 1; why = `face ${r.index} not in the server's frame`; continue; }
        const e = [f.box[0] * sx, f.box[1] * sy, f.box[2] * sx, f.box[3] * sy];
        const d = Math.max(Math.abs(r.box[0] - e[0]) / W, Math.abs(r.box[1] - e[1]) / H,
          Math.abs(r.box[2] - e[2]) / W, Math.abs(r.box[3] - e[3]) / H);
        if (d > worst) { worst = d; why = `page box ${r.box} vs server ${e.map((v) => v.toFixed(1))}`; }
        const fd = snap.found[r.index];
        const top = fd.rows.some((y) => Math.abs(y - e[1]) / H <= 0.02), left = fd.cols.some((x) => Math.abs(x - e[0]) / W <= 0.02);
        boxes++;
        if (!top || !left) { colourMisses++; why += ` no ${r.colour} edge near ${e.map((v) => v.toFixed(0))} (rows ${fd.rows}, cols ${fd.cols})`; }
      }
      await sleep(150);
    }
    check(`${tag}_box_on_server_box`, worst <= 0.02 && boxes > 0, `off by ${(worst * 100).toFixed(1)}%: ${why}`);
    check(`${tag}_box_drawn_there`, colourMisses === 0 && boxes > 0, `${colourMisses} of ${boxes}: ${why}`);

    // Stale pixels: with the camera paused (so that the picture cannot
    // change under the test; a busy machine showed a newer one between two
    // callbacks for the same frame), the view drawn again must equal that
    // picture everywhere outside the current box strokes, chips and emoji:
    // nothing of earlier frames' annotations may remain.
    const stale = await page.evaluate(async () => {
      const v = window.emoState.video;
      v.pause();
      await new Promise((ok) => setTimeout(ok, 400)); // results still on their way land
      window.emoState.repaint();
      {
        const cv = document.querySelector('#view'), p = window.emoState.painted;
        const ref = document.createElement('canvas');
        ref.width = cv.width; ref.height = cv.height;
        const rc = ref.getContext('2d');
        rc.drawImage(v, 0, 0, ref.width, ref.height);
        const a = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
        const b = rc.getImageData(0, 0, ref.width, ref.height).data;
        const mask = new Uint8Array(cv.width * cv.height);
        const cover = (r, m) => {
          if (!r) return;
          for (let y = Math.max(0, Math.floor(r[1] - m)); y < Math.min(cv.height, Math.ceil(r[1] + r[3] + m)); y++)
            for (let x = Math.max(0, Math.floor(r[0] - m)); x < Math.min(cv.width, Math.ceil(r[0] + r[2] + m)); x++) mask[y * cv.width + x] = 1;
        };
        for (const r of p.rects) {
          const [x, y, w, h] = r.box, m = r.lw + 2; // the four stroked edges
          cover([x, y, w, 0], m); cover([x, y + h, w, 0], m); cover([x, y, 0, h], m); cover([x + w, y, 0, h], m);
          cover(r.chip, 1); cover(r.emoji, 2);
        }
        let diff = 0, outside = 0;
        for (let i = 0; i < mask.length; i++) {
          if (mask[i]) continue;
          outside++;
          const j = i * 4;
          if (Math.abs(a[j] - b[j]) > 12 || Math.abs(a[j + 1] - b[j + 1]) > 12 || Math.abs(a[j + 2] - b[j + 2]) > 12) diff++;
        }
        await v.play();
        return { diff, outside, boxes: p.rects.length };
      }
    });
    check(`${tag}_no_stale_pixels`, stale.boxes > 0 && stale.outside > 0 && stale.diff <= stale.outside * 0.002,
      `${stale.diff} of ${stale.outside} pixels outside the annotations differ from the camera picture (${stale.boxes} boxes)`);

    // Bars: ten looks over two seconds; each bar's length is its number.
    let barWorst = 0, barWhy = '', looks = 0;
    for (let k = 0; k < 10; k++) {
      const bars = await page.evaluate(() => [...document.querySelectorAll('#faces .face-card .chart .bar')].map((t) => {
        const fill = t.querySelector('div'), val = t.nextElementSibling;
        return { track: t.getBoundingClientRect().width, fill: fill.getBoundingClientRect().width, text: val.textContent };
      }));
      for (const b of bars) {
        looks++;
        const shown = parseFloat(b.text) / 100, drawn = b.fill / b.track;
        const d = Math.abs(shown - drawn);
        if (d > barWorst) { barWorst = d; barWhy = `bar at ${(drawn * 100).toFixed(1)}% beside "${b.text}"`; }
      }
      await sleep(200);
    }
    check(`${tag}_bars_equal_numbers`, looks > 0 && barWorst <= 0.02, `${barWhy} (worst of ${looks})`);

    // Frames sent: no more than the camera gave, nor than its frame rate
    // allows. The server's count is taken first: the camera's, read after
    // it, can only be larger if the page is right.
    const sentNow = sentFrames;
    const counts = await page.evaluate(() => ({ camera: window.emoState.cameraFrames, sent: window.emoState.sent,
      fps: document.querySelector('#fps').textContent, server: document.querySelector('#server-fps').textContent }));
    const secs = (Date.now() - t0) / 1000;
    check(`${tag}_frames_sent_at_most_camera`, sentNow > 0 && sentNow <= counts.camera && sentNow <= cameraFps * secs + 3,
      `${sentNow} sent, ${counts.camera} camera frames, ${secs.toFixed(1)} s at ${cameraFps} fps`);
    const camFps = parseFloat(counts.fps), srvFps = parseFloat(counts.server);
    check(`${tag}_fps_shown`, camFps > 0 && camFps <= cameraFps * 1.3 && srvFps > 0 && srvFps <= camFps * 1.3,
      `camera ${counts.fps}, analysed ${counts.server}`);
    await page.screenshot({ path: join(artifacts, `serve-camera-${tag}.png`) });
    console.log(`     ${tag}: ${counts.camera} camera frames, ${sentNow} sent, camera ${counts.fps} fps, analysed ${counts.server} fps`);

    // Stop: nothing of the session stays on screen.
    await page.click('#start');
    const after = await page.evaluate(() => {
      const cv = document.querySelector('#view'), px = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
      let painted = 0;
      for (let i = 3; i < px.length; i += 4) painted += px[i] !== 0;
      return { painted, cards: document.querySelectorAll('#faces .face-card').length,
        fps: document.querySelector('#fps').textContent, server: document.querySelector('#server-fps').textContent };
    });
    check(`${tag}_stop_clears`, after.painted === 0 && after.cards === 0 && after.fps === '–' && after.server === '–',
      JSON.stringify(after));
    check(`${tag}_no_page_errors`, errors.length === 0, errors.join(' | '));
  } catch (e) {
    check(`${tag}_completed`, false, String(e));
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

for (const spec of cameras) await oneCamera(spec);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
