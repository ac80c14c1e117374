// Network view: a one-line diagram of the active model in SVG. Laid out as a tree from the
// reference bus (breadth-first depth → column, subtrees kept together → rows), which is exact
// for radial feeders and a layered drawing for meshed networks (the edges off the tree are drawn
// too). Buses and branches with a device on them are coloured from its newest sample (|V| in
// p.u. of the device's nominal, loading = current / rated current); everything else is shown as
// unknown — never a guessed value. Click an element for its details; wheel zooms, drag pans.
import { request } from "../api";
import { activeSource, devices, latest, reporting, type Device } from "../data";
import { el, fmt, localTime } from "../dom";
import { LiveStream, type Sample } from "../live";

interface Bus { id: number; name?: string; type: string; pd_mw: number; qd_mvar: number; base_kv: number }
interface Branch { from: number; to: number; r_pu: number; x_pu: number; rate_a_mva: number; in_service: boolean; ratio: number }
interface Model { name: string; buses: Bus[]; branches: Branch[] }

const SVG = "http://www.w3.org/2000/svg";
const svg = <K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>) => {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
};

/// Row and column of every bus: a tidy tree of the breadth-first spanning tree.
export function layout(model: Model): Map<number, { x: number; y: number }> {
  const adj = new Map<number, number[]>();
  for (const b of model.buses) adj.set(b.id, []);
  for (const br of model.branches) {
    adj.get(br.from)?.push(br.to);
    adj.get(br.to)?.push(br.from);
  }
  const children = new Map<number, number[]>();
  const depth = new Map<number, number>();
  const roots: number[] = [];
  const order = [...model.buses].sort((a, b) => Number(b.type === "ref") - Number(a.type === "ref"));
  for (const start of order) {
    if (depth.has(start.id)) continue;
    roots.push(start.id);
    depth.set(start.id, 0);
    const queue = [start.id];
    for (let q = 0; q < queue.length; ++q) {
      const u = queue[q];
      for (const w of adj.get(u) ?? []) {
        if (depth.has(w)) continue;
        depth.set(w, depth.get(u)! + 1);
        (children.get(u) ?? children.set(u, []).get(u)!).push(w);
        queue.push(w);
      }
    }
  }
  const pos = new Map<number, { x: number; y: number }>();
  let nextRow = 0;
  // Iterative post-order: leaves take the next rows, parents the middle of their children.
  for (const root of roots) {
    const stack: [number, boolean][] = [[root, false]];
    while (stack.length) {
      const [u, done] = stack.pop()!;
      const kids = children.get(u) ?? [];
      if (!done && kids.length) {
        stack.push([u, true]);
        for (let k = kids.length - 1; k >= 0; --k) stack.push([kids[k], false]);
        continue;
      }
      const y = kids.length ? (pos.get(kids[0])!.y + pos.get(kids[kids.length - 1])!.y) / 2 : nextRow++;
      pos.set(u, { x: depth.get(u)!, y });
    }
    nextRow += 1;  // a gap between islands
  }
  return pos;
}

function voltageClass(pu: number | null): string {
  if (pu === null) return "unknown";
  if (pu < 0.9 || pu > 1.1) return "bad";
  if (pu < 0.95 || pu > 1.05) return "warn";
  return "good";
}
function loadingClass(loading: number | null): string {
  if (loading === null) return "unknown";
  return loading > 1 ? "bad" : loading > 0.8 ? "warn" : "good";
}

