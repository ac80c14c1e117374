// Browser tests: the real remhart (with the demo simulation) on port 0 with a temporary data
// directory, driven in Debian's Chromium by playwright-core. Every page saves a screenshot under
// test-artifacts/; a blank page, a console error, a failed request or a dialog fails the test.
//   node web/tests/browser.mjs <remhart binary> <web/dist> <artifacts dir>
// Exit 77 (skipped) when Chromium is not installed, except under CI=true.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";

const [binary, webDir, artifacts] = process.argv.slice(2).map((p) => resolve(p));
const browserPath = process.env.REMHART_CHROMIUM ?? "/usr/bin/chromium";
if (!existsSync(browserPath)) {
  console.error(`${browserPath} not found (scripts/bootstrap installs chromium)`);
  process.exit(process.env.CI === "true" ? 1 : 77);
}
if (!existsSync(join(webDir, "index.html"))) {
  console.error(`${webDir} has no index.html (make web)`);
  process.exit(process.env.CI === "true" ? 1 : 77);
}
mkdirSync(artifacts, { recursive: true });

const failures = [];
const check = (ok, what) => {
  if (!ok) failures.push(what);
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
};

// ---- the server ----
const dataDir = mkdtempSync(join(tmpdir(), "remhart-browser-"));
const password = randomBytes(12).toString("hex");
const env = {
  PATH: process.env.PATH,
  HOME: process.env.HOME ?? dataDir,
  REMHART_ADMIN_PASSWORD: password,
  REMHART_AUTH_ARGON2_MEMORY_MIB: "8",
  REMHART_AUTH_ARGON2_OPS: "1",
  REMHART_ANALYTICS_TRAIN_ON_START: "false",
  REMHART_SERVER_WEB_DIR: webDir,
};
for (const k of ["ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TMPDIR"]) {
  if (process.env[k]) env[k] = process.env[k];
}
// Starts remhart on `port` (0: any) and resolves its base URL once it listens.
function startServer(port) {
  const child = spawn(binary, ["serve", "--port", String(port), "--data-dir", join(dataDir, "data")], {
    cwd: dataDir,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const listening = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("remhart did not start:\n" + log)), 60000);
    const onData = (chunk) => {
      log += chunk;
      const m = /listening on (http:\/\/[^\s]+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`remhart exited (${code}):\n${log}`)));
  });
  return { child, listening };
}
async function stopServer(child) {
  const exited = new Promise((r) => child.on("exit", r));
  child.kill("SIGTERM");
  await exited;
}
// A small model set (the pipeline, not the quality) so the analytics pages have models to show.
const trained = spawnSync(binary, ["train", "--scale", "0.05", "--run-minutes", "4", "--quiet",
                                   "--data-dir", join(dataDir, "data")], { cwd: dataDir, env, encoding: "utf8" });
if (trained.status !== 0) throw new Error("remhart train failed:\n" + trained.stdout + trained.stderr);
let server = startServer(0);
const base = await server.listening;

async function api(method, path, token, body) {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.text() };
}
const adminToken = JSON.parse(
  (await api("POST", "/api/auth/login", "", { username: "admin", password })).body,
).access_token;
// Untrusted text that must stay text.
const xss = "<img src=x onerror=alert(1)>";
check((await api("POST", "/api/grid/devices", adminToken, { id: "xss-1", name: xss })).status === 201,
      "a device with markup in its name is registered");

