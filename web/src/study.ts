// Power flow results as the pages show them: the reply's shape, the last result of this browser
// tab (so the network view can colour the diagram by it), and the diagram's colours and details
// for a result — every value from the solution, nothing for an element the solution lacks.
import { el, fmt } from "./dom";
import { loadingClass, voltageClass, type Colours, type Model, type Selection } from "./oneline";

export interface Violation { kind: string; value: number; limit: number; bus?: number; branch?: number; from?: number; to?: number }
export interface PowerFlowBranch {
  index: number; from: number; to: number; in_service: boolean;
  p_from_mw: number; q_from_mvar: number; p_to_mw: number; q_to_mvar: number; loading: number | null;
}
export interface PowerFlow {
  network_id: number; converged: boolean; iterations: number; losses_mw: number; time_ms: number; message?: string;
  buses: { id: number; vm_pu: number; va_deg: number; vm_sigma_pu?: number; va_sigma_deg?: number }[];
  branches: PowerFlowBranch[];
  violations?: Violation[];
}
/// A solved study and what was changed for it ("loads ×1.2, branch 3 out").
export interface Study { result: PowerFlow; what: string; at: Date }

let last: Study | null = null;
export const rememberStudy = (s: Study) => { last = s; };
/// The tab's last converged power flow of network version `networkId`, if any.
export const lastStudy = (networkId: number): Study | null =>
  last && last.result.network_id === networkId && last.result.converged ? last : null;

export const violationText = (v: Violation) =>
  v.kind === "thermal" ? `branch ${v.from}–${v.to} loaded ${fmt(v.value * 100, 0, "%")} (limit ${fmt(v.limit * 100, 0, "%")})`
                       : `bus ${v.bus} at ${fmt(v.value, 3, "p.u.")} (${v.kind === "voltage_low" ? "below" : "above"} ${fmt(v.limit, 3)})`;

/// The diagram coloured by a result: |V| bands per bus, loading per branch (unknown where the
/// branch has no rating or is out of service).
export function studyColours(model: Model, r: PowerFlow): Colours {
  const vm = new Map(r.buses.map((b) => [b.id, b.vm_pu]));
  return {
    bus: (k) => voltageClass(vm.get(model.buses[k].id) ?? null),
    branch: (k) => loadingClass(r.branches[k]?.in_service ? r.branches[k].loading : null),
  };
}

/// Details of a selected element in a result (`what` names it: "power flow", "estimate"); an
/// estimate's buses carry their standard deviations, shown as ±3σ.
export function studyDetails(model: Model, r: PowerFlow, s: Selection, what = "power flow"): HTMLElement[] {
  if ("bus" in s) {
    const b = model.buses[s.bus];
    const v = r.buses.find((x) => x.id === b.id);
    const pm = (sigma: number | undefined, d: number, unit: string) =>
      sigma === undefined ? "" : ` ± ${fmt(3 * sigma, d, unit)} (3σ)`;
    return [el("h2", {}, `Bus ${b.id}`), el("dl", {},
      el("dt", {}, `|V| (${what})`), el("dd", {}, fmt(v?.vm_pu, 4, "p.u.") + pm(v?.vm_sigma_pu, 4, "p.u.")),
      el("dt", {}, "Angle"), el("dd", {}, fmt(v?.va_deg, 2, "°") + pm(v?.va_sigma_deg, 2, "°")),
      el("dt", {}, "Voltage"), el("dd", {}, v && b.base_kv ? fmt(v.vm_pu * b.base_kv, 3, "kV") : "—"),
      el("dt", {}, "Load (model)"), el("dd", {}, `${fmt(b.pd_mw, 3, "MW")}, ${fmt(b.qd_mvar, 3, "Mvar")}`))];
  }
  const br = r.branches[s.branch];
  return [el("h2", {}, `Branch ${br.from} – ${br.to}`), el("dl", {},
    el("dt", {}, "In service"), el("dd", {}, br.in_service ? "yes" : "no"),
    el("dt", {}, "From end"), el("dd", {}, `${fmt(br.p_from_mw, 3, "MW")}, ${fmt(br.q_from_mvar, 3, "Mvar")}`),
    el("dt", {}, "To end"), el("dd", {}, `${fmt(br.p_to_mw, 3, "MW")}, ${fmt(br.q_to_mvar, 3, "Mvar")}`),
    el("dt", {}, "Losses"), el("dd", {}, fmt(br.p_from_mw + br.p_to_mw, 4, "MW")),
    el("dt", {}, "Loading"), el("dd", {}, br.loading === null ? "no rating" : fmt(br.loading * 100, 1, "%")))];
}
