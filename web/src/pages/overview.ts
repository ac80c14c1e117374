// Overview: the data source, KPI cards computed from the newest samples, and live charts of the
// mean frequency and the voltage band, appended as samples arrive.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { ApiError, request } from "../api";
import { axis } from "../chart";
import { activeSource, devices, feederHeads, kpis, latest, powerKpis, type Device, type HeadMeter } from "../data";
import type { Model } from "../oneline";
import { el, fmt, kpiCard } from "../dom";
import { LiveStream, type Sample } from "../live";

export async function overviewPage(root: HTMLElement, setStale: (stale: boolean) => void) {
  const source = await activeSource();
  const registry = await devices();
  const newest = await latest(source.origin);

  const cards = el("section", { class: "cards", "aria-label": "Key figures" });
  const sourceLine = el("p", { class: "source" }, "Data source: ", el("strong", {}, source.label));
  const charts = el("section", { class: "charts" });
  root.append(el("h1", {}, "Overview"), sourceLine, cards, charts);

  // Known once the model is read (after the first render): the feeder heads, and the losses of
  // the latest state estimate (or why there is none).
  let heads: Map<string, HeadMeter[]> | null = null;
  let losses: { mw: number | null; note: string } = { mw: null, note: "from a state estimate: pending" };
  const render = () => {
    const k = kpis(newest, registry);
    const silent = k.known - k.reporting;
    const pk = heads ? powerKpis(newest, registry, heads) : null;
    const headNote = !heads ? "reading the network model…"
      : !heads.size ? "no device on a branch of the model"
      : `${pk!.headsMetered} of ${pk!.heads} head branch(es) metered; ${fmt(pk!.headMvar, 3, "Mvar")}, |V| ${fmt(pk!.headVPu, 3, "p.u.")}`;
    const demand = pk && pk.headMw !== null && pk.headsMetered === pk.heads ? pk.headMw + (pk.derMw ?? 0) : null;
    cards.replaceChildren(
      kpiCard("Devices reporting", `${k.reporting} of ${k.known}`,
           `${silent} silent (no sample in the last 60 s)`),
      kpiCard("Feeder-head import", fmt(pk?.headMw, 3, "MW"), headNote),
      kpiCard("Load (with losses)", fmt(demand, 3, "MW"),
           "feeder-head import plus the inverters' export; needs every head metered"),
      kpiCard("Generation (DER)", fmt(pk?.derMw, 3, "MW"),
           pk ? `net export of ${pk.inverters} reporting inverter(s), their buses' loads netted` : ""),
      kpiCard("Losses", fmt(losses.mw, 3, "MW"), losses.note),
      kpiCard("Frequency", fmt(k.frequencyHz, 3, "Hz"), "mean of reporting devices"),
      kpiCard("Voltage band", k.vMinPu === null ? "—" : `${fmt(k.vMinPu, 3)} – ${fmt(k.vMaxPu, 3)} p.u.`,
           "lowest and highest device |V|, per unit of nominal"),
    );
  };
  render();
  performance.mark("overview-first-data");  // the dashboard benchmark's end point
  void request<Model>("GET", "/api/grid/network").then((model) => {
    heads = feederHeads(model, registry);
    render();
  }, () => { heads = new Map(); render(); });
  // The losses of the network at the latest state estimate from the source's devices.
  const estimate = async () => {
    try {
      const st = await request<{ losses_mw?: number; converged: boolean; time_ms: number }>(
        "GET", "/api/grid/state?origin=" + encodeURIComponent(source.origin));
      losses = st.converged && st.losses_mw !== undefined
        ? { mw: st.losses_mw, note: `at the state estimate of ${new Date().toLocaleTimeString()}` }
        : { mw: null, note: "the state estimate did not converge" };
    } catch (e) {
      if (!(e instanceof ApiError) || e.status === 429) return;  // busy: keep the last figure
      losses = { mw: null, note: `unknown: ${e.message}` };
    }
    render();
  };
  void estimate();

  // Live charts: the last 15 minutes from the stored series (10 s buckets), then one point a
  // second at most from the samples on screen.
  const windowS = 900;
  const [t, f, vmin, vmax] = await history(source.origin, [...newest.keys()], registry, windowS);
  const width = () => Math.max(320, Math.min(charts.clientWidth || 640, 900));
  // The last 15 minutes up to the newest point (or now, before there is one).
  const xScale: uPlot.Scale = {
    time: true,
    range: (_u, _min, max) => {
      const end = Number.isFinite(max) && max !== null ? max : Date.now() / 1000;
      return [end - windowS, end];
    },
  };
  const around = (pad: number): uPlot.Scale["range"] => (_u, min, max) =>
    min === null || max === null ? [0, 1] : [min - pad, max + pad];
  const fChart = new uPlot(
    { title: "Mean frequency", width: width(), height: 220,
      scales: { x: xScale, y: { range: around(0.02) } },
      series: [{}, { label: "f (Hz)", stroke: "#2b7bb9", spanGaps: true }],
      axes: [axis(""), axis("Hz")] },
    [t, f],
    charts,
  );
  const vChart = new uPlot(
    { title: "Voltage band", width: width(), height: 220,
      scales: { x: xScale, y: { range: around(0.005) } },
      series: [{}, { label: "lowest (p.u.)", stroke: "#c0392b", spanGaps: true },
               { label: "highest (p.u.)", stroke: "#27ae60", spanGaps: true }],
      axes: [axis(""), axis("p.u.")] },
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
    while (t.length && t[0] < now / 1000 - windowS) {
      t.shift(); f.shift(); vmin.shift(); vmax.shift();
    }
    fChart.setData([t, f]);
    vChart.setData([t, vmin, vmax]);
    root.dataset.live = String(++livePoints);
  };
  let livePoints = 0;
  append();

  const stream = new LiveStream(
    source.origin,
    (samples: Sample[]) => {
      for (const s of samples) newest.set(s.device, s);
      render();
      append();
    },
    (live) => setStale(!live),
    { maxRateHz: 1 },  // the cards and charts move once a second at most
  );
  const tick = window.setInterval(render, 5000);  // a silent device turns silent without new data
  const estimates = window.setInterval(() => void estimate(), 30000);
  return () => {
    stream.close();
    window.clearInterval(tick);
    window.clearInterval(estimates);
    fChart.destroy();
    vChart.destroy();
  };
}

