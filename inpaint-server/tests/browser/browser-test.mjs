// IOPaint's own web app, served by inpaint-server, driven in headless Chromium (Debian's, through
// playwright-core; nothing downloads a browser). Run by scripts/test-server.sh:
//
//   node browser-test.mjs URL PHOTO SCREENSHOT_DIR
//
// Loads the app, uploads the photo, paints a stroke (the app runs erase models when the stroke
// ends), and checks the picture the server answered: outside the stroke unchanged (within JPEG
// re-encoding at quality 100), inside changed. Then switches the model in Settings and runs
// again. Also checks that the app's Socket.IO connection received `diffusion_finish`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// playwright-core is installed (pinned, by package-lock.json) into .tools/, outside this folder;
// the script is told where.
const { chromium } = await import(process.env.PLAYWRIGHT_CORE ?? 'playwright-core');

const [url, photo, shots] = process.argv.slice(2);
if (!url || !photo || !shots) {
  console.error('usage: node browser-test.mjs URL PHOTO SCREENSHOT_DIR');
  process.exit(2);
}
fs.mkdirSync(shots, { recursive: true });
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'inpaint-chromium-'));
const fail = (message) => { throw new Error(message); };

const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
});
let failed = false;
try {
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(60_000);
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  // The app's Socket.IO frames (it upgrades to a WebSocket, as with python-socketio).
  const frames = [];
  page.on('websocket', (ws) => {
    if (ws.url().includes('/socket.io/')) ws.on('framereceived', (f) => frames.push(String(f.payload)));
  });

  // The app's inpaint calls pass through here so that the test sees exactly what was sent and
  // answered (Chromium does not keep the bodies of `fetch` responses for the inspector).
  const answers = [];
  await page.route('**/api/v1/inpaint', async (route) => {
    const response = await route.fetch();
    const body = await response.body();
    answers.push({ sent: route.request().postData(), status: response.status(), headers: response.headers(), body });
    await route.fulfill({ response, body });
  });

  await page.goto(url);
  await page.getByText('Click here or drag an image file').waitFor();
  await page.screenshot({ path: path.join(shots, '1-loaded.png') });
  await page.getByLabel('Click here or drag an image').setInputFiles(photo);
  const canvas = page.locator('canvas').first();
  await canvas.waitFor();
  await page.screenshot({ path: path.join(shots, '2-uploaded.png') });

  // Paints a horizontal stroke across the picture (fractions of its size) and returns what the
  // app sent and what the server answered.
  const stroke = async (x0, x1, y) => {
    const box = await canvas.boundingBox();
    const before = answers.length;
    const response = page.waitForResponse((r) => r.url().endsWith('/api/v1/inpaint'));
    await page.mouse.move(box.x + box.width * x0, box.y + box.height * y);
    await page.mouse.down();
    for (let i = 1; i <= 12; i++) {
      await page.mouse.move(box.x + box.width * (x0 + ((x1 - x0) * i) / 12), box.y + box.height * y, { steps: 2 });
    }
    await page.mouse.up();
    await response;
    if (answers.length !== before + 1) fail(`${answers.length - before} inpaint calls for one stroke`);
    const answer = answers[before];
    if (answer.status !== 200) fail(`inpaint answered ${answer.status}: ${answer.body}`);
    const type = answer.headers['content-type'];
    const sent = JSON.parse(answer.sent);
    return { sent, type, result: `data:${type};base64,${answer.body.toString('base64')}`, seed: answer.headers['x-seed'] };
  };

  // Decodes the three pictures in the page and compares them pixel by pixel.
  const compare = ({ sent, result }) => page.evaluate(async ({ image, mask, result }) => {
    const pixels = async (src) => {
      const blob = await (await fetch(src)).blob();
      const bitmap = await createImageBitmap(blob).catch((e) => {
        throw new Error(`${e.message} (${blob.type}, ${blob.size} bytes, ${src.slice(0, 40)}…)`);
      });
      const c = new OffscreenCanvas(bitmap.width, bitmap.height);
      const g = c.getContext('2d');
      g.drawImage(bitmap, 0, 0);
      return g.getImageData(0, 0, bitmap.width, bitmap.height);
    };
    const [a, m, b] = await Promise.all([pixels(image), pixels(mask), pixels(result)]);
    if (a.width !== b.width || a.height !== b.height || a.width !== m.width || a.height !== m.height) {
      return { error: `sizes: image ${a.width}×${a.height}, mask ${m.width}×${m.height}, result ${b.width}×${b.height}` };
    }
    let inside = 0, outside = 0, insideDiff = 0, outsideDiff = 0, outsideOff = 0;
    for (let i = 0; i < a.data.length; i += 4) {
      const luma = 0.299 * m.data[i] + 0.587 * m.data[i + 1] + 0.114 * m.data[i + 2];
      const fill = (luma * m.data[i + 3]) / 255 > 127;
      let d = 0, worst = 0;
      for (let c = 0; c < 3; c++) {
        const e = Math.abs(a.data[i + c] - b.data[i + c]);
        d += e; worst = Math.max(worst, e);
      }
      if (fill) { inside++; insideDiff += d / 3; } else { outside++; outsideDiff += d / 3; if (worst > 8) outsideOff++; }
    }
    return { width: a.width, height: a.height, inside, outside, insideMean: insideDiff / inside,
      outsideMean: outsideDiff / outside, outsideOffShare: outsideOff / outside };
  }, { image: sent.image, mask: sent.mask, result });

  const check = (name, stats) => {
    console.log(`${name}: ${JSON.stringify(stats)}`);
    if (stats.error) fail(`${name}: ${stats.error}`);
    if (stats.inside < 200) fail(`${name}: the stroke covers only ${stats.inside} pixels`);
    // JPEG at quality 100 re-encodes the untouched pixels within a level or two.
    if (stats.outsideMean > 1.0 || stats.outsideOffShare > 0.001) fail(`${name}: pixels outside the stroke changed`);
    if (stats.insideMean < 4.0) fail(`${name}: the stroke's pixels barely changed`);
  };

  const first = await stroke(0.3, 0.7, 0.35);
  if (first.type !== 'image/jpeg') fail(`a JPEG came back as ${first.type}`);
  if (first.sent.hd_strategy_crop_triger_size !== 640) fail('the app no longer sends its misspelled field');
  check('telea', await compare(first));
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(shots, '3-telea.png') });

  // Settings (the gear, last button of the header) → Model → navier-stokes → Ok.
  await page.locator('header button').last().click();
  const dialog = page.getByRole('dialog');
  await dialog.getByText('Current Model').waitFor();
  await page.screenshot({ path: path.join(shots, '4-settings.png') });
  const switched = page.waitForResponse((r) => r.url().endsWith('/api/v1/model') && r.request().method() === 'POST');
  await dialog.getByText('navier-stokes', { exact: true }).click();
  await dialog.getByRole('button', { name: 'Ok' }).click();
  const switchAnswer = await switched;
  if (switchAnswer.status() !== 200) fail(`the switch answered ${switchAnswer.status()}: ${await switchAnswer.text()}`);
  const served = await (await fetch(new URL('/api/v1/model', url))).json();
  if (served.name !== 'navier-stokes') fail(`the server serves ${served.name} after the switch`);
  await dialog.waitFor({ state: 'detached' });
  // The app shows a toast while it switches; strokes made under it are dropped.
  await page.waitForTimeout(1500);
  await page.screenshot({ path: path.join(shots, '5-switched.png') });

  const second = await stroke(0.25, 0.6, 0.7);
  check('navier-stokes', await compare(second));
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(shots, '6-navier-stokes.png') });

  const finishes = frames.filter((f) => f.includes('"diffusion_finish"')).length;
  console.log(`socket.io frames: ${frames.length}, diffusion_finish: ${finishes}`);
  if (finishes < 2) fail(`the app's Socket.IO connection got ${finishes} diffusion_finish events for 2 runs`);
  if (pageErrors.length) fail(`errors in the page: ${pageErrors.join('; ')}`);
  console.log('browser test: ok');
} catch (error) {
  failed = true;
  console.error(`browser test FAILED: ${error.message}`);
  const page = context.pages()[0];
  if (page) await page.screenshot({ path: path.join(shots, 'failure.png') }).catch(() => {});
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