export async function networkPage(root: HTMLElement, setStale: (stale: boolean) => void) {
  const t0 = performance.now();
  const [model, source, registry] = await Promise.all([
    request<Model>("GET", "/api/grid/network"), activeSource(), devices()]);
  const newest = await latest(source.origin);
  const pos = layout(model);
  let maxX = 0, maxY = 0;
  for (const p of pos.values()) { maxX = Math.max(maxX, p.x); maxY = Math.max(maxY, p.y); }
  // Columns spread so a deep, wide model keeps a landscape shape; marks sized to the drawing so
  // a model of thousands of buses still shows when all of it is in view (zoom for detail).
  const dy = 24;
  const dx = Math.max(60, (maxY * dy * 1.6) / Math.max(1, maxX));
  const radius = Math.max(6, (maxY * dy) / 400), margin = 3 * radius;
  const width = maxX * dx + 2 * margin, height = maxY * dy + 2 * margin;
  const at = (id: number) => { const p = pos.get(id)!; return [margin + p.x * dx, margin + p.y * dy]; };

  // Devices placed on the model, by element.
  const onBus = new Map<number, Device[]>(), onBranch = new Map<string, Device[]>();
  for (const d of registry.values()) {
    let m = /^bus:(-?\d+)$/.exec(d.element);
    if (m) (onBus.get(Number(m[1])) ?? onBus.set(Number(m[1]), []).get(Number(m[1]))!).push(d);
    m = /^branch:(-?\d+)-(-?\d+):(from|to)$/.exec(d.element);
    if (m) {
      const key = `${m[1]}-${m[2]}`;
      (onBranch.get(key) ?? onBranch.set(key, []).get(key)!).push(d);
      const end = Number(m[3] === "from" ? m[1] : m[2]);
      (onBus.get(end) ?? onBus.set(end, []).get(end)!).push(d);
    }
  }
  const fresh = (d: Device) => { const s = newest.get(d.id); return reporting(s) ? s : undefined; };
  const busVoltage = (id: number): number | null => {
    for (const d of onBus.get(id) ?? []) {
      const s = fresh(d);
      if (s?.v_avg != null && d.nominal_voltage > 0) return s.v_avg / d.nominal_voltage;
    }
    return null;
  };
  const branchLoading = (br: Branch): number | null => {
    for (const d of onBranch.get(`${br.from}-${br.to}`) ?? []) {
      const s = fresh(d);
      if (s?.i_avg != null && d.rated_current > 0) return s.i_avg / d.rated_current;
    }
    return null;
  };

  const drawing = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
                               "aria-label": `One-line diagram of ${model.name}` });
  drawing.classList.add("oneline");
  const lines = model.branches.map((br, k) => {
    const [x1, y1] = at(br.from), [x2, y2] = at(br.to);
    const line = svg("line", { x1, y1, x2, y2, "data-branch": k, tabindex: 0 });
    if (!br.in_service) line.classList.add("out");
    drawing.append(line);
    return line;
  });
  const circles = model.buses.map((b) => {
    const [cx, cy] = at(b.id);
    const c = svg("circle", { cx, cy, r: radius, "data-bus": b.id, tabindex: 0 });
    const title = svg("title", {});
    title.textContent = `bus ${b.id}`;
    c.append(title);
    drawing.append(c);
    return c;
  });
  const paint = () => {
    model.branches.forEach((br, k) => lines[k].setAttribute("class",
      "branch " + loadingClass(branchLoading(br)) + (br.in_service ? "" : " out")));
    model.buses.forEach((b, k) => circles[k].setAttribute("class",
      "bus " + voltageClass(busVoltage(b.id)) + (b.type === "ref" ? " ref" : "")));
  };
  paint();

  const details = el("aside", { class: "card details", "aria-live": "polite" },
    el("p", { class: "note" }, "Select a bus or a branch."));
  const deviceLines = (list: Device[]) => list.map((d) => {
    const s = newest.get(d.id);
    return el("li", {}, `${d.id}: `, s ? `|V| ${fmt(s.v_avg, 1, "V")}, I ${fmt(s.i_avg, 1, "A")}, P ${
      fmt(s.p_total === null ? null : s.p_total / 1000, 1, "kW")} at ${localTime(s.ts)}` : "no sample");
  });
  const showBus = (b: Bus) => {
    const v = busVoltage(b.id);
    details.replaceChildren(el("h2", {}, `Bus ${b.id}`), el("dl", {},
      el("dt", {}, "Type"), el("dd", {}, b.type),
      el("dt", {}, "Base voltage"), el("dd", {}, fmt(b.base_kv, 2, "kV")),
      el("dt", {}, "Load"), el("dd", {}, `${fmt(b.pd_mw, 3, "MW")}, ${fmt(b.qd_mvar, 3, "Mvar")}`),
      el("dt", {}, "|V| (metered)"), el("dd", {}, v === null ? "unknown: no device reporting here" : fmt(v, 3, "p.u."))),
      el("h3", {}, "Devices"), el("ul", {}, ...deviceLines(onBus.get(b.id) ?? [])));
  };
  const showBranch = (br: Branch) => {
    const l = branchLoading(br);
    details.replaceChildren(el("h2", {}, `Branch ${br.from} – ${br.to}`), el("dl", {},
      el("dt", {}, "Kind"), el("dd", {}, br.ratio ? "transformer" : "line"),
      el("dt", {}, "In service"), el("dd", {}, br.in_service ? "yes" : "no"),
      el("dt", {}, "Impedance"), el("dd", {}, `r ${fmt(br.r_pu, 4)} p.u., x ${fmt(br.x_pu, 4)} p.u.`),
      el("dt", {}, "Rating"), el("dd", {}, br.rate_a_mva ? fmt(br.rate_a_mva, 1, "MVA") : "unlimited"),
      el("dt", {}, "Loading (metered)"), el("dd", {}, l === null ? "unknown: no device reporting here" : fmt(l * 100, 0, "%"))),
      el("h3", {}, "Devices"), el("ul", {}, ...deviceLines(onBranch.get(`${br.from}-${br.to}`) ?? [])));
  };
  const select = (target: EventTarget | null) => {
    const node = target as Element | null;
    const bus = node?.getAttribute("data-bus"), branch = node?.getAttribute("data-branch");
    if (bus !== null && bus !== undefined) showBus(model.buses.find((b) => String(b.id) === bus)!);
    else if (branch !== null && branch !== undefined) showBranch(model.branches[Number(branch)]);
  };
  drawing.addEventListener("click", (ev) => select(ev.target));
  drawing.addEventListener("keydown", (ev) => { if (ev.key === "Enter") select(ev.target); });

  // Wheel zooms around the pointer, drag pans.
  let view = { x: 0, y: 0, w: width, h: height };
  const apply = () => drawing.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
  drawing.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const r = drawing.getBoundingClientRect();
    const fx = (ev.clientX - r.left) / r.width, fy = (ev.clientY - r.top) / r.height;
    const k = ev.deltaY > 0 ? 1.2 : 1 / 1.2;
    const w = view.w * k, h = view.h * k;
    view = { x: view.x + (view.w - w) * fx, y: view.y + (view.h - h) * fy, w, h };
    apply();
  }, { passive: false });
  let drag: { x: number; y: number } | null = null;
  drawing.addEventListener("pointerdown", (ev) => { drag = { x: ev.clientX, y: ev.clientY }; });
  window.addEventListener("pointerup", () => { drag = null; });
  drawing.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    const r = drawing.getBoundingClientRect();
    view.x -= ((ev.clientX - drag.x) / r.width) * view.w;
    view.y -= ((ev.clientY - drag.y) / r.height) * view.h;
    drag = { x: ev.clientX, y: ev.clientY };
    apply();
  });

  const metered = model.buses.filter((b) => (onBus.get(b.id) ?? []).length).length;
  root.append(
    el("h1", {}, "Network"),
    el("p", { class: "source" }, `${model.name}: ${model.buses.length} buses, ${model.branches.length} branches; ${
      metered} buses with a device. Data source: `, el("strong", {}, source.label)),
    el("p", { class: "legend" },
      el("span", { class: "swatch good" }, ""), "normal ",
      el("span", { class: "swatch warn" }, ""), "near a limit ",
      el("span", { class: "swatch bad" }, ""), "outside ",
      el("span", { class: "swatch unknown" }, ""), "unknown (no device reporting)"),
    el("div", { class: "network" }, el("div", { class: "card drawing" }, drawing), details));
  root.dataset.drawnMs = String(Math.round(performance.now() - t0));
  performance.mark("network-drawn");

  let last = 0;
  const stream = new LiveStream(source.origin, (samples: Sample[]) => {
    for (const s of samples) newest.set(s.device, s);
    const now = Date.now();
    if (now - last < 1000) return;
    last = now;
    paint();
  }, (live) => setStale(!live));
  return () => stream.close();
}
