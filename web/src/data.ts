// What the pages share: the data source (the pinned simulation run, else real meters), the
// device registry, and the newest sample of every device, kept current by the live stream.
import { ApiError, request } from "./api";
import type { Sample } from "./live";
import type { Model } from "./oneline";

export interface Device {
  id: string;
  name: string;
  kind: string;
  nominal_voltage: number;
  rated_current: number;
  accuracy_class: number;
  element: string;
  site: string;
}

export interface Source {
  origin: string;
  label: string;
}

/// A device is reporting when its newest sample is at most this old.
export const kReportingWithinMs = 60_000;

const kSourceKey = "remhart.source";

/// The source chosen in the page's switch: "" (the pinned run, the default), "real" or
/// "sim:<run>". Kept for the browser tab only.
export function chosenSource(): string {
  return sessionStorage.getItem(kSourceKey) ?? "";
}
export function chooseSource(origin: string): void {
  if (origin) sessionStorage.setItem(kSourceKey, origin);
  else sessionStorage.removeItem(kSourceKey);
}

interface RunInfo { id: string; origin: string; scenario: string; status: string }

export async function activeSource(): Promise<Source> {
  const chosen = chosenSource();
  if (chosen === "real") return { origin: "real", label: "real meters" };
  if (chosen.startsWith("sim:")) {
    try {
      const run = await request<RunInfo>("GET", "/api/simulator/runs/" + encodeURIComponent(chosen.slice(4)));
      return { origin: run.origin, label: `simulation ${run.id} (${run.scenario}, ${run.status})` };
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
      chooseSource("");  // the run was deleted: back to the default
    }
  }
  try {
    const run = await request<RunInfo>("GET", "/api/simulator/active");
    return { origin: run.origin, label: `pinned simulation ${run.id} (${run.scenario}, ${run.status})` };
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return { origin: "real", label: "real meters" };
    throw e;
  }
}

export async function devices(): Promise<Map<string, Device>> {
  const body = await request<{ items: Device[] }>("GET", "/api/grid/devices");
  return new Map(body.items.map((d) => [d.id, d]));
}

export async function latest(origin: string): Promise<Map<string, Sample>> {
  const body = await request<{ items: Sample[] }>(
    "GET",
    "/api/grid/latest?origin=" + encodeURIComponent(origin),
  );
  return new Map(body.items.map((s) => [s.device, s]));
}

export function reporting(s: Sample | undefined, now = Date.now()): boolean {
  return s !== undefined && now - Date.parse(s.ts) <= kReportingWithinMs;
}

export interface Kpis {
  known: number;
  reporting: number;
  frequencyHz: number | null;
  vMinPu: number | null;
  vMaxPu: number | null;
}

/// Computed from the samples only: a value without data stays null.
export function kpis(latestByDevice: Map<string, Sample>, registry: Map<string, Device>): Kpis {
  const now = Date.now();
  let count = 0, fSum = 0, fN = 0;
  let vMin: number | null = null, vMax: number | null = null;
  for (const s of latestByDevice.values()) {
    if (!reporting(s, now)) continue;
    count++;
    if (s.f !== null) {
      fSum += s.f;
      fN++;
    }
    const d = registry.get(s.device);
    if (d && s.v_avg !== null && d.nominal_voltage > 0) {
      const pu = s.v_avg / d.nominal_voltage;
      vMin = vMin === null ? pu : Math.min(vMin, pu);
      vMax = vMax === null ? pu : Math.max(vMax, pu);
    }
  }
  return {
    known: latestByDevice.size,
    reporting: count,
    frequencyHz: fN ? fSum / fN : null,
    vMinPu: vMin,
    vMaxPu: vMax,
  };
}

/// The choices of the source switch: the default, real meters, and every simulation run.
export async function sourceChoices(): Promise<[string, string][]> {
  const runs = await request<{ items: RunInfo[] }>("GET", "/api/simulator/runs");
  return [["", "pinned run (default)"], ["real", "real meters"],
          ...runs.items.map((r): [string, string] => [r.origin, `${r.id} — ${r.scenario} (${r.status})`])];
}

