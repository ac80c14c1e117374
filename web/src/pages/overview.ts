// Overview: the data source, KPI cards computed from the newest samples, and live charts of the
// mean frequency and the voltage band, appended as samples arrive.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { activeSource, devices, kpis, latest } from "../data";
import { el, fmt } from "../dom";
import { LiveStream, type Sample } from "../live";

export async function overviewPage(root: HTMLElement, setStale: (stale: boolean) => void) {
  const source = await activeSource();
  const registry = await devices();
  const newest = await latest(source.origin);

  const cards = el("section", { class: "cards", "aria-label": "Key figures" });
  const sourceLine = el("p", { class: "source" }, "Data source: ", el("strong", {}, source.label));
  const charts = el("section", { class: "charts" });
  root.append(el("h1", {}, "Overview"), sourceLine, cards, charts);

  const card = (title: string, value: string, note = "") =>
    el("div", { class: "card kpi" }, el("h2", {}, title), el("p", { class: "value" }, value),
       note ? el("p", { class: "note" }, note) : null);
  const render = () => {
    const k = kpis(newest, registry);
    cards.replaceChildren(
      card("Devices reporting", `${k.reporting} of ${k.known}`, "a sample in the last 60 s"),
      card("Frequency", fmt(k.frequencyHz, 3, "Hz"), "mean of reporting devices"),
      card("Voltage band", k.vMinPu === null ? "—" : `${fmt(k.vMinPu, 3)} – ${fmt(k.vMaxPu, 3)} p.u.`,
           "lowest and highest device |V|, per unit of nominal"),
    );
  };
  render();

  // Live charts: one point a second at most, from the samples on screen.
  const t: number[] = [], f: (number | null)[] = [], vmin: (number | null)[] = [], vmax: (number | null)[] = [];
  const width = () => Math.max(320, Math.min(charts.clientWidth || 640, 900));
  const fChart = new uPlot(
    { title: "Mean frequency", width: width(), height: 220,
      series: [{}, { label: "f (Hz)", stroke: "#2b7bb9" }],
      axes: [{}, { label: "Hz" }] },
    [t, f],
    charts,
  );
  const vChart = new uPlot(
    { title: "Voltage band", width: width(), height: 220,
      series: [{}, { label: "lowest (p.u.)", stroke: "#c0392b" }, { label: "highest (p.u.)", stroke: "#27ae60" }],
      axes: [{}, { label: "p.u." }] },
    [t, vmin, vmax],
    charts,
  );
  let lastPoint = 0;
  const append = () => {
    const now = Date.now();
    if (now - lastPoint < 1000) return;
    lastPoint = now;
    const k = kpis(newest, registry);
    t.push(now / 1000);
    f.push(k.frequencyHz);
    vmin.push(k.vMinPu);
    vmax.push(k.vMaxPu);
    while (t.length && t[0] < now / 1000 - 900) {
      t.shift(); f.shift(); vmin.shift(); vmax.shift();
    }
    fChart.setData([t, f]);
    vChart.setData([t, vmin, vmax]);
  };
  append();

  const stream = new LiveStream(
    source.origin,
    (samples: Sample[]) => {
      for (const s of samples) newest.set(s.device, s);
      render();
      append();
    },
    (live) => setStale(!live),
  );
  const tick = window.setInterval(render, 5000);  // a silent device turns silent without new data
  return () => {
    stream.close();
    window.clearInterval(tick);
    fChart.destroy();
    vChart.destroy();
  };
}
