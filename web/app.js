// app.js — the emo demo page. Plain JS, no build step, nothing loaded from
// elsewhere: every request goes to the emo server that served this page.
'use strict';

// Each class's colour and emoji come from the server (GET /api/models), from
// the table the MP4s, annotated images and plots are drawn with.
const palette = { colours: {}, emoji: {} };
const colourOf = (name) => palette.colours[name] || '#8b8d98';
const emojiOf = (name) => palette.emoji[name] || '';
const $ = (id) => document.getElementById(id);
const pct = (p) => `${Math.round(p * 100)}%`;

// State the browser tests read (tests/serve_page.mjs, tests/serve_camera.mjs).
const state = window.emoState = {
  frames: 0, faces: [], classes: [], errors: [], photo: null,
  cameraFrames: 0, sent: 0, painted: null, photoLayout: null, video: null,
};

// ---- Tabs -----------------------------------------------------------------
for (const b of document.querySelectorAll('#tabs button')) {
  b.onclick = () => {
    for (const o of document.querySelectorAll('#tabs button')) o.classList.toggle('active', o === b);
    for (const t of document.querySelectorAll('.tab')) t.classList.toggle('active', t.id === b.dataset.tab);
    $('detection').hidden = b.dataset.tab === 'server';
    $('mjpeg').src = b.dataset.tab === 'server' ? '/stream.mjpg' : '';
  };
}

// ---- Per-face cards with bar charts ----------------------------------------
// A card's bars are set straight to their numbers: no CSS transition, so a
// bar's length is its number at every moment (smoothing is the server's).
function makeCard(classes) {
  const card = document.createElement('div');
  card.className = 'face-card';
  card.innerHTML = '<h3><span class="emoji"></span><span class="emotion"></span><span class="pct"></span><span class="track"></span></h3><div class="chart"></div>';
  const chart = card.querySelector('.chart');
  for (const c of classes) {
    chart.insertAdjacentHTML('beforeend',
      `<span class="name" data-class="${c}">${c}</span><div class="bar"><div data-class="${c}"></div></div><span class="val" data-class="${c}"></span>`);
    // Set from script: the page's CSP allows no inline style attributes.
    chart.querySelector(`.bar div[data-class="${c}"]`).style.setProperty('--c', colourOf(c));
  }
  return card;
}

function fillCard(card, f, classes) {
  card.style.setProperty('--c', colourOf(f.emotion));
  card.querySelector('.emoji').textContent = emojiOf(f.emotion);
  card.querySelector('.emotion').textContent = f.emotion;
  card.querySelector('.pct').textContent = pct(f.scores[f.emotion] || 0);
  card.querySelector('.track').textContent = `#${f.track_id}`;
  card.dataset.emotion = f.emotion;
  for (const c of classes) {
    const p = f.scores[c] || 0;
    card.querySelector(`.bar div[data-class="${c}"]`).style.width = `${(p * 100).toFixed(2)}%`;
    card.querySelector(`.val[data-class="${c}"]`).textContent = pct(p);
    card.querySelector(`.name[data-class="${c}"]`).classList.toggle('top', c === f.emotion);
  }
}

// Live: one card per track id, reused from frame to frame.
function renderCards(container, faces, classes) {
  const seen = new Set();
  for (const f of faces) {
    const key = String(f.track_id);
    seen.add(key);
    let card = container.querySelector(`.face-card[data-track="${key}"]`);
    if (!card) {
      card = makeCard(classes);
      card.dataset.track = key;
      container.appendChild(card);
    }
    fillCard(card, f, classes);
  }
  for (const card of [...container.querySelectorAll('.face-card')])
    if (!seen.has(card.dataset.track)) card.remove();
}

// ---- Annotations on a canvas ------------------------------------------------
// Box, emoji and a label chip per face. px = canvas pixels per CSS pixel, so
// that text is drawn at a readable size on a scaled-down photo. Nothing
// covers another face's box or another face's chip: a chip goes below the
// box, else above, else inside its bottom; with its full text, then just
// "#3"; else it is left out (the face's card still has it all).
const chipFont = (size) => `600 ${size}px system-ui, sans-serif`;

