// app.js — the emo demo page. Plain JS, no build step, nothing loaded from
// elsewhere: every request goes to the emo server that served this page.
'use strict';

const EMOJI = { angry: '😠', disgust: '🤢', fear: '😨', happy: '😄', sad: '😢', surprise: '😮',
  neutral: '😐', contempt: '😒', negative: '☹️', positive: '🙂' };
const COLOUR = { angry: '#ff5a4f', disgust: '#7cc242', fear: '#b07cff', happy: '#ffcc33', sad: '#4f9dff',
  surprise: '#ff9a3c', neutral: '#b8c2cc', contempt: '#d46fb8' };
const colourOf = (name) => COLOUR[name] || '#7fd1c7';
const emojiOf = (name) => EMOJI[name] || '🙂';
const $ = (id) => document.getElementById(id);

// State the browser test reads (tests/test_serve.sh).
const state = window.emoState = { frames: 0, faces: [], classes: [], errors: [], photo: null };

// ---- Tabs -----------------------------------------------------------------
for (const b of document.querySelectorAll('#tabs button')) {
  b.onclick = () => {
    for (const o of document.querySelectorAll('#tabs button')) o.classList.toggle('active', o === b);
    for (const t of document.querySelectorAll('.tab')) t.classList.toggle('active', t.id === b.dataset.tab);
    $('mjpeg').src = b.dataset.tab === 'server' ? '/stream.mjpg' : '';
  };
}

// ---- Per-face cards with bar charts ----------------------------------------
// One card per track id, reused from frame to frame so the bars animate.
function renderCards(container, faces, classes) {
  const seen = new Set();
  for (const f of faces) {
    const key = String(f.track_id);
    seen.add(key);
    let card = container.querySelector(`.face-card[data-track="${key}"]`);
    if (!card) {
      card = document.createElement('div');
      card.className = 'face-card';
      card.dataset.track = key;
      card.innerHTML = '<h3><span class="emoji"></span><span class="emotion"></span><span class="track"></span></h3><div class="chart"></div>';
      const chart = card.querySelector('.chart');
      for (const c of classes) {
        chart.insertAdjacentHTML('beforeend',
          `<span class="name" data-class="${c}">${c}</span><div class="bar"><div data-class="${c}"></div></div><span class="val" data-class="${c}"></span>`);
        // Set from script: the page's CSP allows no inline style attributes.
        chart.querySelector(`.bar div[data-class="${c}"]`).style.setProperty('--c', colourOf(c));
      }
      container.appendChild(card);
    }
    card.style.setProperty('--c', colourOf(f.emotion));
    card.querySelector('.emoji').textContent = emojiOf(f.emotion);
    card.querySelector('.emotion').textContent = f.emotion;
    card.querySelector('.track').textContent = `#${f.track_id}`;
    card.dataset.emotion = f.emotion;
    for (const c of classes) {
      const p = f.scores[c] || 0;
      card.querySelector(`.bar div[data-class="${c}"]`).style.width = `${(p * 100).toFixed(1)}%`;
      card.querySelector(`.val[data-class="${c}"]`).textContent = `${Math.round(p * 100)}%`;
      card.querySelector(`.name[data-class="${c}"]`).classList.toggle('top', c === f.emotion);
    }
  }
  for (const card of [...container.querySelectorAll('.face-card')])
    if (!seen.has(card.dataset.track)) card.remove();
}

