// The chart-pan benchmark page (built by web/bench/dashboard.mjs, not shipped): the dashboard's
// own chart (src/chart.ts, as the monitoring page draws it) with 100,000 points of three phases,
// panned by script one step per animation frame over half of the data; the page records every
// frame's requestAnimationFrame delta in `window.frames_ms`, and the chart's redraw time in
// `window.draw_ms`.
import { timeChart } from "../../src/chart";

declare global {
  interface Window { frames_ms: number[]; draw_ms: number[]; done: boolean }
}

const n = 100_000;
const t = new Float64Array(n), a = new Float64Array(n), b = new Float64Array(n), c = new Float64Array(n);
const t0 = Date.UTC(2026, 0, 1) / 1000;
for (let k = 0; k < n; ++k) {
  t[k] = t0 + k;  // one sample a second: 27.8 hours
  const day = Math.sin((2 * Math.PI * k) / 86400);
  a[k] = 230 + 4 * day + 1.5 * Math.sin(k / 7.3);
  b[k] = 229 + 4 * day + 1.5 * Math.sin(k / 5.1);
  c[k] = 231 + 4 * day + 1.5 * Math.sin(k / 3.7);
}
const chart = timeChart({ title: "Voltage", unit: "V", labels: ["A", "B", "C"], width: 1200, height: 300 },
                        [Array.from(t), Array.from(a), Array.from(b), Array.from(c)], document.getElementById("chart")!);

// Pan: a window of half the points moves across the other half in `steps` frames.
const steps = Number(new URLSearchParams(location.search).get("steps") ?? 240);
const span = (n / 2) | 0;
window.frames_ms = [];
window.draw_ms = [];  // setScale to the redraw's end (uPlot redraws in a microtask)
window.done = false;
let k = 0, last = 0;
const frame = (now: number) => {
  if (last) window.frames_ms.push(now - last);
  last = now;
  if (k > steps) { window.done = true; return; }
  const start = Math.round((k / steps) * (n - span - 1));
  const before = performance.now();
  chart.setScale("x", { min: t[start], max: t[start + span] });
  queueMicrotask(() => window.draw_ms.push(performance.now() - before));
  ++k;
  requestAnimationFrame(frame);
};
requestAnimationFrame(frame);