function layoutFaces(ctx, faces, sx, sy, W, H, px) {
  const boxes = faces.map((f) => {
    const x = Math.round(f.box[0] * sx), y = Math.round(f.box[1] * sy);
    const w = Math.round(f.box[2] * sx), h = Math.round(f.box[3] * sy);
    const lw = 2 * Math.max(1, Math.round(Math.max(2 * px, w / 60) / 2)); // even: edges on whole pixels
    return { x, y, w, h, lw };
  });
  const grown = (b) => ({ x: b.x - b.lw - 1, y: b.y - b.lw - 1, w: b.w + 2 * b.lw + 2, h: b.h + 2 * b.lw + 2 });
  const meets = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  const placed = [];
  const free = (r, i) => r.x >= 0 && r.y >= 0 && r.x + r.w <= W && r.y + r.h <= H
    && boxes.every((b, j) => j === i || !meets(r, grown(b))) && placed.every((p) => !meets(r, p));
  const out = faces.map((f, i) => ({ face: f, index: i, box: boxes[i], colour: colourOf(f.emotion), chip: null, emoji: null, sx, sy }));
  for (const o of out) {
    const b = o.box, f = o.face;
    const size = Math.round(Math.min(Math.max(13 * px, b.w / 9), 22 * px));
    ctx.font = chipFont(size);
    const texts = [`#${f.track_id} ${f.emotion} ${pct(f.scores[f.emotion] || 0)}`, `#${f.track_id}`];
    const ch = Math.round(size * 1.5), gap = b.lw + 2;
    for (const text of texts) {
      const cw = Math.ceil(ctx.measureText(text).width + size * 0.7);
      const spots = [[b.x, b.y + b.h + gap], [b.x + b.w - cw, b.y + b.h + gap], [b.x, b.y - gap - ch],
        [b.x + b.w - cw, b.y - gap - ch], [b.x + (b.w - cw) / 2, b.y + b.h - ch - gap]];
      const r = spots.map(([x, y]) => ({ x: Math.round(x), y: Math.round(y), w: cw, h: ch })).find((s) => free(s, o.index));
      if (r) { o.chip = { ...r, text, size }; placed.push(r); break; }
    }
  }
  for (const o of out) { // the big emoji at the box's top-right corner, where it is free
    const b = o.box, size = Math.round(Math.max(18 * px, b.w * 0.36));
    const r = { x: Math.round(b.x + b.w - size / 2), y: Math.round(b.y - size / 2), w: size, h: size };
    if (emojiOf(o.face.emotion) && free(r, o.index)) { o.emoji = r; placed.push(r); }
  }
  return out;
}