// The stored past of the KPIs: every device's v_avg and f series over the window, combined per
// bucket (the mean frequency, the lowest and highest |V| in p.u.).
async function history(origin: string, ids: string[], registry: Map<string, Device>, windowS: number) {
  const to = Date.now();
  const from = to - windowS * 1000;
  type Series = { points: [string, number | null, number | null][] };
  const all = await Promise.all(ids.slice(0, 100).map((id) =>
    request<Series>("GET", `/api/grid/series?device=${encodeURIComponent(id)}&origin=${
      encodeURIComponent(origin)}&from=${from}&to=${to}&step=10s&fields=v_avg,f`)
      .then((s) => ({ id, s }))));
  const buckets = new Map<number, { fSum: number; fN: number; vMin: number | null; vMax: number | null }>();
  for (const { id, s } of all) {
    const nominal = registry.get(id)?.nominal_voltage ?? 0;
    for (const [ts, v, fr] of s.points) {
      const key = Date.parse(ts) / 1000;
      const b = buckets.get(key) ?? { fSum: 0, fN: 0, vMin: null, vMax: null };
      if (fr !== null) { b.fSum += fr; b.fN++; }
      if (v !== null && nominal > 0) {
        const pu = v / nominal;
        b.vMin = b.vMin === null ? pu : Math.min(b.vMin, pu);
        b.vMax = b.vMax === null ? pu : Math.max(b.vMax, pu);
      }
      buckets.set(key, b);
    }
  }
  const keys = [...buckets.keys()].sort((a, b) => a - b);
  return [
    keys,
    keys.map((k) => { const b = buckets.get(k)!; return b.fN ? b.fSum / b.fN : null; }),
    keys.map((k) => buckets.get(k)!.vMin),
    keys.map((k) => buckets.get(k)!.vMax),
  ] as [number[], (number | null)[], (number | null)[], (number | null)[]];
}
