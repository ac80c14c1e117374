// Dashboard benchmarks in headless Chromium against the release server (make bench):
//  - cold first render of the overview: navigation start → the mark set when its first data is
//    drawn (a fresh browser context each run, signed in through the session cookie);
//  - a 100,000-point chart (src/chart.ts, as monitoring draws it) panned by script: the median
//    requestAnimationFrame delta (web/bench/chart, built here into a temporary directory);
//  - 1,000 live samples a second ingested over HTTP while the overview (100 devices at 10 Hz) or
//    a device's monitoring page (one device at 1 kHz) is open: the share of wall time taken by
//    long tasks (PerformanceObserver "longtask") over 30 s (DASHBOARD_LIVE_S), three runs;
//  - the network view of case2869pegase: fetch, layout and SVG drawn (when ../shared is there).
// Medians of several runs.   node web/bench/dashboard.mjs <remhart> <web/dist> [runs]
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";

const [binary, webDir] = process.argv.slice(2, 4).map((p) => resolve(p));
const runs = Number(process.argv[4] ?? 5);
const dataDir = mkdtempSync(join(tmpdir(), "remhart-dash-bench-"));
const password = randomBytes(12).toString("hex");
const server = spawn(binary, ["serve", "--port", "0", "--data-dir", join(dataDir, "data")], {
  cwd: dataDir,
  env: { PATH: process.env.PATH, HOME: dataDir, REMHART_ADMIN_PASSWORD: password, REMHART_SERVER_WEB_DIR: webDir,
         REMHART_ANALYTICS_TRAIN_ON_START: "false" },
  stdio: ["ignore", "pipe", "pipe"],
});
let log = "";
const base = await new Promise((ok, fail) => {
  const on = (c) => { log += c; const m = /listening on (http:\/\/\S+)/.exec(log); if (m) ok(m[1]); };
  server.stdout.on("data", on);
  server.stderr.on("data", on);
  server.on("exit", () => fail(new Error(log)));
});
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const browser = await chromium.launch({
  executablePath: process.env.REMHART_CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"],
});
try {
  // A session cookie to start each cold context signed in.
  const login = await fetch(base + "/api/auth/session", {
    method: "POST", body: JSON.stringify({ username: "admin", password }),
  });
  const cookie = login.headers.get("set-cookie").split(";")[0].split("=");
  const host = new URL(base).hostname;
  const firstRender = [];
  await new Promise((r) => setTimeout(r, 3000));  // the demo run's first samples
  for (let k = 0; k < runs; ++k) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    await context.addCookies([{ name: cookie[0], value: cookie[1], domain: host, path: "/api/auth" }]);
    const page = await context.newPage();
    await page.goto(base + "/");
    await page.waitForFunction(() => performance.getEntriesByName("overview-first-data").length > 0,
                               null, { timeout: 30000 });
    firstRender.push(await page.evaluate(() => performance.getEntriesByName("overview-first-data")[0].startTime));
    // The cookie rotates on every refresh: carry the newest one to the next context.
    const next = (await context.cookies()).find((c) => c.name === cookie[0]);
    if (next) cookie[1] = next.value;
    await context.close();
  }
  console.log(`dashboard: overview cold first render  median ${median(firstRender).toFixed(0)} ms  runs [${
    firstRender.map((x) => x.toFixed(0)).join(", ")}]`);

  // A signed-in page on the real source (sessionStorage is per tab: set before the app starts).
  const openPage = async (path) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    await context.addCookies([{ name: cookie[0], value: cookie[1], domain: host, path: "/api/auth" }]);
    await context.addInitScript(() => sessionStorage.setItem("remhart.source", "real"));
    const page = await context.newPage();
    await page.goto(base + path);
    return { context, page, close: async () => {
      const next = (await context.cookies()).find((c) => c.name === cookie[0]);
      if (next) cookie[1] = next.value;
      await context.close();
    } };
  };
  const token = (await (await fetch(base + "/api/auth/login", { method: "POST",
    body: JSON.stringify({ username: "admin", password }) })).json()).access_token;

  // A 100,000-point chart panned by script.
  const benchDir = mkdtempSync(join(tmpdir(), "remhart-chart-bench-"));
  const webRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const built = spawnSync("npx", ["vite", "build", "--config", "bench/vite.config.ts", "--outDir", benchDir],
                          { cwd: webRoot, encoding: "utf8" });
  if (built.status !== 0) throw new Error("building web/bench/chart failed:\n" + built.stderr);
  const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };
  const panFrames = [], panP95 = [], panDraw = [];
  for (let k = 0; k < runs; ++k) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    await context.route("http://bench.invalid/**", (route) => {
      const path = new URL(route.request().url()).pathname;
      const file = join(benchDir, path === "/" ? "index.html" : path);
      route.fulfill({ body: readFileSync(file), contentType: types[extname(file)] ?? "application/octet-stream" });
    });
    const page = await context.newPage();
    await page.goto("http://bench.invalid/");
    await page.waitForFunction(() => window.done === true, null, { timeout: 120000 });
    const frames = await page.evaluate(() => window.frames_ms);
    panFrames.push(median(frames));
    panP95.push([...frames].sort((a, b) => a - b)[Math.floor(frames.length * 0.95)]);
    panDraw.push(median(await page.evaluate(() => window.draw_ms)));
    await context.close();
  }
  rmSync(benchDir, { recursive: true, force: true });
  console.log(`dashboard: 100,000-point chart panned  median frame ${median(panFrames).toFixed(1)} ms  runs [${
    panFrames.map((x) => x.toFixed(1)).join(", ")}]  p95 [${panP95.map((x) => x.toFixed(1)).join(", ")}]  redraw median ${
    median(panDraw).toFixed(1)} ms [${panDraw.map((x) => x.toFixed(1)).join(", ")}]`);

  // 1,000 live samples a second: `devices` devices × `hz` samples a second, in ten batches a
  // second, for `seconds`; the page's long tasks over that time as a share of it.
  const sample = (device, tsMs, k) => ({
    device, ts: tsMs, v: [230 + Math.sin(k / 50), 229, 231], i: [10, 10, 10],
    p: [2200, 2200, 2200], q: [300, 300, 300], f: 50 + 0.01 * Math.sin(k / 100),
  });
  const liveLoad = async (path, devices, hz, seconds) => {
    const { page, close } = await openPage(path);
    await page.waitForSelector("main h1");
    await page.waitForTimeout(1500);
    await page.evaluate(() => {
      window.longtask_ms = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.longtask_ms += e.duration;
      }).observe({ type: "longtask" });
    });
    // The observer sees a deliberate 80 ms task (else the figure below would mean nothing).
    await page.evaluate(() => new Promise((done) => setTimeout(() => {
      const end = performance.now() + 80;
      while (performance.now() < end);
      setTimeout(done, 200);
    }, 0)));
    if (await page.evaluate(() => window.longtask_ms) < 80) throw new Error("the longtask observer saw nothing");
    await page.evaluate(() => { window.longtask_ms = 0; });
    const start = Date.now();
    let sent = 0, accepted = 0, failed = 0, k = 0;
    while (Date.now() - start < seconds * 1000) {
      const tick = Date.now();
      const batch = [];
      for (let d = 0; d < devices; ++d) {
        for (let j = 0; j < hz / 10; ++j) {
          batch.push(sample(`d${String(d).padStart(3, "0")}`, tick - 100 + (j * 1000) / hz, k++));
        }
      }
      const r = await fetch(base + "/api/grid/ingest", { method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: JSON.stringify(batch) });
      sent += batch.length;
      const reply = r.ok ? await r.json() : null;
      if (reply) accepted += reply.accepted;
      const problem = !reply ? `answered ${r.status}` : reply.rejected.length ? `rejected ${JSON.stringify(reply.rejected[0])}` : "";
      if (problem && failed++ === 0) console.error(`dashboard: ingest ${problem}`);
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - tick))));
    }
    const wall = Date.now() - start;
    const longMs = await page.evaluate(() => window.longtask_ms);
    // What the page shows at the end: the data did arrive.
    const shown = await page.evaluate(() => document.querySelector(".kpi .value")?.textContent ??
                                            `${document.querySelector("main")?.dataset.points} points`);
    await close();
    return { share: longMs / wall, rate: (accepted * 1000) / wall, shown };
  };
  const liveSeconds = Number(process.env.DASHBOARD_LIVE_S ?? 30);
  for (let d = 0; d < 100; ++d) {
    await fetch(base + "/api/grid/devices", { method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ id: `d${String(d).padStart(3, "0")}`, nominal_voltage: 230, rated_current: 20 }) });
  }
  for (const [name, path, devices, hz] of [["overview, 100 devices × 10 Hz", "/", 100, 10],
                                           ["monitoring, 1 device × 1 kHz", "/monitoring?device=d000&range=900", 1, 1000]]) {
    const shares = [], rates = [];
    let shown = "";
    for (let k = 0; k < Math.min(runs, 3); ++k) {
      const r = await liveLoad(path, devices, hz, liveSeconds);
      shares.push(r.share * 100);
      rates.push(r.rate);
      shown = r.shown;
    }
    console.log(`dashboard: ${name}: long tasks  median ${median(shares).toFixed(1)} % of wall time  runs [${
      shares.map((x) => x.toFixed(1)).join(", ")}]  at ${median(rates).toFixed(0)} samples/s accepted (page shows "${shown}")`);
  }

  const pegase = join(process.env.REMHART_MATPOWER_DIR ?? join(resolve(webDir, "..", "..", ".."), "shared", "data", "matpower"),
                      "case2869pegase.m");
  if (existsSync(pegase)) {
    await fetch(base + "/api/grid/networks?name=pegase", {
      method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "text/plain" },
      body: readFileSync(pegase, "utf8"),
    });
    const drawn = [];
    for (let k = 0; k < runs; ++k) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
      await context.addCookies([{ name: cookie[0], value: cookie[1], domain: host, path: "/api/auth" }]);
      const page = await context.newPage();
      await page.goto(base + "/network");
      await page.waitForFunction(() => performance.getEntriesByName("network-drawn").length > 0, null, { timeout: 30000 });
      drawn.push(Number(await page.locator("main").getAttribute("data-drawn-ms")));
      const next = (await context.cookies()).find((c) => c.name === cookie[0]);
      if (next) cookie[1] = next.value;
      await context.close();
    }
    console.log(`dashboard: network view of case2869pegase drawn  median ${median(drawn)} ms  runs [${drawn.join(", ")}]`);
  }
} finally {
  await browser.close();
  server.kill("SIGTERM");
  await new Promise((r) => server.on("exit", r));
  rmSync(dataDir, { recursive: true, force: true });
}