function paintFaces(ctx, layout, highlight) {
  for (const o of layout) {
    const b = o.box, hi = o.index === highlight;
    if (hi) { // a white halo makes the highlighted face stand out
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = b.lw * 3;
      ctx.strokeRect(b.x, b.y, b.w, b.h);
    }
    ctx.strokeStyle = o.colour;
    ctx.lineWidth = hi ? b.lw * 2 : b.lw;
    ctx.strokeRect(b.x, b.y, b.w, b.h);
    if (o.emoji) {
      ctx.font = `${o.emoji.h * 0.85}px "Noto Color Emoji", "Apple Color Emoji", "Segoe UI Emoji", sans-serif`;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText(emojiOf(o.face.emotion), o.emoji.x + o.emoji.w / 2, o.emoji.y + o.emoji.h / 2);
    }
    if (o.chip) {
      const c = o.chip;
      ctx.fillStyle = hi ? o.colour : 'rgba(12,14,18,0.8)';
      ctx.fillRect(c.x, c.y, c.w, c.h);
      ctx.font = chipFont(c.size);
      ctx.textAlign = 'left';
      ctx.textBaseline = 'middle';
      ctx.fillStyle = hi ? '#111' : o.colour;
      ctx.fillText(c.text, c.x + c.size * 0.35, c.y + c.h / 2);
    }
    if (o.face.landmarks && $('landmarks') && $('landmarks').checked) { // the 68 points, as dots
      ctx.fillStyle = '#28ff5a';
      const r = Math.max(1.5, b.w / 90);
      for (const [x, y] of o.face.landmarks) {
        ctx.beginPath();
        ctx.arc(x * o.sx, y * o.sy, r, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
  }
}

// The rectangles a layout covers, for the tests: boxes with their strokes,
// chips and emoji, in canvas pixels.
function layoutRects(layout) {
  return layout.map((o) => ({
    index: o.index, box: [o.box.x, o.box.y, o.box.w, o.box.h], lw: o.box.lw, colour: o.colour,
    chip: o.chip && [o.chip.x, o.chip.y, o.chip.w, o.chip.h], emoji: o.emoji && [o.emoji.x, o.emoji.y, o.emoji.w, o.emoji.h],
  }));
}

// ---- Models and settings ----------------------------------------------------
async function loadModels() {
  try {
    const r = await fetch('/api/models');
    const m = await r.json();
    palette.colours = m.colours || {};
    palette.emoji = m.emoji || {};
    const sel = $('model');
    sel.innerHTML = '';
    for (const x of m.models) sel.add(new Option(x.name, x.name, false, x.name === m.default));
    $('smooth').value = m.settings.smooth;
    $('smooth-out').value = Number(m.settings.smooth).toFixed(2);
    $('detect-every').value = m.settings.detect_every;
    $('min-face').value = m.settings.min_face;
    $('neighbors').value = m.settings.neighbors;
    state.classes = m.classes;
    const h = await (await fetch('/api/health')).json();
    $('tab-server').hidden = !h.stream;
    if (h.stream) $('tab-server').click(); // a kiosk shows the server's camera at once
    $('status').textContent = `emo ${h.version} · ${m.models.length} model(s)`;
  } catch (e) {
    $('status').textContent = `cannot reach the emo server: ${e}`;
  }
}

function settingsQuery() {
  const q = new URLSearchParams({ model: $('model').value, smooth: $('smooth').value,
    detect_every: $('detect-every').value, min_face: $('min-face').value, neighbors: $('neighbors').value });
  return q.toString();
}

// ---- Live camera --------------------------------------------------------------
// The camera drives everything: on each new camera picture the view is
// drawn afresh (picture, then the latest result's boxes) and, unless two
// frames are already on their way, that picture is sent. So no picture is
// sent twice, and the rate is the camera's, or the server's if it is slower.
const cam = {
  running: false, ws: null, video: document.createElement('video'), grab: document.createElement('canvas'),
  sent: 0, inflight: 0, maxInflight: 2, encoding: false, sentAt: new Map(), fresh: false,
  result: null, frameTimes: [], resultTimes: [], latency: 0, lastCount: -1,
};
cam.video.muted = true;
cam.video.playsInline = true;
state.video = cam.video;
state.repaint = () => paint(); // the tests draw a paused picture with it

function rate(times) {
  return times.length > 1 ? (1000 * (times.length - 1) / (times[times.length - 1] - times[0])).toFixed(1) : '–';
}
function keep2s(times, now) {
  times.push(now);
  while (times.length && now - times[0] > 2000) times.shift();
}

function connect() {
  if (cam.ws) { cam.ws.onclose = null; cam.ws.close(); }
  cam.inflight = 0; cam.sentAt.clear(); cam.result = null;
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws?${settingsQuery()}`);
  ws.binaryType = 'arraybuffer';
  ws.onmessage = (ev) => {
    if (ws !== cam.ws) return;
    const m = JSON.parse(ev.data);
    if (m.type === 'hello') { state.classes = m.classes; return; }
    if (m.type === 'error' && m.frame === undefined) { showCamMessage(m.error, true); return; }
    cam.inflight = Math.max(0, cam.inflight - 1);
    const t0 = cam.sentAt.get(m.frame);
    cam.sentAt.delete(m.frame);
    if (m.type === 'result') {
      const now = performance.now();
      if (t0 !== undefined) cam.latency = cam.latency ? 0.8 * cam.latency + 0.2 * (now - t0) : now - t0;
      keep2s(cam.resultTimes, now);
      cam.result = m;
      state.frames++;
      state.faces = m.faces;
      $('server-ms').textContent = `${m.ms.toFixed(0)} ms`;
      renderCards($('faces'), m.faces, state.classes);
      $('no-face').hidden = m.faces.length > 0;
      paint();
    } else if (m.type === 'error') {
      state.errors.push(m.error);
    }
    pump();
  };
  ws.onclose = (ev) => {
    if (ws !== cam.ws) return;
    if (cam.running) showCamMessage(`connection closed (${ev.code}${ev.reason ? ': ' + ev.reason : ''}); reconnecting…`, true);
    if (cam.running) setTimeout(() => { if (cam.running && ws === cam.ws) connect(); }, 1000);
  };
  ws.onopen = () => { hideCamMessage(); pump(); };
  cam.ws = ws;
}

// Sends the newest camera picture if it has not been sent and fewer than
// two frames are on their way (the server answers in order).
function pump() {
  const ws = cam.ws;
  if (!cam.running || !cam.fresh || !ws || ws.readyState !== 1 || cam.encoding || cam.inflight >= cam.maxInflight) return;
  const v = cam.video;
  if (!v.videoWidth) return;
  cam.fresh = false;
  const w = Math.min(Number($('send-width').value), v.videoWidth);
  const h = Math.round(v.videoHeight * w / v.videoWidth);
  cam.grab.width = w; cam.grab.height = h;
  cam.grab.getContext('2d').drawImage(v, 0, 0, w, h);
  cam.encoding = true;
  cam.grab.toBlob((blob) => {
    cam.encoding = false;
    if (!blob || ws !== cam.ws || ws.readyState !== 1) return;
    cam.sentAt.set(cam.sent++, performance.now());
    state.sent++;
    cam.inflight++;
    ws.send(blob);
    pump();
  }, 'image/jpeg', 0.8);
}

// The view: as large as the camera's picture, drawn whole every time.
function paint() {
  const v = cam.video, cv = $('view');
  if (!cam.running || !v.videoWidth) return;
  if (cv.width !== v.videoWidth || cv.height !== v.videoHeight) {
    cv.width = v.videoWidth;
    cv.height = v.videoHeight;
    // Portrait cameras: no taller than the window.
    cv.style.maxWidth = `calc(80vh * ${v.videoWidth / v.videoHeight})`;
  }
  const ctx = cv.getContext('2d');
  ctx.drawImage(v, 0, 0, cv.width, cv.height);
  const r = cam.result;
  if (r) {
    const layout = layoutFaces(ctx, r.faces, cv.width / r.width, cv.height / r.height, cv.width, cv.height,
      cv.width / (cv.clientWidth || cv.width));
    paintFaces(ctx, layout, -1);
    state.painted = { frame: r.frame, width: cv.width, height: cv.height, rects: layoutRects(layout) };
  } else {
    state.painted = { frame: -1, width: cv.width, height: cv.height, rects: [] };
  }
  $('fps').textContent = rate(cam.frameTimes);
  $('server-fps').textContent = rate(cam.resultTimes);
  $('latency').textContent = cam.latency ? `${cam.latency.toFixed(0)} ms` : '–';
  $('inflight').textContent = cam.inflight;
}

function onCameraFrame() {
  if (!cam.running) return;
  state.cameraFrames++;
  keep2s(cam.frameTimes, performance.now());
  cam.fresh = true;
  paint();
  pump();
}

// requestVideoFrameCallback where there is one; else each animation frame
// asks the video whether it has decoded a new picture.
function watchCamera() {
  const v = cam.video;
  if (v.requestVideoFrameCallback) {
    const next = () => { if (cam.running) { onCameraFrame(); v.requestVideoFrameCallback(next); } };
    v.requestVideoFrameCallback(next);
  } else {
    const tick = () => {
      if (!cam.running) return;
      const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : -1;
      if (q !== cam.lastCount) { cam.lastCount = q; onCameraFrame(); }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }
}

function showCamMessage(text, error) {
  const m = $('camera-message');
  m.hidden = false;
  m.textContent = text;
  m.classList.toggle('error', !!error);
}
function hideCamMessage() { $('camera-message').hidden = true; }

async function startCamera() {
  if (cam.running) { stopCamera(); return; }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showCamMessage('This browser gives the camera only to pages on https or on localhost: open this page as '
      + `http://127.0.0.1:${location.port || 80}/ on the machine with the camera, or use "Photo or video".`, true);
    return;
  }
  try {
    // The camera's own picture (no browser cropping): most laptop cameras
    // give 16:9, phones portrait; the view follows whatever comes.
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 1280 }, height: { ideal: 720 }, resizeMode: 'none' }, audio: false });
    cam.video.srcObject = stream;
    await cam.video.play();
  } catch (e) {
    showCamMessage(`No camera: ${e.message || e}. Try the "Photo or video" tab.`, true);
    return;
  }
  cam.running = true;
  cam.frameTimes = []; cam.resultTimes = []; cam.latency = 0; cam.sent = 0;
  $('start').textContent = 'Stop camera';
  connect();
  watchCamera();
}