// ---- the browser ----
const browser = await chromium.launch({
  executablePath: browserPath,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
const problems = [];
// (HTTP errors are judged by the response listener below, which knows the expected 401.)
let restarting = false;  // the server is away on purpose: the stream's reconnect attempts fail
page.on("console", (m) => {
  if (m.type() === "error" && !m.text().startsWith("Failed to load resource") &&
      !(restarting && /WebSocket connection to .* failed/.test(m.text()))) {
    problems.push("console: " + m.text());
  }
});
page.on("pageerror", (e) => problems.push(`page error on ${page.url()}: ${e.message} ${(e.stack ?? "").split("\n").slice(0, 3).join(" ")}`));
page.on("dialog", async (d) => { problems.push("dialog: " + d.message()); await d.dismiss(); });
page.on("requestfailed", (r) => {
  // A WebSocket or a fetch cut off by a navigation (reload) is not a failure of the page.
  const why = r.failure()?.errorText ?? "";
  if (!r.url().includes("/ws/") && why !== "net::ERR_ABORTED") {
    problems.push(`request failed: ${r.url()} ${why}`);
  }
});
page.on("response", (r) => {
  // Expected: the wrong password's 401, and the session check of a page opened signed out.
  const expected = (r.url().endsWith("/api/auth/session") && r.status() === 401) ||
                   (r.url().includes("/api/grid/networks?") && r.status() === 422) ||
                   (r.url().includes("/api/grid/state?") && r.status() === 422) ||  // a model its devices do not observe
                   (r.url().endsWith("/api/auth/session/refresh") && r.status() === 401);
  if (r.status() >= 400 && !expected) {
    problems.push(`HTTP ${r.status()}: ${r.url()}`);
  }
});
// Every control of the page is reached by the Tab key (keyboard navigation, no mouse).
const keyboardReach = async (name) => {
  // A live page may re-render part of itself mid-walk (the tags go with the old elements): the
  // walk is tried again then, up to three times; every try must reach every control.
  let total = 0;
  let seen = new Set();
  for (let attempt = 0; attempt < 3 && (total === 0 || seen.size < total); ++attempt) {
    total = await page.evaluate(() => {
      const sel = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), ' +
                  'select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';
      const list = [...document.querySelectorAll(sel)].filter((e) => e.getClientRects().length > 0);
      list.forEach((e, k) => e.setAttribute("data-kb", String(k)));
      document.activeElement?.blur?.();
      return list.length;
    });
    seen = new Set();
    for (let k = 0; k < total + 5 && seen.size < total; ++k) {
      await page.keyboard.press("Tab");
      const id = await page.evaluate(() => document.activeElement?.getAttribute("data-kb"));
      if (id !== null && id !== undefined) seen.add(id);
    }
  }
  check(total > 0 && seen.size === total, `${name}: every control (${seen.size} of ${total}) is reached by Tab`);
};
const shot = async (name, { keyboard = true } = {}) => {
  const blank = await page.evaluate(() => (document.getElementById("app")?.innerText ?? "").trim() === "");
  check(!blank, `${name}: the page is not blank`);
  if (keyboard) await keyboardReach(name);
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
};

try {
  // Sign-in: a wrong password is named, the right one opens the overview.
  await page.goto(base + "/");
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "Wrong user name or password" }).waitFor();
  check(true, "a wrong password is named");
  await shot("login");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  check(/pinned simulation/.test(await page.locator(".source").innerText()),
        "a fresh install opens on the pinned demo run and says so");

  // Overview: devices reporting, and values that move over time.
  const reportingCard = page.locator(".kpi").filter({ hasText: "Devices reporting" }).locator(".value");
  await page.waitForFunction(() => {
    const v = document.querySelector(".kpi .value")?.textContent ?? "";
    return /^([1-9]\d*) of \d+$/.test(v);
  }, null, { timeout: 40000 });
  const reporting = await reportingCard.innerText();
  check(Number(reporting.split(" ")[0]) >= 10, `devices reporting: ${reporting}`);
  const band = page.locator(".kpi").filter({ hasText: "Voltage band" }).locator(".value");
  check(/p\.u\./.test(await band.innerText()), `voltage band shown: ${await band.innerText()}`);
  // The charts are made once their history has loaded, which may be after the KPIs.
  const charts = await page
    .waitForFunction(() => document.querySelectorAll(".uplot").length === 2, null, { timeout: 20000 })
    .then(() => 2, () => page.evaluate(() => document.querySelectorAll(".uplot").length));
  check(charts === 2, `two live charts (${charts})`);
  // Live samples keep arriving: the charts gain points (one a second at most).
  const live = async () => Number((await page.locator("main").getAttribute("data-live")) ?? 0);
  const livePoints = await live();
  let moved = false;
  for (let k = 0; k < 60 && !moved; ++k) {
    await page.waitForTimeout(500);
    moved = (await live()) >= livePoints + 2;
  }
  check(moved, `the charts follow live samples (${livePoints} → ${await live()} points)`);
  // Power at the feeder head (sub-hv, on the transformer branch 2–3) and at the inverters, from
  // their samples; the losses at the state estimate.
  const kpi = (title) => page.locator(".kpi").filter({ has: page.getByRole("heading", { name: title, exact: true }) });
  await kpi("Feeder-head import").locator(".note").filter({ hasText: "1 of 1 head branch(es) metered" }).waitFor();
  check(/^\d+\.\d{3} MW$/.test(await kpi("Feeder-head import").locator(".value").innerText()),
        `feeder-head import: ${await kpi("Feeder-head import").locator(".value").innerText()}`);
  check(/2 reporting inverter/.test(await kpi("Generation (DER)").innerText()), "the two inverters' export is shown");
  check(/MW$/.test(await kpi("Load (with losses)").locator(".value").innerText()), "the load fed is shown");
  await kpi("Losses").locator(".note").filter({ hasText: "at the state estimate of" }).waitFor();
  check(/^\d+\.\d{3} MW$/.test(await kpi("Losses").locator(".value").innerText()),
        `losses from the state estimate (meters and the twin's pseudo-measurements): ${await kpi("Losses").locator(".value").innerText()}`);
  const freq = page.locator(".kpi").filter({ hasText: "Frequency" }).locator(".value");
  check(/Hz$/.test(await freq.innerText()), `the mean frequency is shown (${await freq.innerText()})`);
  await page.waitForTimeout(3000);  // a few live points on the charts
  await shot("overview");

  // The stream reconnects after a server restart, and the stale-data banner clears.
  restarting = true;
  await stopServer(server.child);
  const banner = page.getByRole("status").filter({ hasText: "Live data interrupted" });
  await banner.waitFor({ state: "visible", timeout: 15000 });
  check(true, "a stale-data banner while the server is away");
  server = startServer(new URL(base).port);
  await server.listening;
  await banner.waitFor({ state: "hidden", timeout: 60000 });
  restarting = false;
  check(true, "the stream reconnects after a restart and the banner clears");

  // Network: the demo twin's one-line diagram (registered at first start), metered buses coloured.
  await page.getByRole("link", { name: "Network" }).click();
  await page.getByRole("heading", { name: "Network" }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll("svg.oneline circle").length === 33);
  // By default every bus is coloured from the state estimate (13 meters and the twin's
  // pseudo-measurements); the measurements alone colour only the metered ones.
  await page.waitForFunction(() => document.querySelector("#colour-by")?.value === "estimate", null, { timeout: 20000 });
  check(await page.locator("svg.oneline circle.unknown").count() === 0, "the state estimate colours every bus");
  await page.locator('svg.oneline circle[data-bus="25"]').click();
  check(/\|V\| \(estimate\)\s*\d\.\d{4} p\.u\. ± 0\.\d{4} p\.u\. \(3σ\)/.test(await page.locator(".details").innerText()),
        "an unmetered bus shows its estimated |V| with its uncertainty");
  await page.getByLabel("Colour by").selectOption("measured");
  const coloured = await page.locator("svg.oneline circle.good, svg.oneline circle.warn, svg.oneline circle.bad").count();
  check(coloured >= 5, `metered buses are coloured from their devices (${coloured})`);
  check(await page.locator("svg.oneline circle.unknown").count() > 0, "unmetered buses are shown as unknown");
  await page.locator('svg.oneline circle[data-bus="19"]').click();
  check(/p\.u\./.test(await page.locator(".details").innerText()), "a metered bus shows its |V| in p.u.");
  // Its device's charts are a link away, and Back returns to the diagram.
  await page.locator(".details").getByRole("link", { name: "charts" }).first().click();
  await page.getByRole("heading", { name: "Monitoring" }).waitFor();
  check(page.url().includes("/monitoring?device=cust-A1-3"), `a bus's device opens its charts (${page.url()})`);
  await page.goBack();
  await page.waitForFunction(() => document.querySelectorAll("svg.oneline circle").length === 33);
  await page.locator('svg.oneline circle[data-bus="19"]').click();
  // The keyboard reaches the diagram: the arrow keys select buses, a bus offers its branches.
  await page.locator("svg.oneline").focus();
  await page.keyboard.press("ArrowRight");
  await page.locator(".details h2").filter({ hasText: /^Bus 20$/ }).waitFor();
  await page.getByRole("button", { name: /^Branch 20 – 21$/ }).focus();
  await page.keyboard.press("Enter");
  await page.locator(".details h2").filter({ hasText: /^Branch 20 – 21$/ }).waitFor();
  check(true, "the arrow keys select buses and a bus's branch buttons open them");
  await shot("network");

  // The state page: every bus of the demo twin with its uncertainty, branches, the bad-data test.
  await page.getByRole("link", { name: "State", exact: true }).click();
  await page.getByRole("heading", { name: "State", exact: true }).waitFor();
  await page.waitForFunction(() => document.querySelector("main")?.dataset.buses === "33", null, { timeout: 20000 });
  check(await page.locator("section[aria-label='Buses'] tbody tr").count() === 33, "the state page lists every bus");
  check(await page.locator("section[aria-label='Branches'] tbody tr").count() === 32, "and every branch");
  check(/χ² test/.test(await page.locator("section[aria-label='Bad data']").innerText()), "and says what the bad-data test found");
  await shot("state");

  // Analytics, a page per module: each model's latest result per device (and the network's),
  // and the model cards with their targets.
  await page.getByRole("link", { name: "Analytics", exact: true }).click();
  await page.getByRole("heading", { name: "Analytics: Real-time monitoring" }).waitFor();
  await page.waitForFunction(() => Number(document.querySelector("main")?.dataset.items ?? 0) >= 4,
                             null, { timeout: 30000 });
  check(await page.locator("details.model-card").count() === 4, "analytics: the four monitoring model cards");
  check(await page.locator("section[aria-label='Devices'] tbody tr").count() >= 1,
        "and the monitoring results of the demo's devices");
  await page.locator("details.model-card[data-model='voltage-anomaly'] summary").click();
  check(/targets met/.test(await page.locator("details.model-card[data-model='voltage-anomaly']").innerText()),
        "a card says which of its targets are met");
  await shot("analytics-monitoring");
  await page.getByRole("link", { name: "Energy flow" }).click();
  await page.getByRole("heading", { name: "Analytics: Energy flow" }).waitFor();
  await page.waitForFunction(
    () => document.querySelectorAll("section[aria-label='Network'] tr[data-model]").length >= 2,
    null, { timeout: 30000 });
  check(/kW/.test(await page.locator("section[aria-label='Network'] tr[data-model='energy-loss']").innerText()),
        "analytics: the network's losses from its state estimate");
  check(await page.locator("details.model-card").count() === 4, "and the four energy-flow cards");
  await shot("analytics-energy");
  for (const [link, heading] of [["Predictive maintenance", "Analytics: Predictive maintenance"],
                                 ["Decision support", "Analytics: Decision support"]]) {
    await page.getByRole("link", { name: link }).click();
    await page.getByRole("heading", { name: heading }).waitFor();
    await page.waitForFunction(() => Number(document.querySelector("main")?.dataset.cards ?? 0) === 4,
                               null, { timeout: 20000 });
    check(true, `${heading}: its four cards`);
    await shot(`analytics-${link.split(" ")[1].toLowerCase()}`);
  }

  // Grid studies on the demo model: power flow with a what-if change, N-1, a refused upload.
  await page.getByRole("link", { name: "Studies" }).click();
  await page.getByRole("heading", { name: "Grid studies" }).waitFor();
  await page.getByRole("cell", { name: "active" }).waitFor();
  await page.getByLabel("Scale every load ×").fill("1.2");
  await page.getByRole("button", { name: "Run power flow" }).click();
  await page.locator(".result").filter({ hasText: "Converged in" }).waitFor({ timeout: 30000 });
  check(true, "a power flow with a what-if change converges");
  const solved = "section[aria-label='Power flow'] svg.oneline";
  check(await page.locator(`${solved} circle.good, ${solved} circle.warn, ${solved} circle.bad`).count() === 33,
        "its results colour every bus of the diagram");
  await page.locator(`${solved} circle[data-bus="18"]`).click();
  check(/\|V\| \(power flow\)\s*0\.\d{4} p\.u\./.test(await page.locator("section[aria-label='Power flow'] .details").innerText()),
        "a bus shows its solved |V|");
  await page.getByRole("button", { name: "Run N-1" }).click();
  await page.locator(".result").filter({ hasText: "outages studied" }).waitFor({ timeout: 60000 });
  check(true, "N-1 runs on the model");
  await page.locator("#model-file").setInputFiles({
    name: "broken.m", mimeType: "text/plain",
    buffer: Buffer.from("function mpc = broken\nmpc.version = '2';\nmpc.baseMVA = 100;\nmpc.bus = [\n\t1\t3\tx;\n];\n"),
  });
  await page.getByRole("button", { name: "Upload" }).click();
  const uploadError = page.locator("section[aria-label='Model'] .error");
  await uploadError.filter({ hasText: /\S/ }).waitFor();
  check(/upload:\d+/.test(await uploadError.innerText()), `an upload error names its line (${await uploadError.innerText()})`);
  await shot("studies");
  // The network view colours the diagram by that power flow on request.
  await page.getByRole("link", { name: "Network" }).click();
  await page.getByLabel("Colour by").selectOption("study");
  await page.waitForFunction(() => document.querySelectorAll("svg.oneline circle.unknown").length === 0);
  check(/loads ×1\.2/.test(await page.getByLabel("Colour by").innerText()),
        "the network view colours every bus by the tab's power flow (loads ×1.2)");
  await shot("network-study");

  // Monitoring: a device's charts over the last hour, then live.
  await page.getByRole("link", { name: "Monitoring" }).click();
  await page.getByRole("heading", { name: "Monitoring" }).waitFor();
  await page.getByLabel("Device").selectOption("fdr1-head");
  await page.getByLabel("Time range").selectOption("3600");
  await page.waitForFunction(() => Number(document.querySelector("main")?.dataset.points ?? 0) > 0,
                             null, { timeout: 20000 });
  const before = Number(await page.locator("main").getAttribute("data-points"));
  check((await page.locator(".uplot").count()) === 7, "seven charts: V, I, P, Q, pf, f, THD");
  check(/Voltage \(V\)/.test(await page.locator(".uplot").first().innerText()), "units on the charts");
  let grew = false;
  for (let k = 0; k < 60 && !grew; ++k) {
    await page.waitForTimeout(500);
    grew = Number(await page.locator("main").getAttribute("data-points")) > before;
  }
  check(grew, `live samples are appended (${before} points before)`);
  check(page.url().includes("/monitoring?device=fdr1-head&range=3600"), "the page's URL names the device and the hour");
  check(await page.getByRole("button", { name: "Download CSV" }).count() === 1,
        "an admin may download the CSV");
  await shot("monitoring");

  // Simulator: a typed form from the catalogue; a backfill run starts, completes and is deleted.
  await page.getByRole("link", { name: "Simulator" }).click();
  await page.getByRole("heading", { name: "Simulator" }).waitFor();
  await page.getByLabel("Scenario").selectOption("voltage_sag");
  check(await page.locator(".params input").count() > 3, "the scenario's parameters are a form");
  await page.getByLabel("Mode").selectOption("backfill");
  await page.getByLabel("Duration (s)").fill("600");
  await page.getByRole("button", { name: "Start" }).click();
  const row = page.locator("tr").filter({ hasText: "voltage_sag" });
  await row.locator(".run-status").filter({ hasText: "completed" }).waitFor({ timeout: 120000 });
  check(true, "a backfill run completes and shows it");
  await shot("simulator");
  // A realtime run is started and stopped.
  await page.getByLabel("Scenario").selectOption("overload");
  await page.getByLabel("Mode").selectOption("realtime");
  await page.getByRole("button", { name: "Start" }).click();
  const realtimeRow = page.locator("tr").filter({ hasText: "overload" });
  await realtimeRow.locator(".run-status").filter({ hasText: "running" }).waitFor({ timeout: 20000 });
  await realtimeRow.getByRole("button", { name: "Stop" }).click();
  await realtimeRow.locator(".run-status").filter({ hasText: "stopped" }).waitFor({ timeout: 20000 });
  check(true, "a realtime run is started and stopped");
  await realtimeRow.getByRole("button", { name: "Delete" }).click();
  await realtimeRow.waitFor({ state: "detached", timeout: 20000 });
  // Switch the whole dashboard to the backfilled run, then back to the pinned demo run.
  const runId = (await row.locator("td").first().innerText()).trim();
  await page.getByRole("link", { name: "Overview" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  await page.getByLabel("Data source").focus();
  await page.getByLabel("Data source").selectOption(`sim:${runId}`);
  await page.locator(".source").filter({ hasText: `simulation ${runId} (voltage_sag, completed)` }).waitFor();
  check(true, "the source switch shows a backfilled run");
  // Its ground-truth labels are drawn on a device's charts.
  const labels = JSON.parse((await api("GET", `/api/simulator/runs/${runId}/labels?limit=1000`, adminToken)).body).items
    .filter((l) => l.event === "voltage_sag");
  check(labels.length > 0, `the run has event labels (${labels.length})`);
  if (labels.length) {
    await page.goto(`${base}/monitoring?device=${encodeURIComponent(labels[0].device)}&range=900`);
    await page.waitForFunction(() => Number(document.querySelector("main")?.dataset.labels ?? 0) > 0,
                               null, { timeout: 20000 });
    check(await page.locator("ul.labels li").filter({ hasText: "voltage_sag" }).count() > 0,
          "the sag's labels are listed and drawn as bands on the charts");
    check(await page.locator("ul.labels li").filter({ hasText: /^none/ }).count() === 0, "quiet intervals are not");
    await shot("monitoring-labels");
    await page.getByRole("link", { name: "Overview" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
  }
  await page.getByLabel("Data source").selectOption("");
  await page.locator(".source").filter({ hasText: "pinned simulation" }).waitFor();
  check(true, "and back to the pinned run");
  await page.getByRole("link", { name: "Simulator" }).click();
  await page.getByRole("heading", { name: "Simulator" }).waitFor();
  await row.getByRole("button", { name: "Delete" }).click();
  await row.waitFor({ state: "detached", timeout: 20000 });
  check(true, "the run is deleted");

  // Devices: the registry with status; markup in a name is text.
  await page.getByRole("link", { name: "Devices" }).click();
  await page.getByRole("heading", { name: "Devices" }).waitFor();
  check(await page.getByRole("cell", { name: xss, exact: true }).count() === 1,
        "markup in a device name is shown as text");
  check(await page.locator("table img").count() === 0, "no element was made from it");
  check(await page.locator("td.status.reporting").count() >= 10, "demo meters are reporting");
  // Register a device, edit it, and import samples for it from CSV (one bad line named).
  await page.locator("#dev-id").fill("web-1");
  await page.locator("#dev-name").fill("Web meter");
  await page.locator("#dev-site").fill("lab");
  await page.getByRole("button", { name: "Save device" }).click();
  await page.getByRole("cell", { name: "Web meter", exact: true }).waitFor();
  await page.locator("tr").filter({ hasText: "web-1" }).getByRole("button", { name: "Edit" }).click();
  await page.locator("#dev-name").fill("Web meter 2");
  await page.getByRole("button", { name: "Save device" }).click();
  await page.getByRole("cell", { name: "Web meter 2", exact: true }).waitFor();
  check(true, "a device is registered and edited");
  const nowIso = new Date(Date.now() - 5000).toISOString();
  const csv = "device,ts,va,vb,vc,ia,ib,ic,pa,pb,pc,qa,qb,qc,f\n" +
    `web-1,${nowIso},230,231,229,10,10,10,2200,2200,2200,300,300,300,50\n` +
    `web-1,${nowIso},230,231,229,10,10,10,2200,2200,2200,300,300,300,500\n`;
  await page.locator("#csv-file").setInputFiles({ name: "samples.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await page.getByRole("button", { name: "Import samples" }).click();
  await page.locator(".result").filter({ hasText: "accepted" }).waitFor();
  check(/1 accepted.*1 rejected/.test(await page.locator(".result").innerText()), `CSV import: ${await page.locator(".result").innerText()}`);
  check(/line 3/.test(await page.locator("section[aria-label='Import samples'] li").first().innerText()),
        "the rejected line is named");
  await shot("devices");

  // A network file's coordinates place the buses (y upwards).
  const placed = {
    format: "remhart-network", version: 1, name: "placed", base_mva: 10,
    buses: [{ id: 1, type: "ref", x: 0, y: 0 }, { id: 2, pd_mw: 1, x: 10, y: 0 }, { id: 3, pd_mw: 1, x: 10, y: 10 }],
    branches: [{ from: 1, to: 2, x_pu: 0.01 }, { from: 2, to: 3, x_pu: 0.01 }],
    generators: [{ bus: 1 }],
  };
  check((await api("POST", "/api/grid/networks?format=json", adminToken, placed)).status === 201, "a model with coordinates is uploaded");
  await page.getByRole("link", { name: "Network" }).click();
  await page.locator(".source").filter({ hasText: "drawn at the network file's coordinates" }).waitFor();
  const xy = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll("svg.oneline circle")].map(
    (c) => [c.getAttribute("data-bus"), [Number(c.getAttribute("cx")), Number(c.getAttribute("cy"))]])));
  check(xy[2][0] > xy[1][0] && xy[2][1] === xy[1][1] && xy[3][0] === xy[2][0] && xy[3][1] < xy[2][1],
        `buses drawn at the file's coordinates (${JSON.stringify(xy)})`);
  await shot("network-coordinates");
  await page.getByRole("link", { name: "Devices" }).click();
  await page.getByRole("heading", { name: "Devices" }).waitFor();

  // A large meshed model stays responsive: case2869pegase drawn (when ../shared is there).
  const matpower = process.env.REMHART_MATPOWER_DIR ??
                   join(resolve(webDir, "..", "..", ".."), "shared", "data", "matpower");
  const pegase = join(matpower, "case2869pegase.m");
  if (existsSync(pegase)) {
    const up = await fetch(base + "/api/grid/networks?name=pegase", {
      method: "POST",
      headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "text/plain" },
      body: readFileSync(pegase, "utf8"),
    });
    check(up.status === 201, "case2869pegase uploaded");
    await page.getByRole("link", { name: "Network" }).click();
    await page.waitForFunction(() => document.querySelectorAll("svg.oneline circle").length === 2869,
                               null, { timeout: 20000 });
    const ms = Number(await page.locator("main").getAttribute("data-drawn-ms"));
    check(ms < 5000, `case2869pegase drawn in ${ms} ms`);
    await shot("network-pegase");
    await page.getByRole("link", { name: "Devices" }).click();
    await page.getByRole("heading", { name: "Devices" }).waitFor();
  }

  // Admin: create a user and a device key (its secret shown once), the audit log, the settings.
  await page.getByRole("link", { name: "Admin", exact: true }).click();
  await page.getByRole("heading", { name: "Admin" }).waitFor();
  await page.getByLabel("User name", { exact: true }).fill("olga");
  await page.locator("#new-password").fill(randomBytes(12).toString("hex"));
  await page.locator("#new-role").selectOption("operator");
  await page.getByRole("button", { name: "Create user" }).click();
  await page.getByRole("cell", { name: "olga", exact: true }).waitFor();
  check(true, "a user is created from the admin page");
  await page.locator("#key-name").fill("gateway-north");
  await page.getByRole("button", { name: "Create key" }).click();
  await page.locator(".secret code").waitFor();
  check(/^rdk_/.test(await page.locator(".secret code").innerText()), "a new device key is shown once");
  await page.locator("section[aria-label='Audit log'] tbody tr").first().waitFor();
  check(await page.locator("section[aria-label='Audit log'] tbody tr").count() > 0, "the audit log has rows");
  await page.getByRole("cell", { name: "server.port", exact: true }).waitFor();
  check(true, "the settings are listed");
  await shot("admin");

  // The API reference: Swagger UI (shipped in the build, under the strict CSP) renders every route
  // of /api/openapi.json, and "Try it out" runs as the signed-in user.
  const routes = Object.values(JSON.parse((await api("GET", "/api/openapi.json", adminToken)).body).paths)
    .reduce((n, ops) => n + Object.keys(ops).length, 0);
  await page.getByRole("link", { name: "API" }).click();
  await page.getByRole("heading", { name: "API reference" }).waitFor();
  await page.waitForFunction((n) => document.querySelectorAll(".opblock").length === n, routes, { timeout: 20000 });
  check(true, `the API reference lists all ${routes} operations`);
  const me = page.locator(".opblock").filter({ hasText: "/api/auth/me" }).first();
  await me.locator(".opblock-summary").click();
  await me.getByRole("button", { name: "Try it out" }).click();
  await me.getByRole("button", { name: "Execute" }).click();
  await me.locator(".response .response-col_status").filter({ hasText: "200" }).first().waitFor();
  check(true, "Try it out calls the API as the signed-in user");
  await shot("docs", { keyboard: false });  // Swagger UI's own controls

  // A viewer is offered no action it may not take (the server enforces it anyway).
  const viewerPassword = randomBytes(12).toString("hex");
  check((await api("POST", "/api/users", adminToken,
                   { username: "vera", password: viewerPassword, role: "viewer" })).status === 201,
        "a viewer account is created");
  const viewerContext = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const viewer = await viewerContext.newPage();
  viewer.on("pageerror", (e) => problems.push("viewer page error: " + e.message));
  await viewer.goto(base + "/simulator");
  await viewer.getByLabel("User name").fill("vera");
  await viewer.getByLabel("Password").fill(viewerPassword);
  await viewer.getByRole("button", { name: "Sign in" }).click();
  await viewer.getByRole("heading", { name: "Simulator" }).waitFor();
  check(await viewer.getByRole("button", { name: "Start" }).count() === 0, "a viewer has no Start button");
  check(await viewer.getByRole("link", { name: "Admin", exact: true }).count() === 0, "a viewer has no Admin page");
  check(await viewer.getByRole("button", { name: "Delete" }).count() === 0, "a viewer has no Delete buttons");
  await viewer.goto(base + "/monitoring");
  await viewer.getByRole("heading", { name: "Monitoring" }).waitFor();
  check(await viewer.getByRole("button", { name: "Download CSV" }).count() === 0,
        "a viewer may not export data");
  // Every user changes their own password from the account page (the user name in the bar).
  await viewer.getByRole("link", { name: "vera (viewer)" }).click();
  await viewer.getByRole("heading", { name: "Account" }).waitFor();
  const newViewerPassword = randomBytes(12).toString("hex");
  await viewer.getByLabel("Current password").fill("not-my-password");
  await viewer.getByLabel("New password", { exact: true }).fill(newViewerPassword);
  await viewer.getByLabel("Repeat the new password").fill(newViewerPassword);
  await viewer.getByRole("button", { name: "Change password" }).click();
  await viewer.getByRole("alert").filter({ hasText: "current password is wrong" }).waitFor();
  check(true, "a wrong current password is named");
  await viewer.getByLabel("Current password").fill(viewerPassword);
  await viewer.getByRole("button", { name: "Change password" }).click();
  await viewer.getByRole("status").filter({ hasText: "Password changed" }).waitFor();
  await viewer.reload();
  await viewer.getByRole("heading", { name: "Account" }).waitFor();
  check(true, "the password is changed and the session continues across a reload");
  check((await api("POST", "/api/auth/login", "", { username: "vera", password: newViewerPassword })).status === 200,
        "the new password signs in");
  await viewer.screenshot({ path: join(artifacts, "account.png"), fullPage: true });
  await viewerContext.close();

  // Every page has its URL, and a reload keeps the session (from its HttpOnly cookie, which no
  // script can read).
  await page.getByRole("link", { name: "Devices" }).click();
  await page.getByRole("heading", { name: "Devices" }).waitFor();
  await page.reload();
  await page.getByRole("heading", { name: "Devices" }).waitFor();
  check(true, "a reload keeps the session and the page");
  check(!(await page.evaluate(() => document.cookie)).includes("remhart_refresh"),
        "the refresh token is not readable by scripts");

  // Sign-out ends the session: a reload asks to sign in.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  await page.reload();
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  check(true, "after sign-out a reload asks to sign in");
} catch (e) {
  failures.push(String(e));
  await page.screenshot({ path: join(artifacts, "failure.png") }).catch(() => {});
} finally {
  await browser.close();
  await stopServer(server.child);
  rmSync(dataDir, { recursive: true, force: true });
}
for (const p of problems) failures.push(p);
if (failures.length) {
  console.error("\n" + failures.join("\n"));
  process.exit(1);
}
console.log("all browser checks passed");