// Box, emoji and label over each face; sx, sy map result pixels to canvas.
function drawFaces(ctx, faces, sx, sy) {
  for (const f of faces) {
    const [x, y, w, h] = [f.box[0] * sx, f.box[1] * sy, f.box[2] * sx, f.box[3] * sy];
    const col = colourOf(f.emotion);
    ctx.lineWidth = Math.max(2, w / 60);
    ctx.strokeStyle = col;
    ctx.strokeRect(x, y, w, h);
    const size = Math.max(18, w * 0.36);
    ctx.font = `${size}px "Noto Color Emoji", "Apple Color Emoji", "Segoe UI Emoji", sans-serif`;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'center';
    ctx.fillText(emojiOf(f.emotion), x + w, y);
    const label = `#${f.track_id} ${f.emotion} ${Math.round((f.scores[f.emotion] || 0) * 100)}%`;
    ctx.font = `600 ${Math.max(12, Math.min(22, w / 9))}px system-ui, sans-serif`;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    const tw = ctx.measureText(label).width + 10, th = Math.max(16, Math.min(28, w / 7));
    ctx.fillStyle = 'rgba(0,0,0,0.65)';
    ctx.fillRect(x, y + h + 2, tw, th);
    ctx.fillStyle = col;
    ctx.fillText(label, x + 5, y + h + 4);
    if (f.landmarks && $('landmarks') && $('landmarks').checked) {
      ctx.fillStyle = '#28ff5a';
      const r = Math.max(1.5, w / 90);
      for (const [px, py] of f.landmarks) {
        ctx.beginPath();
        ctx.arc(px * sx, py * sy, r, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
  }
}

// ---- Models and settings ----------------------------------------------------
async function loadModels() {
  try {
    const r = await fetch('/api/models');
    const m = await r.json();
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
const cam = {
  running: false, ws: null, video: document.createElement('video'), grab: document.createElement('canvas'),
  sent: 0, inflight: 0, maxInflight: 2, encoding: false, sentAt: new Map(),
  result: null, fpsTimes: [], latency: 0,
};
cam.video.muted = true;
cam.video.playsInline = true;

function connect() {
  if (cam.ws) { cam.ws.onclose = null; cam.ws.close(); }
  cam.sent = 0; cam.inflight = 0; cam.sentAt.clear(); cam.result = null;
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws?${settingsQuery()}`);
  ws.binaryType = 'arraybuffer';
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === 'hello') { state.classes = m.classes; return; }
    if (m.type === 'error' && m.frame === undefined) { showCamMessage(m.error, true); return; }
    cam.inflight = Math.max(0, cam.inflight - 1);
    const t0 = cam.sentAt.get(m.frame);
    cam.sentAt.delete(m.frame);
    if (m.type === 'result') {
      const now = performance.now();
      if (t0 !== undefined) cam.latency = cam.latency ? 0.8 * cam.latency + 0.2 * (now - t0) : now - t0;
      cam.fpsTimes.push(now);
      while (cam.fpsTimes.length && now - cam.fpsTimes[0] > 2000) cam.fpsTimes.shift();
      cam.result = m;
      state.frames++;
      state.faces = m.faces;
      $('server-ms').textContent = `${m.ms.toFixed(0)} ms`;
      renderCards($('faces'), m.faces, state.classes);
      $('no-face').hidden = m.faces.length > 0;
    } else if (m.type === 'error') {
      state.errors.push(m.error);
    }
    pump();
  };
  ws.onclose = (ev) => {
    if (cam.running) showCamMessage(`connection closed (${ev.code}${ev.reason ? ': ' + ev.reason : ''}); reconnecting…`, true);
    if (cam.running) setTimeout(() => { if (cam.running) connect(); }, 1000);
  };
  ws.onopen = () => { hideCamMessage(); pump(); };
  cam.ws = ws;
}

// Sends the current camera picture unless two frames are already on their
// way: the server answers in order, and stale frames are never queued.
function pump() {
  const ws = cam.ws;
  if (!cam.running || !ws || ws.readyState !== 1 || cam.encoding || cam.inflight >= cam.maxInflight) return;
  const v = cam.video;
  if (!v.videoWidth) return;
  const w = Math.min(Number($('send-width').value), v.videoWidth);
  const h = Math.round(v.videoHeight * w / v.videoWidth);
  cam.grab.width = w; cam.grab.height = h;
  cam.grab.getContext('2d').drawImage(v, 0, 0, w, h);
  cam.encoding = true;
  cam.grab.toBlob((blob) => {
    cam.encoding = false;
    if (!blob || ws !== cam.ws || ws.readyState !== 1) return;
    cam.sentAt.set(cam.sent++, performance.now());
    cam.inflight++;
    ws.send(blob);
    pump();
  }, 'image/jpeg', 0.8);
}

function paint() {
  if (!cam.running) return;
  const v = cam.video, cv = $('view');
  if (v.videoWidth) {
    if (cv.width !== v.videoWidth) { cv.width = v.videoWidth; cv.height = v.videoHeight; }
    const ctx = cv.getContext('2d');
    ctx.drawImage(v, 0, 0);
    const r = cam.result;
    if (r) drawFaces(ctx, r.faces, cv.width / r.width, cv.height / r.height);
    $('fps').textContent = cam.fpsTimes.length > 1
      ? (1000 * (cam.fpsTimes.length - 1) / (cam.fpsTimes[cam.fpsTimes.length - 1] - cam.fpsTimes[0])).toFixed(1) : '–';
    $('latency').textContent = cam.latency ? `${cam.latency.toFixed(0)} ms` : '–';
    $('inflight').textContent = cam.inflight;
  }
  pump();
  requestAnimationFrame(paint);
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
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    cam.video.srcObject = stream;
    await cam.video.play();
  } catch (e) {
    showCamMessage(`No camera: ${e.message || e}. Try the "Photo or video" tab.`, true);
    return;
  }
  cam.running = true;
  $('start').textContent = 'Stop camera';
  connect();
  requestAnimationFrame(paint);
}

function stopCamera() {
  cam.running = false;
  if (cam.ws) { cam.ws.onclose = null; cam.ws.close(); cam.ws = null; }
  const s = cam.video.srcObject;
  if (s) for (const t of s.getTracks()) t.stop();
  cam.video.srcObject = null;
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

async function handleFile(file) {
  $('downloads').hidden = true;
  $('timeline').hidden = true;
  $('result-video').hidden = true;
  $('photo').hidden = false;
  $('photo-faces').innerHTML = '';
  if (file.type.startsWith('video/')) return handleVideo(file);
  uploadMessage(`Analysing ${file.name}…`);
  let res;
  try {
    const r = await fetch(`/api/analyze?${new URLSearchParams({ name: file.name, model: $('model').value, min_face: $('min-face').value, neighbors: $('neighbors').value })}`,
      { method: 'POST', body: file, headers: { 'Content-Type': file.type || 'application/octet-stream' } });
    res = await r.json();
    if (!r.ok) throw new Error(res.error || r.statusText);
  } catch (e) {
    uploadMessage(`Cannot analyse ${file.name}: ${e.message || e}`, true);
    return;
  }
  // As the server saw it: emo turns JPEGs upright by their EXIF orientation.
  const img = await createImageBitmap(file, { imageOrientation: 'from-image' });
  const cv = $('photo');
  cv.width = img.width; cv.height = img.height;
  const ctx = cv.getContext('2d');
  ctx.drawImage(img, 0, 0);
  drawFaces(ctx, res.faces, img.width / res.width, img.height / res.height);
  renderCards($('photo-faces'), res.faces, Object.keys(res.faces[0]?.scores || {}).length ? Object.keys(res.faces[0].scores) : state.classes);
  state.photo = res;
  // The annotated photo to keep: made here, from the canvas.
  cv.toBlob((blob) => {
    if (!blob) return;
    const d = $('downloads'), a = document.createElement('a');
    if (d.dataset.url) URL.revokeObjectURL(d.dataset.url);
    d.dataset.url = a.href = URL.createObjectURL(blob);
    a.download = `${file.name.replace(/\.[^.]*$/, '')}-emo.png`;
    a.textContent = 'annotated photo (PNG)';
    d.replaceChildren(a);
    d.hidden = false;
  }, 'image/png');
  uploadMessage(`${file.name}: ${res.faces.length} face${res.faces.length === 1 ? '' : 's'} found.`);
}

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
    const r = await fetch(`/api/video?${new URLSearchParams({ name: file.name, model: $('model').value, smooth: $('smooth').value, min_face: $('min-face').value, neighbors: $('neighbors').value })}`,
      { method: 'POST', body: file });
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
