// What the pages share: the data source (the pinned simulation run, else real meters), the
// device registry, and the newest sample of every device, kept current by the live stream.
import { ApiError, request } from "./api";
import type { Sample } from "./live";

export interface Device {
  id: string;
  name: string;
  kind: string;
  nominal_voltage: number;
  rated_current: number;
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