// Stopping leaves nothing of the last session on screen.
function stopCamera() {
  cam.running = false;
  if (cam.ws) { cam.ws.onclose = null; cam.ws.close(); cam.ws = null; }
  const s = cam.video.srcObject;
  if (s) for (const t of s.getTracks()) t.stop();
  cam.video.srcObject = null;
  cam.result = null; cam.inflight = 0; cam.fresh = false;
  const cv = $('view');
  cv.getContext('2d').clearRect(0, 0, cv.width, cv.height);
  state.faces = []; state.painted = null;
  $('faces').replaceChildren();
  $('no-face').hidden = true;
  for (const id of ['fps', 'server-fps', 'latency', 'server-ms']) $(id).textContent = '–';
  $('inflight').textContent = '0';
  $('start').textContent = 'Start camera';
  showCamMessage('Camera stopped.');
}

$('start').onclick = startCamera;
$('smooth').oninput = () => { $('smooth-out').value = Number($('smooth').value).toFixed(2); };
// Settings apply to a new session (tracks start again).
for (const id of ['model', 'smooth', 'detect-every', 'min-face', 'neighbors'])
  $(id).addEventListener('change', () => { if (cam.running) connect(); });

// ---- Photo and video upload -----------------------------------------------
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer.files.length) handleFile(e.dataTransfer.files[0]);
});
$('file').onchange = () => { if ($('file').files.length) handleFile($('file').files[0]); };

