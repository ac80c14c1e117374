// Network view: the one-line diagram of the active model (web/src/oneline.ts). Buses and branches
// with a device on them are coloured from its newest sample (|V| in p.u. of the device's nominal,
// loading = current / rated current); everything else is shown as unknown — never a guessed
// value — unless the state estimate (the devices completed by the twin's pseudo-measurements,
// every 15 s) gives every bus, which is then the default. After a power flow in this tab (Grid
// studies), the diagram can be coloured by its results instead. Select an element (click, or the
// arrow keys) for its details.
import { ApiError, request } from "../api";
import { activeSource, devices, latest, reporting, type Device } from "../data";
import { el, fmt, localTime } from "../dom";
import { LiveStream, type Sample } from "../live";
import { branchButtons, loadingClass, oneLine, voltageClass, type Colours, type Model, type Selection } from "../oneline";
import { lastStudy, studyColours, studyDetails, type PowerFlow } from "../study";

interface Version { id: number; active: boolean }

export async function networkPage(root: HTMLElement, setStale: (stale: boolean) => void) {
  const t0 = performance.now();
  const [model, source, registry, versions] = await Promise.all([
    request<Model>("GET", "/api/grid/network"), activeSource(), devices(),
    request<{ items: Version[] }>("GET", "/api/grid/networks")]);
  const newest = await latest(source.origin);
  const study = lastStudy(versions.items.find((v) => v.active)?.id ?? -1);

  // Devices placed on the model, by element.
  const onBus = new Map<number, Device[]>(), onBranch = new Map<string, Device[]>();
  const put = <K>(m: Map<K, Device[]>, key: K, d: Device) => (m.get(key) ?? m.set(key, []).get(key)!).push(d);
  for (const d of registry.values()) {
    let m = /^bus:(-?\d+)$/.exec(d.element);
    if (m) put(onBus, Number(m[1]), d);
    m = /^branch:(-?\d+)-(-?\d+):(from|to)$/.exec(d.element);
    if (m) {
      put(onBranch, `${m[1]}-${m[2]}`, d);
      put(onBus, Number(m[3] === "from" ? m[1] : m[2]), d);
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
  const branchLoading = (k: number): number | null => {
    const br = model.branches[k];
    for (const d of onBranch.get(`${br.from}-${br.to}`) ?? []) {
      const s = fresh(d);
      if (s?.i_avg != null && d.rated_current > 0) return s.i_avg / d.rated_current;
    }
    return null;
  };
  const measured: Colours = {
    bus: (k) => voltageClass(busVoltage(model.buses[k].id)),
    branch: (k) => loadingClass(branchLoading(k)),
  };

  const deviceLines = (list: Device[]) => list.map((d) => {
    const s = newest.get(d.id);
    return el("li", {}, `${d.id}: `, s ? `|V| ${fmt(s.v_avg, 1, "V")}, I ${fmt(s.i_avg, 1, "A")}, P ${
      fmt(s.p_total === null ? null : s.p_total / 1000, 1, "kW")} at ${localTime(s.ts)} ` : "no sample ",
      el("a", { href: `/monitoring?device=${encodeURIComponent(d.id)}` }, "charts"));
  });
  const measuredDetails = (sel: Selection): HTMLElement[] => {
    if ("bus" in sel) {
      const b = model.buses[sel.bus];
      const v = busVoltage(b.id);
      return [el("h2", {}, `Bus ${b.id}`), el("dl", {},
        el("dt", {}, "Type"), el("dd", {}, b.type),
        el("dt", {}, "Base voltage"), el("dd", {}, fmt(b.base_kv, 2, "kV")),
        el("dt", {}, "Load"), el("dd", {}, `${fmt(b.pd_mw, 3, "MW")}, ${fmt(b.qd_mvar, 3, "Mvar")}`),
        el("dt", {}, "|V| (metered)"), el("dd", {}, v === null ? "unknown: no device reporting here" : fmt(v, 3, "p.u."))),
        el("h3", {}, "Devices"), el("ul", {}, ...deviceLines(onBus.get(b.id) ?? []))];
    }
    const br = model.branches[sel.branch];
    const l = branchLoading(sel.branch);
    return [el("h2", {}, `Branch ${br.from} – ${br.to}`), el("dl", {},
      el("dt", {}, "Kind"), el("dd", {}, br.ratio ? "transformer" : "line"),
      el("dt", {}, "In service"), el("dd", {}, br.in_service ? "yes" : "no"),
      el("dt", {}, "Impedance"), el("dd", {}, `r ${fmt(br.r_pu, 4)} p.u., x ${fmt(br.x_pu, 4)} p.u.`),
      el("dt", {}, "Rating"), el("dd", {}, br.rate_a_mva ? fmt(br.rate_a_mva, 1, "MVA") : "unlimited"),
      el("dt", {}, "Loading (metered)"), el("dd", {}, l === null ? "unknown: no device reporting here" : fmt(l * 100, 0, "%"))),
      el("h3", {}, "Devices"), el("ul", {}, ...deviceLines(onBranch.get(`${br.from}-${br.to}`) ?? []))];
  };

  // What the colours show: the devices' measurements (live), or the tab's last power flow.
  // What the colours show: the state estimate of every bus (when the source's devices and the
  // twin's pseudo-measurements give one), the devices' own measurements, or the tab's last power
  // flow.
  type Mode = "estimate" | "measured" | "study";
  let mode: Mode = "measured";
  let estimate: { result: PowerFlow; at: Date } | null = null;
  let estimated: Colours = measured;
  const studied = study ? studyColours(model, study.result) : measured;
  const now = () => (mode === "study" ? studied : mode === "estimate" ? estimated : measured);
  const colours: Colours = { bus: (k) => now().bus(k), branch: (k) => now().branch(k) };
  const details = el("aside", { class: "card details", "aria-live": "polite" },
    el("p", { class: "note" }, "Select a bus or a branch (click, or focus the diagram and use the arrow keys)."));
  let current: Selection | null = null;
  const show = (sel: Selection) => {
    current = sel;
    const parts = mode === "study" ? studyDetails(model, study!.result, sel, "power flow")
      : mode === "estimate" ? studyDetails(model, estimate!.result, sel, "estimate")
      : measuredDetails(sel);
    if ("bus" in sel) {
      if (mode !== "measured") parts.push(el("h3", {}, "Devices"), el("ul", {}, ...deviceLines(onBus.get(model.buses[sel.bus].id) ?? [])));
      const buttons = branchButtons(model, model.buses[sel.bus].id, diagram);
      if (buttons.length) parts.push(el("h3", {}, "Branches"), el("div", { class: "branch-links" }, ...buttons));
    }
    details.replaceChildren(...parts);
  };
  const diagram = oneLine(model, colours, show);

  const metered = model.buses.filter((b) => (onBus.get(b.id) ?? []).length).length;
  const estimateOption = el("option", { value: "estimate", hidden: "" }, "the state estimate (every bus)");
  const colourBy = el("select", { id: "colour-by" }, estimateOption,
    el("option", { value: "measured" }, "the devices' measurements (live)"),
    study ? el("option", { value: "study" }, `the power flow of ${study.at.toLocaleTimeString()} (${study.what})`) : null);
  colourBy.value = "measured";
  const estimateNote = el("span", { class: "note" });
  const choose = (m: Mode) => {
    mode = m;
    colourBy.value = m;
    diagram.paint();
    if (current) show(current);
  };
  colourBy.addEventListener("change", () => choose(colourBy.value as Mode));
  // The estimate: now, then each one the server's estimator pushes (`network_state` on the live
  // stream); the first becomes the default view.
  type Estimate = PowerFlow & { pseudo_measurements: number; devices: number; origin?: string };
  const applyEstimate = (r: Estimate) => {
    if (!r.converged || r.buses.length !== model.buses.length) return;
    estimate = { result: r, at: new Date() };
    estimated = studyColours(model, r);
    estimateOption.hidden = false;
    estimateOption.textContent = `the state estimate of ${estimate.at.toLocaleTimeString()} (every bus)`;
    estimateNote.textContent = `estimate from ${r.devices} device(s) and ${r.pseudo_measurements} pseudo-measurements`;
    if (!estimateShown) choose("estimate");
    estimateShown = true;
    if (mode === "estimate") {
      diagram.paint();
      if (current) show(current);
    }
  };
  const refreshEstimate = async () => {
    try {
      applyEstimate(await request<Estimate>(
        "GET", "/api/grid/state?origin=" + encodeURIComponent(source.origin)));
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      estimateNote.textContent = `no state estimate: ${e.message}`;
    }
  };
  let estimateShown = false;
  root.append(
    el("h1", {}, "Network"),
    el("p", { class: "source" }, `${model.name}: ${model.buses.length} buses, ${model.branches.length} branches; ${
      metered} buses with a device${diagram.fromFile ? "; drawn at the network file's coordinates" : ""}. Data source: `,
      el("strong", {}, source.label)),
    el("div", { class: "controls" }, el("label", { for: "colour-by" }, "Colour by"), colourBy, estimateNote,
      study ? null : el("span", { class: "note" }, "(run a power flow under Grid studies to colour by its results)")),
    el("p", { class: "legend" },
      el("span", { class: "swatch good" }, ""), "normal ",
      el("span", { class: "swatch warn" }, ""), "near a limit ",
      el("span", { class: "swatch bad" }, ""), "outside ",
      el("span", { class: "swatch unknown" }, ""), "unknown (no device reporting, or no rating)"),
    el("div", { class: "network" }, el("div", { class: "card drawing" }, diagram.element), details));
  root.dataset.drawnMs = String(Math.round(performance.now() - t0));
  performance.mark("network-drawn");

  void refreshEstimate();

  let last = 0;
  const stream = new LiveStream(source.origin, (samples: Sample[]) => {
    for (const s of samples) newest.set(s.device, s);
    const t = Date.now();
    if (t - last < 1000 || mode !== "measured") return;
    last = t;
    diagram.paint();
  }, (live) => setStale(!live), {
    maxRateHz: 1,  // repainted once a second at most
    otherTypes: ["network_state"],
    onOther: (_type, data) => {
      const r = data as Estimate;
      if (r.origin === source.origin) applyEstimate(r);
    },
  });
  return () => stream.close();
}
