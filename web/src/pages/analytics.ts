// The analytics, one module per page (/analytics/monitoring, …/maintenance, …/energy,
// …/decision): each model's latest result per device (and for the network), with the model
// version that produced it, and the models' cards — what each was trained on, its test scores
// against its baseline and whether each quality target holds. Refreshed every 5 s from
// /api/ml/<module>/latest (the server runs the models; this page only shows them).
import { ApiError, errorText, request } from "../api";
import { activeSource } from "../data";
import { el, fmt, localTime, table } from "../dom";

interface Item {
  device: string | null; network_id?: number; ts: string; origin: string; model: string;
  version: number; result: Record<string, unknown>;
}
interface Target { name: string; target: string; value: number; met: boolean }
interface Card {
  name: string; module: string; version: number; created_at: string; algorithm: string;
  truth?: string; metrics?: Record<string, unknown>; baseline?: Record<string, unknown>;
  targets?: Target[];
}

export const modules: Record<string, { title: string; models: string[] }> = {
  monitoring: { title: "Real-time monitoring",
    models: ["voltage-anomaly", "harmonic-analysis", "frequency-stability", "phase-imbalance"] },
  maintenance: { title: "Predictive maintenance",
    models: ["equipment-failure", "overload-risk", "power-quality-index", "voltage-sag"] },
  energy: { title: "Energy flow",
    models: ["load-forecast", "energy-loss", "power-flow", "demand-response"] },
  decision: { title: "Decision support",
    models: ["reactive-power", "load-balancing", "stability-score", "optimal-dispatch"] },
};

const num = (r: Record<string, unknown>, k: string): number | null =>
  typeof r[k] === "number" ? (r[k] as number) : null;
const str = (r: Record<string, unknown>, k: string): string =>
  typeof r[k] === "string" ? (r[k] as string) : "—";

/// One result in a table cell: its headline figure and unit, as the API names them.
export function summary(model: string, r: Record<string, unknown>): string {
  if (typeof r.status === "string" && r.status !== "ok" && r.status !== "compensate") {
    if (model !== "reactive-power") return r.status.replace(/_/g, " ");
  }
  switch (model) {
    case "voltage-anomaly":
      return `${fmt(num(r, "anomaly_score"), 2)}${r.is_anomaly ? ` ⚠ ${str(r, "kind")} (${str(r, "severity")})` : ""}`;
    case "harmonic-analysis":
      return `THD-V ${fmt(num(r, "thd_v_pct"), 1, "%")} · ${str(r, "category").replace(/_/g, " ")}`;
    case "frequency-stability":
      return `${fmt(num(r, "predicted_hz"), 3, "Hz")} in 60 s · ${str(r, "trend")} · score ${fmt(num(r, "stability_score"), 0)}`;
    case "phase-imbalance":
      return `VUF ${fmt(num(r, "vuf_pct"), 2, "%")} · ${str(r, "severity")}${r.likely_cause && r.likely_cause !== "none" ? ` · ${str(r, "likely_cause").replace(/_/g, " ")}` : ""}`;
    case "equipment-failure":
      return `${fmt(100 * (num(r, "failure_probability") ?? NaN), 1, "%")} in 15 min${r.at_risk ? " ⚠" : ""}`;
    case "overload-risk":
      return `${str(r, "risk_class")} · ${fmt(num(r, "loading_pct"), 0, "%")}${num(r, "time_to_limit_s") !== null ? ` · limit in ${fmt((num(r, "time_to_limit_s") ?? 0) / 60, 0, "min")}` : ""}`;
    case "power-quality-index":
      return `${fmt(num(r, "pqi"), 0)} / 100 · ${str(r, "category")}`;
    case "voltage-sag":
      return `${fmt(100 * (num(r, "sag_probability") ?? NaN), 1, "%")} in 60 s${r.sag_expected ? " ⚠" : ""}`;
    case "load-forecast":
      return `peak ${fmt(num(r, "peak_kw"), 0, "kW")} at ${localTime(r.peak_at as string)}`;
    case "demand-response":
      return `${str(r, "cluster_name").replace(/_/g, " ")} · flexible ${fmt(num(r, "flexible_kw"), 0, "kW")}`;
    case "energy-loss":
      return `${fmt(num(r, "losses_kw"), 1, "kW")} (${fmt(num(r, "losses_pct"), 2, "%")}) ± ${fmt(3 * (num(r, "losses_sigma_kw") ?? NaN), 1, "kW")}`;
    case "power-flow":
      return `save ${fmt(num(r, "saving_kw"), 1, "kW")} (${fmt(num(r, "saving_pct"), 1, "%")})${r.feasible === false ? " · voltages not all within 0.95–1.05" : ""}`;
    case "reactive-power":
      return r.status === "compensate"
        ? `pf ${fmt(num(r, "power_factor"), 3)} → ${fmt(num(r, "power_factor_after"), 3)} with ${fmt(num(r, "capacitor_kvar"), 1, "kvar")}`
        : `pf ${fmt(num(r, "power_factor"), 3)} · ${str(r, "status").replace(/_/g, " ")}`;
    case "load-balancing": {
      const plan = Array.isArray(r.plan) ? (r.plan as { from: string; to: string; kw: number }[]) : [];
      return plan.length
        ? `${plan.map((m) => `${fmt(m.kw, 0, "kW")} ${m.from}→${m.to}`).join(", ")} · ${fmt(num(r, "power_unbalance_pct"), 1, "%")} → ${fmt(num(r, "expected_unbalance_pct"), 1, "%")}`
        : `balanced (${fmt(num(r, "power_unbalance_pct"), 1, "%")})`;
    }
    case "stability-score":
      return `${fmt(num(r, "score"), 0)} / 100 · ${str(r, "category").replace(/_/g, " ")}`;
    case "optimal-dispatch":
      return `peak ${fmt(num(r, "peak_before_kw"), 0, "kW")} → ${fmt(num(r, "peak_after_kw"), 0, "kW")} (hold ${fmt(num(r, "threshold_kw"), 0, "kW")})`;
  }
  return "";
}