function uploadMessage(text, error) {
  $('upload-message').textContent = text;
  $('upload-message').classList.toggle('error', !!error);
}

// The photo on screen: its bitmap and layout, so a highlight can redraw it.
const shown = { img: null, res: null, layout: null, highlight: -1, pinned: -1 };

// Each new file starts from an empty result area: a failed upload leaves no
// earlier photo, cards or downloads behind.
function clearUpload() {
  const cv = $('photo');
  cv.width = 0; cv.height = 0;
  cv.hidden = true;
  $('photo-faces').replaceChildren();
  $('photo-faces').classList.remove('compact');
  const d = $('downloads');
  if (d.dataset.url) URL.revokeObjectURL(d.dataset.url);
  delete d.dataset.url;
  d.replaceChildren();
  d.hidden = true;
  $('timeline').hidden = true;
  const v = $('result-video');
  v.hidden = true;
  v.removeAttribute('src');
  $('upload-progress').hidden = true;
  Object.assign(shown, { img: null, res: null, layout: null, highlight: -1, pinned: -1 });
  state.photo = null; state.photoLayout = null;
}

function uploadQuery(file, extra) {
  return new URLSearchParams({ name: file.name, model: $('model').value, min_face: $('min-face').value,
    neighbors: $('neighbors').value, ...extra }).toString();
}

