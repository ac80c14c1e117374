// Dashboard benchmarks in headless Chromium against the release server (make bench):
//  - cold first render of the overview: navigation start → the mark set when its first data is
//    drawn (a fresh browser context each run, signed in through the session cookie);
//  - the network view of case2869pegase: fetch, layout and SVG drawn (when ../shared is there).
// Medians of several runs.   node web/bench/dashboard.mjs <remhart> <web/dist> [runs]
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";

const [binary, webDir] = process.argv.slice(2, 4).map((p) => resolve(p));
const runs = Number(process.argv[4] ?? 5);
const dataDir = mkdtempSync(join(tmpdir(), "remhart-dash-bench-"));
const password = randomBytes(12).toString("hex");
const server = spawn(binary, ["serve", "--port", "0", "--data-dir", join(dataDir, "data")], {
  cwd: dataDir,
  env: { PATH: process.env.PATH, HOME: dataDir, REMHART_ADMIN_PASSWORD: password, REMHART_SERVER_WEB_DIR: webDir },
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

  const pegase = join(process.env.REMHART_MATPOWER_DIR ?? join(resolve(webDir, "..", "..", ".."), "shared", "data", "matpower"),
                      "case2869pegase.m");
  if (existsSync(pegase)) {
    const token = (await login.clone().json().catch(() => null))?.access_token ??
      (await (await fetch(base + "/api/auth/login", { method: "POST",
        body: JSON.stringify({ username: "admin", password }) })).json()).access_token;
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