/// A feeder-head meter: a device on one of the metered branches nearest the reference bus, and
/// the sign that turns its reading into power flowing away from the reference (+1 when it sits
/// at the branch's upstream end).
export interface HeadMeter { device: Device; sign: 1 | -1 }

/// The feeder heads of a model: of the branches with a device, those nearest a reference bus
/// (breadth-first over in-service branches); each branch counted once.
export function feederHeads(model: Model, registry: Map<string, Device>): Map<string, HeadMeter[]> {
  const adj = new Map<number, number[]>();
  for (const br of model.branches) {
    if (!br.in_service) continue;
    (adj.get(br.from) ?? adj.set(br.from, []).get(br.from)!).push(br.to);
    (adj.get(br.to) ?? adj.set(br.to, []).get(br.to)!).push(br.from);
  }
  const depth = new Map<number, number>();
  const queue = model.buses.filter((b) => b.type === "ref").map((b) => b.id);
  for (const id of queue) depth.set(id, 0);
  for (let q = 0; q < queue.length; ++q) {
    for (const w of adj.get(queue[q]) ?? []) {
      if (!depth.has(w)) { depth.set(w, depth.get(queue[q])! + 1); queue.push(w); }
    }
  }
  const byBranch = new Map<string, { depth: number; meters: HeadMeter[] }>();
  for (const d of registry.values()) {
    const m = /^branch:(-?\d+)-(-?\d+):(from|to)$/.exec(d.element);
    if (!m) continue;
    const from = depth.get(Number(m[1])), to = depth.get(Number(m[2]));
    if (from === undefined || to === undefined) continue;
    const upstreamEnd = from <= to ? "from" : "to";
    const key = `${m[1]}-${m[2]}`;
    const entry = byBranch.get(key) ?? byBranch.set(key, { depth: Math.min(from, to), meters: [] }).get(key)!;
    entry.meters.push({ device: d, sign: m[3] === upstreamEnd ? 1 : -1 });
  }
  const nearest = Math.min(...[...byBranch.values()].map((e) => e.depth));
  return new Map([...byBranch].filter(([, e]) => e.depth === nearest).map(([k, e]) => [k, e.meters]));
}

export interface PowerKpis {
  headMw: number | null;      // into the network at its feeder heads
  headMvar: number | null;
  headVPu: number | null;     // mean |V| at the heads, per unit of nominal
  headsMetered: number;       // head branches with a reporting device
  heads: number;
  derMw: number | null;       // net export at the inverters (their buses' loads netted)
  inverters: number;          // inverters reporting
}

/// Power at the feeder heads and the inverters, from the newest samples of reporting devices
/// only: a head branch without one is left out (and counted), nothing is estimated.
export function powerKpis(newest: Map<string, Sample>, registry: Map<string, Device>,
                          heads: Map<string, HeadMeter[]>): PowerKpis {
  const now = Date.now();
  let p = 0, q = 0, vSum = 0, vN = 0, metered = 0;
  for (const meters of heads.values()) {
    const m = meters.find((h) => reporting(newest.get(h.device.id), now) && newest.get(h.device.id)!.p_total !== null);
    if (!m) continue;
    const s = newest.get(m.device.id)!;
    metered++;
    p += m.sign * s.p_total!;
    q += m.sign * (s.q_total ?? 0);
    if (s.v_avg !== null && m.device.nominal_voltage > 0) { vSum += s.v_avg / m.device.nominal_voltage; vN++; }
  }
  let der = 0, inverters = 0;
  for (const d of registry.values()) {
    const s = newest.get(d.id);
    if (d.kind !== "inverter" || !reporting(s, now) || s!.p_total === null) continue;
    der -= s!.p_total;  // bus meters read power drawn: an exporting inverter reads negative
    inverters++;
  }
  return {
    headMw: metered ? p / 1e6 : null,
    headMvar: metered ? q / 1e6 : null,
    headVPu: vN ? vSum / vN : null,
    headsMetered: metered,
    heads: heads.size,
    derMw: inverters ? der / 1e6 : null,
    inverters,
  };
}