async function handleFile(file) {
  clearUpload();
  if (file.type.startsWith('video/')) return handleVideo(file);
  uploadMessage(`Analysing ${file.name}…`);
  let res, img;
  try {
    const r = await fetch(`/api/analyze?${uploadQuery(file, {})}`,
      { method: 'POST', body: file, headers: { 'Content-Type': file.type || 'application/octet-stream' } });
    res = await r.json();
    if (!r.ok) throw new Error(res.error || r.statusText);
    // As the server saw it: emo turns JPEGs upright by their EXIF orientation.
    img = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch (e) {
    uploadMessage(`Cannot analyse ${file.name}: ${e.message || e}`, true);
    return;
  }
  const cv = $('photo');
  cv.hidden = false;
  cv.width = img.width; cv.height = img.height;
  Object.assign(shown, { img, res });
  drawPhoto(-1);
  const classes = Object.keys(res.faces[0]?.scores || {}).length ? Object.keys(res.faces[0].scores) : state.classes;
  renderPhotoCards(res.faces, classes);
  state.photo = res;
  // The annotated photo to keep, made from the canvas as drawn now (no
  // highlight), linked above the photo.
  cv.toBlob((blob) => {
    if (!blob || shown.res !== res) return;
    const d = $('downloads'), a = document.createElement('a');
    d.dataset.url = a.href = URL.createObjectURL(blob);
    a.download = `${file.name.replace(/\.[^.]*$/, '')}-emo.png`;
    a.textContent = 'Download the annotated photo (PNG)';
    d.replaceChildren(a);
    d.hidden = false;
  }, 'image/png');
  uploadMessage(`${file.name}: ${res.faces.length} face${res.faces.length === 1 ? '' : 's'} found.`
    + (res.faces.length ? '' : ' Try a smaller "Smallest face" or a lower "Detection strictness" above.'));
}

function drawPhoto(highlight) {
  const cv = $('photo'), { img, res } = shown;
  if (!img) return;
  const ctx = cv.getContext('2d');
  ctx.drawImage(img, 0, 0);
  // Text at a readable size on screen: canvas pixels per CSS pixel.
  const px = cv.width / (cv.clientWidth || cv.width);
  if (!shown.layout) {
    shown.layout = layoutFaces(ctx, res.faces, img.width / res.width, img.height / res.height, cv.width, cv.height, px);
    state.photoLayout = { width: cv.width, height: cv.height, px, rects: layoutRects(shown.layout) };
  }
  paintFaces(ctx, shown.layout, highlight);
  shown.highlight = highlight;
}

// Few faces: a full card each. A crowd: compact cards (emoji, number,
// emotion, one bar) in a grid, each opening to its full chart on click.
// Cards and faces are linked: hovering either highlights both.
function renderPhotoCards(faces, classes) {
  const box = $('photo-faces'), compact = faces.length > 3;
  box.classList.toggle('compact', compact);
  faces.forEach((f, i) => {
    const card = makeCard(classes);
    card.dataset.track = String(f.track_id);
    card.dataset.index = String(i);
    card.classList.toggle('compact', compact);
    card.tabIndex = 0;
    fillCard(card, f, classes);
    card.addEventListener('mouseenter', () => highlightFace(i, false));
    card.addEventListener('mouseleave', () => highlightFace(shown.pinned, false));
    card.addEventListener('click', () => pinFace(shown.pinned === i ? -1 : i));
    card.addEventListener('focus', () => highlightFace(i, false));
    box.appendChild(card);
  });
}

function highlightFace(i, scroll) {
  if (i === shown.highlight) return;
  drawPhoto(i);
  for (const c of $('photo-faces').querySelectorAll('.face-card'))
    c.classList.toggle('hi', Number(c.dataset.index) === i);
  const card = $('photo-faces').querySelector(`.face-card[data-index="${i}"]`);
  if (card && scroll) card.scrollIntoView({ block: 'nearest' });
}

function pinFace(i) {
  shown.pinned = i;
  for (const c of $('photo-faces').querySelectorAll('.face-card'))
    c.classList.toggle('open', Number(c.dataset.index) === i);
  highlightFace(i, true);
}

function faceAt(ev) {
  const cv = $('photo'), r = cv.getBoundingClientRect();
  if (!shown.layout || !r.width) return -1;
  const x = (ev.clientX - r.left) * cv.width / r.width, y = (ev.clientY - r.top) * cv.height / r.height;
  const hit = shown.layout.find((o) => x >= o.box.x && x <= o.box.x + o.box.w && y >= o.box.y && y <= o.box.y + o.box.h);
  return hit ? hit.index : -1;
}
$('photo').addEventListener('mousemove', (ev) => { const i = faceAt(ev); highlightFace(i >= 0 ? i : shown.pinned, i >= 0); });
$('photo').addEventListener('mouseleave', () => highlightFace(shown.pinned, false));
$('photo').addEventListener('click', (ev) => { const i = faceAt(ev); pinFace(i === shown.pinned ? -1 : i); });

async function handleVideo(file) {
  const bar = $('upload-progress');
  const setProgress = (p, text) => {
    bar.hidden = false;
    bar.querySelector('div').style.width = `${(p * 100).toFixed(1)}%`;
    bar.querySelector('span').textContent = text;
  };
  setProgress(0, `uploading ${file.name}…`);
  uploadMessage('');
  let job;
  try {
    const r = await fetch(`/api/video?${uploadQuery(file, { smooth: $('smooth').value })}`, { method: 'POST', body: file });
    job = await r.json();
    if (!r.ok) throw new Error(job.error || r.statusText);
  } catch (e) {
    bar.hidden = true;
    uploadMessage(`Cannot process ${file.name}: ${e.message || e}`, true);
    return;
  }
  for (;;) {
    await new Promise((ok) => setTimeout(ok, 400));
    let s;
    try { s = await (await fetch(`/api/jobs/${job.job}`)).json(); } catch (e) { uploadMessage(String(e), true); return; }
    if (s.state === 'error') { bar.hidden = true; uploadMessage(`Cannot process ${file.name}: ${s.error}`, true); return; }
    const p = s.total > 0 ? s.done / s.total : 0;
    setProgress(Math.min(1, p), `${s.done} / ${s.total > 0 ? s.total : '?'} frames`);
    if (s.state === 'done') { showVideoResult(file, job.job, s); return; }
  }
}

function showVideoResult(file, id, s) {
  $('upload-progress').hidden = true;
  $('photo').hidden = true;
  const v = $('result-video');
  v.hidden = false;
  v.src = `/api/jobs/${id}/video.mp4`;
  const d = $('downloads');
  d.hidden = false;
  const base = file.name.replace(/\.[^.]*$/, '');
  d.innerHTML = `<a href="/api/jobs/${id}/video.mp4" download="${base}-emo.mp4">annotated video</a>` +
    `<a href="/api/jobs/${id}/faces.csv" download="${base}-emo.csv">CSV of every face</a>`;
  uploadMessage(`${file.name}: ${s.done} frames, ${s.faces} face detections.`);
  drawTimeline($('timeline'), s.timeline, s.classes);
}

// Emotion timeline: each class's mean probability over the faces per step.
function drawTimeline(cv, tl, classes) {
  if (!tl || !tl.length) return;
  cv.hidden = false;
  const ctx = cv.getContext('2d'), W = cv.width, H = cv.height, L = 40, B = 24, T = 10, R = 110;
  ctx.clearRect(0, 0, W, H);
  const t1 = tl[tl.length - 1].t || 1;
  ctx.strokeStyle = '#2a323c'; ctx.fillStyle = '#94a3b3'; ctx.font = '12px system-ui';
  for (let k = 0; k <= 4; k++) {
    const y = T + (H - T - B) * (1 - k / 4);
    ctx.beginPath(); ctx.moveTo(L, y); ctx.lineTo(W - R, y); ctx.stroke();
    ctx.fillText(`${k * 25}%`, 4, y + 4);
  }
  ctx.fillText('0 s', L, H - 6);
  ctx.fillText(`${t1.toFixed(1)} s`, W - R - 30, H - 6);
  classes.forEach((c, i) => {
    ctx.strokeStyle = colourOf(c); ctx.lineWidth = 2; ctx.beginPath();
    let started = false;
    for (const p of tl) {
      if (!p.scores) { started = false; continue; }
      const x = L + (W - L - R) * (p.t / t1), y = T + (H - T - B) * (1 - (p.scores[i] || 0));
      if (started) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      started = true;
    }
    ctx.stroke();
    ctx.fillStyle = colourOf(c);
    ctx.fillText(`${emojiOf(c)} ${c}`, W - R + 10, T + 14 + i * 16);
  });
}

loadModels();
