// Monitoring: one device's 3-phase quantities over a chosen range — history from
// /api/grid/series (at most ~2,000 buckets, so a month stays fast), then live samples appended
// when the range ends now. Units on every axis, times in the browser's zone; roles that may
// export data get the CSV of what is shown.
import type uPlot from "uplot";
import { request, session } from "../api";
import { timeChart } from "../chart";
import { activeSource, devices } from "../data";
import { el, localTime } from "../dom";
import { LiveStream, type Sample } from "../live";

interface Group {
  title: string;
  unit: string;
  fields: string[];
  labels: string[];
  scale: number;  // stored unit → shown unit
}

const kGroups: Group[] = [
  { title: "Voltage", unit: "V", fields: ["va", "vb", "vc"], labels: ["A", "B", "C"], scale: 1 },
  { title: "Current", unit: "A", fields: ["ia", "ib", "ic"], labels: ["A", "B", "C"], scale: 1 },
  { title: "Active power", unit: "kW", fields: ["pa", "pb", "pc"], labels: ["A", "B", "C"], scale: 1e-3 },
  { title: "Reactive power", unit: "kvar", fields: ["qa", "qb", "qc"], labels: ["A", "B", "C"], scale: 1e-3 },
  { title: "Power factor", unit: "", fields: ["pf"], labels: ["pf"], scale: 1 },
  { title: "Frequency", unit: "Hz", fields: ["f"], labels: ["f"], scale: 1 },
  { title: "Voltage THD", unit: "%", fields: ["thd_va", "thd_vb", "thd_vc"], labels: ["A", "B", "C"], scale: 1 },
];
const kFields = kGroups.flatMap((g) => g.fields);
const kRanges: [string, number][] = [
  ["Last 15 min", 900], ["Last hour", 3600], ["Last 6 hours", 21600], ["Last 24 hours", 86400],
  ["Last 7 days", 604800], ["Last 30 days", 2592000],
];

/// A live sample's values in kFields order (stored units).
function sampleValues(s: Sample & { thd_v?: (number | null)[] }): (number | null)[] {
  const thd = s.thd_v ?? [null, null, null];
  return [...s.v, ...s.i, ...s.p, ...s.q, s.pf, s.f, ...thd];
}