function metricsList(m: Record<string, unknown> | undefined): HTMLElement {
  const list = el("dl", { class: "metrics" });
  for (const [k, v] of Object.entries(m ?? {})) {
    if (typeof v === "number") list.append(el("dt", {}, k.replace(/_/g, " ")), el("dd", {}, fmt(v, Number.isInteger(v) || Math.abs(v) >= 100 ? 0 : 3)));
    else if (typeof v === "string") list.append(el("dt", {}, k.replace(/_/g, " ")), el("dd", {}, v));
  }
  return list;
}

function cardView(c: Card): HTMLElement {
  const test = (c.metrics?.test ?? {}) as Record<string, unknown>;
  const base = (c.baseline ?? {}) as Record<string, unknown>;
  const targets = c.targets ?? [];
  const met = targets.filter((t) => t.met).length;
  return el("details", { class: "card model-card", "data-model": c.name },
    el("summary", {},
      el("strong", {}, c.name), ` v${c.version} · `,
      targets.length ? `${met} of ${targets.length} targets met` : "no targets", ` · ${localTime(c.created_at)}`),
    el("p", {}, c.algorithm),
    c.truth ? el("p", { class: "note" }, "Scored against: ", c.truth) : null,
    table(["Target", "Goal", "Value", "Met"], targets.map((t) => el("tr", { class: t.met ? "" : "unmet" },
      el("td", {}, t.name), el("td", {}, t.target), el("td", {}, fmt(t.value, 3)),
      el("td", {}, t.met ? "yes" : "no")))),
    el("h3", {}, "Test metrics"), metricsList(test),
    el("h3", {}, `Baseline: ${typeof base.name === "string" ? base.name : "—"}`),
    metricsList((base.test ?? base) as Record<string, unknown>));
}

export function analyticsPage(module: string) {
  return async (root: HTMLElement): Promise<() => void> => {
    const mod = modules[module];
    const source = await activeSource();
    const tabs = el("nav", { class: "tabs", "aria-label": "Analytics modules" },
      ...Object.entries(modules).map(([m, d]) => el("a",
        m === module ? { href: `/analytics/${m}`, "aria-current": "page" } : { href: `/analytics/${m}` }, d.title)));
    const status = el("p", { class: "note", role: "status" });
    const network = el("section", { "aria-label": "Network" });
    const devices = el("section", { "aria-label": "Devices" });
    const cards = el("section", { class: "cards-list", "aria-label": "Model cards" });
    root.append(el("h1", {}, `Analytics: ${mod.title}`), tabs,
      el("p", { class: "source" }, "Data source: ", el("strong", {}, source.label)),
      status, network, devices, el("h2", {}, "Models"), cards);

    try {
      const all = await request<{ items: Card[] }>("GET", "/api/ml/models");
      const mine = all.items.filter((c) => c.module === module);
      cards.replaceChildren(...(mine.length ? mine.map(cardView)
        : [el("p", {}, "No trained models yet: the server trains them at first start (see /health), or an analyst starts a training.")]));
      root.dataset.cards = String(mine.length);
    } catch (e) {
      cards.replaceChildren(el("p", { class: "error" }, errorText(e)));
    }

    const draw = (items: Item[]) => {
      const perDevice = new Map<string, Map<string, Item>>();
      const net: Item[] = [];
      for (const it of items) {
        if (it.device === null) { net.push(it); continue; }
        if (!perDevice.has(it.device)) perDevice.set(it.device, new Map());
        perDevice.get(it.device)!.set(it.model, it);
      }
      const shown = mod.models.filter((m) => items.some((it) => it.model === m && it.device !== null));
      network.replaceChildren(...(net.length ? [el("h2", {}, "Network"), table(["Model", "Result", "Version", "At"],
        net.map((it) => el("tr", { "data-model": it.model },
          el("td", {}, it.model), el("td", {}, summary(it.model, it.result)),
          el("td", {}, `v${it.version}`), el("td", {}, localTime(it.ts)))))] : []));
      const names = [...perDevice.keys()].sort();
      devices.replaceChildren(...(shown.length ? [el("h2", {}, "Devices"), table(["Device", ...shown],
        names.map((d) => el("tr", { "data-device": d }, el("th", { scope: "row" }, d),
          ...shown.map((m) => {
            const it = perDevice.get(d)!.get(m);
            return el("td", it ? { title: `v${it.version}, ${localTime(it.ts)}` } : {}, it ? summary(m, it.result) : "—");
          }))))] : []));
      status.textContent = items.length
        ? `${names.length} device(s)${net.length ? " and the network" : ""}; newest result ${localTime(items.map((i) => i.ts).sort().at(-1))}.`
        : "No results yet for this source: the models run as its samples arrive (and on their schedule).";
      root.dataset.items = String(items.length);
    };
    const refresh = async () => {
      try {
        draw((await request<{ items: Item[] }>("GET",
          `/api/ml/${module}/latest?origin=${encodeURIComponent(source.origin)}`)).items);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        status.textContent = errorText(e);
      }
    };
    await refresh();
    const timer = window.setInterval(() => void refresh(), 5000);
    return () => window.clearInterval(timer);
  };
}
