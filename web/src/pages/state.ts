// The state of every bus: the latest state estimate of the data source (its devices completed by
// the twin's pseudo-measurements, docs/grid.md) with each value's uncertainty, the branches'
// flows and loading, the losses, and what the bad-data test found. Refreshed every 5 s (the
// server's estimator keeps it current).
import { ApiError, request } from "../api";
import { activeSource } from "../data";
import { el, fmt, localTime, table, kpiCard } from "../dom";
import { voltageClass } from "../oneline";

interface StateBus { id: number; vm_pu: number; va_deg: number; vm_sigma_pu: number; va_sigma_deg: number }
interface StateBranch { index: number; from: number; to: number; in_service: boolean; p_from_mw: number; q_from_mvar: number; p_to_mw: number; loading: number | null; p_from_sigma_mw: number; loading_sigma: number | null }
interface Removed { device?: string; pseudo?: boolean; bus?: number; kind: string }
interface State {
  origin: string; network_id: number; estimated_at: string; converged: boolean; iterations: number;
  devices: number; measurements: number; pseudo_measurements: number; head_scale: number | null;
  objective: number; chi2_limit: number; bad_data_detected: boolean; removed: Removed[];
  losses_mw?: number; losses_sigma_mw?: number; time_ms: number; buses: StateBus[]; branches?: StateBranch[]; message?: string;
}


export async function statePage(root: HTMLElement): Promise<() => void> {
  const source = await activeSource();
  const summary = el("section", { class: "cards", "aria-label": "Estimate" });
  const findings = el("section", { "aria-label": "Bad data" });
  const buses = el("section", { "aria-label": "Buses" });
  const branches = el("section", { "aria-label": "Branches" });
  const status = el("p", { class: "note", role: "status" });
  root.append(el("h1", {}, "State"),
    el("p", { class: "source" }, "Data source: ", el("strong", {}, source.label)),
    status, summary, findings, buses, branches);

  const draw = (s: State) => {
    status.textContent = `Estimated at ${localTime(s.estimated_at)} in ${fmt(s.time_ms, 1, "ms")}.`;
    summary.replaceChildren(
      kpiCard("Measurements", `${s.measurements} + ${s.pseudo_measurements}`,
           `from ${s.devices} device(s), plus pseudo-measurements${s.head_scale === null ? "" : ` (forecasts × ${fmt(s.head_scale, 2)} to match the feeder head)`}`),
      kpiCard("Fit", `${fmt(s.objective, 1)} / ${fmt(s.chi2_limit, 1)}`,
           `objective against the χ² limit (99 %); ${s.converged ? `converged in ${s.iterations} iterations` : "did not converge"}`),
      kpiCard("Losses", fmt(s.losses_mw, 3, "MW"),
           `± ${fmt(3 * (s.losses_sigma_mw ?? NaN), 3, "MW")} (3σ): series losses at the estimated voltages`),
      kpiCard("Lowest |V|", fmt(Math.min(...s.buses.map((b) => b.vm_pu)), 4, "p.u."),
           `bus ${s.buses.reduce((a, b) => (b.vm_pu < a.vm_pu ? b : a)).id}`),
    );
    findings.replaceChildren(el("h2", {}, "Bad data"),
      el("p", {}, s.bad_data_detected
        ? `The χ² test detected bad data; ${s.removed.length} measurement(s) removed as the largest normalised residuals:`
        : "The χ² test found the measurements consistent."),
      el("ul", {}, ...s.removed.map((r) => el("li", {},
        r.pseudo ? `the forecast of bus ${r.bus} (${r.kind})` : `${r.device} (${r.kind})`))));
    buses.replaceChildren(el("h2", {}, "Buses"), table(["Bus", "|V| (p.u.)", "± 3σ", "Angle (°)", "± 3σ"],
      s.buses.map((b) => el("tr", {},
        el("td", {}, String(b.id)),
        el("td", { class: `state-${voltageClass(b.vm_pu)}` }, fmt(b.vm_pu, 4)),
        el("td", {}, fmt(3 * b.vm_sigma_pu, 4)),
        el("td", {}, fmt(b.va_deg, 3)),
        el("td", {}, fmt(3 * b.va_sigma_deg, 3))))));
    branches.replaceChildren(el("h2", {}, "Branches"), table(["Branch", "P (MW)", "± 3σ", "Q (Mvar)", "Losses (MW)", "Loading", "± 3σ"],
      (s.branches ?? []).map((br) => el("tr", {},
        el("td", {}, `${br.from}–${br.to}${br.in_service ? "" : " (out)"}`),
        el("td", {}, fmt(br.p_from_mw, 3)),
        el("td", {}, fmt(3 * br.p_from_sigma_mw, 3)),
        el("td", {}, fmt(br.q_from_mvar, 3)),
        el("td", {}, fmt(br.p_from_mw + br.p_to_mw, 4)),
        el("td", {}, br.loading === null ? "no rating" : fmt(br.loading * 100, 1, "%")),
        el("td", {}, br.loading_sigma === null ? "" : fmt(3 * br.loading_sigma * 100, 1, "%"))))));
    root.dataset.buses = String(s.buses.length);
  };

  const refresh = async () => {
    try {
      draw(await request<State>("GET", "/api/grid/state?origin=" + encodeURIComponent(source.origin)));
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      status.textContent = `No state estimate: ${e.message}`;
    }
  };
  await refresh();
  const timer = window.setInterval(() => void refresh(), 5000);
  return () => window.clearInterval(timer);
}