export async function monitoringPage(root: HTMLElement, setStale: (stale: boolean) => void) {
  const source = await activeSource();
  const registry = await devices();
  const params = new URLSearchParams(location.search);
  const ids = [...registry.keys()].sort();
  const deviceSelect = el("select", { id: "device", "aria-label": "Device" },
    ...ids.map((id) => el("option", { value: id }, `${id} — ${registry.get(id)!.name}`)));
  deviceSelect.value = params.get("device") ?? ids[0] ?? "";
  const rangeSelect = el("select", { id: "range", "aria-label": "Time range" },
    ...kRanges.map(([label, s]) => el("option", { value: String(s) }, label)),
    el("option", { value: "absolute" }, "From … to …"));
  rangeSelect.value = params.get("range") ?? "900";
  const fromInput = el("input", { type: "datetime-local", "aria-label": "From" });
  const toInput = el("input", { type: "datetime-local", "aria-label": "To" });
  const csv = el("button", { type: "button" }, "Download CSV");
  const canExport = session().user?.role !== "viewer";
  const status = el("p", { class: "source" });
  const charts = el("section", { class: "charts" });
  // Ground truth of a simulated source: label intervals drawn as bands behind every chart.
  let bands: { from: number; to: number; event: string; severity: string }[] = [];
  const labelList = el("ul", { class: "labels" });
  const bandPlugin: uPlot.Plugin = {
    hooks: {
      drawClear: [(u: uPlot) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.fillStyle = "rgba(192, 57, 43, 0.15)";
        for (const b of bands) {
          const x0 = u.valToPos(b.from, "x", true), x1 = u.valToPos(Math.max(b.to, b.from + 1), "x", true);
          ctx.fillRect(x0, u.bbox.top, Math.max(2, x1 - x0), u.bbox.height);
        }
        ctx.restore();
      }],
    },
  };
  root.append(
    el("h1", {}, "Monitoring"),
    el("p", { class: "source" }, "Data source: ", el("strong", {}, source.label)),
    el("div", { class: "controls" }, deviceSelect, rangeSelect, fromInput, toInput,
       canExport ? csv : null),
    status, labelList, charts);

  let plots: uPlot[] = [];
  let t: number[] = [];
  let columns: (number | null)[][] = [];
  let stream: LiveStream | null = null;
  let liveWindowS: number | null = null;

  const draw = () => {
    for (const p of plots) p.destroy();
    plots = [];
    charts.replaceChildren();
    let offset = 0;
    for (const g of kGroups) {
      const cols = columns.slice(offset, offset + g.fields.length)
        .map((c) => c.map((v) => (v === null ? null : v * g.scale)));
      offset += g.fields.length;
      plots.push(timeChart({
        title: g.title, unit: g.unit, labels: g.labels,
        width: Math.max(320, Math.min(charts.clientWidth || 900, 1200)),
        plugins: [bandPlugin],
      }, [t, ...cols] as uPlot.AlignedData, charts));
    }
    root.dataset.points = String(t.length);
  };

  const load = async () => {
    const absolute = rangeSelect.value === "absolute";
    fromInput.hidden = !absolute;
    toInput.hidden = !absolute;
    stream?.close();
    stream = null;
    const device = deviceSelect.value;
    if (!device) return;
    let from: number, to: number;
    if (rangeSelect.value === "absolute") {
      from = Date.parse(fromInput.value);
      to = Date.parse(toInput.value);
      if (!Number.isFinite(from) || !Number.isFinite(to) || from >= to) {
        status.textContent = "Choose a start before the end.";
        return;
      }
      liveWindowS = null;
    } else {
      liveWindowS = Number(rangeSelect.value);
      to = Date.now();
      from = to - liveWindowS * 1000;
    }
    history.replaceState(null, "", `/monitoring?device=${encodeURIComponent(device)}&range=${rangeSelect.value}`);
    const s = await request<{ step: number; points: (string | number | null)[][] }>("GET",
      `/api/grid/series?device=${encodeURIComponent(device)}&origin=${encodeURIComponent(source.origin)}` +
      `&from=${Math.floor(from)}&to=${Math.floor(to)}&fields=${kFields.join(",")}`);
    bands = [];
    labelList.replaceChildren();
    if (source.origin.startsWith("sim:")) {
      const labels = await request<{ items: { from: string; to: string; event: string; severity: string; data_fault: string }[] }>(
        "GET", `/api/simulator/runs/${encodeURIComponent(source.origin.slice(4))}/labels?device=${
          encodeURIComponent(device)}&from=${Math.floor(from)}&to=${Math.floor(to)}&limit=1000`);
      const quiet = (v: string) => !v || v === "none" || v === "normal";
      const events = labels.items.filter((l) => !quiet(l.event) || !quiet(l.data_fault));
      bands = events.map((l) => ({ from: Date.parse(l.from) / 1000, to: Date.parse(l.to) / 1000,
                                   event: l.event, severity: l.severity }));
      labelList.replaceChildren(...events.slice(0, 50).map((l) => el("li", {},
        `${quiet(l.event) ? `data fault: ${l.data_fault}` : l.event} (${l.severity}): ${localTime(l.from)} – ${localTime(l.to)}`)));
      root.dataset.labels = String(events.length);
    }
    t = s.points.map((p) => Date.parse(p[0] as string) / 1000);
    columns = kFields.map((_, k) => s.points.map((p) => p[k + 1] as number | null));
    status.textContent = `${t.length} points, ${s.step} s each (averages)` +
      (liveWindowS ? "; live samples are added as they come" : "");
    draw();
    if (liveWindowS === null) return;
    // Live samples are averaged into the series' buckets (`step` seconds, aligned to the epoch,
    // like the stored part): a fast device adds one point a step, whatever its sample rate.
    const step = s.step;
    let counts: number[] | null = null;  // values averaged into the last point, per column; null: a stored bucket
    stream = new LiveStream(source.origin, (samples) => {
      let added = false;
      for (const smp of samples) {
        if (smp.device !== device) continue;
        const bucket = Math.floor(Date.parse(smp.ts) / 1000 / step) * step;
        const last = t.length - 1;
        if (last >= 0 && bucket < t[last]) continue;
        const values = sampleValues(smp);
        if (last >= 0 && bucket === t[last]) {
          if (!counts) continue;  // the stored average already covers it
          values.forEach((v, k) => {
            if (v === null) return;
            const n = ++counts![k];
            const mean = columns[k][last];
            columns[k][last] = mean === null ? v : mean + (v - mean) / n;
          });
        } else {
          t.push(bucket);
          values.forEach((v, k) => columns[k].push(v));
          counts = values.map((v) => (v === null ? 0 : 1));
        }
        added = true;
      }
      if (!added) return;
      const cut = t[t.length - 1] - liveWindowS!;
      let drop = 0;
      while (drop < t.length && t[drop] < cut) ++drop;
      if (drop) {
        t.splice(0, drop);
        for (const c of columns) c.splice(0, drop);
      }
      let offset = 0;
      plots.forEach((p, gi) => {
        const g = kGroups[gi];
        const cols = columns.slice(offset, offset + g.fields.length)
          .map((c) => c.map((v) => (v === null ? null : v * g.scale)));
        offset += g.fields.length;
        p.setData([t, ...cols] as uPlot.AlignedData);
      });
      root.dataset.points = String(t.length);
    }, (live) => setStale(!live), { devices: [device] });
  };

  csv.addEventListener("click", () => {
    const header = ["time", ...kGroups.flatMap((g) =>
      g.fields.map((f) => (g.unit ? `${f} (${g.unit})` : f)))];
    const scales = kGroups.flatMap((g) => g.fields.map(() => g.scale));
    const lines = [header.join(",")];
    t.forEach((ts, i) => {
      lines.push([new Date(ts * 1000).toISOString(),
        ...columns.map((c, k) => (c[i] === null ? "" : String((c[i] as number) * scales[k])))].join(","));
    });
    const url = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
    const a = el("a", { href: url, download: `${deviceSelect.value}.csv` });
    a.click();
    URL.revokeObjectURL(url);
  });
  for (const control of [deviceSelect, rangeSelect, fromInput, toInput]) {
    control.addEventListener("change", () => void load().catch((e) => (status.textContent = String(e))));
  }
  await load();
  return () => {
    stream?.close();
    for (const p of plots) p.destroy();
  };
}
