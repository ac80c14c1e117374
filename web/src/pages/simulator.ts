// Simulator: a scenario picker whose parameter form is built from the catalogue (types, bounds,
// units, defaults), start, and the runs with their live progress; stop, pin and delete as the
// role allows (the server still checks that a run is the caller's own, or that they are admin).
import { errorText, request, session } from "../api";
import { clear, el, fmt, localTime } from "../dom";

interface ParamDef {
  name: string;
  type: "number" | "integer" | "boolean" | "choice" | "text";
  description: string;
  default?: number | boolean | string;
  min?: number;
  max?: number;
  unit?: string;
  choices?: string[];
}
interface ScenarioDef {
  id: string;
  description: string;
  params: ParamDef[];
}
interface Run {
  id: string;
  scenario: string;
  mode: string;
  status: string;
  progress: number;
  samples: number;
  created_by: string;
  created_at: string;
  pinned: boolean;
  error: string | null;
}

export async function simulatorPage(root: HTMLElement) {
  const catalogue = await request<{ items: ScenarioDef[] }>("GET", "/api/simulator/scenarios");
  const role = session().user?.role ?? "viewer";
  const mayRun = role !== "viewer";
  const error = el("p", { class: "error", role: "alert" });
  const runsBody = el("tbody", {});

  const scenario = el("select", { id: "scenario", "aria-label": "Scenario" },
    ...catalogue.items.map((s) => el("option", { value: s.id }, s.id)));
  const description = el("p", { class: "source" });
  const fields = el("div", { class: "params" });
  const mode = el("select", { id: "mode", "aria-label": "Mode" },
    el("option", { value: "backfill" }, "backfill (as fast as possible, over the past)"),
    el("option", { value: "accelerated" }, "accelerated"),
    el("option", { value: "realtime" }, "realtime"));
  const duration = el("input", { id: "duration", type: "number", min: "1", value: "600", "aria-label": "Duration (s)" });
  const speed = el("input", { id: "speed", type: "number", min: "1", value: "60", "aria-label": "Speed (×)" });
  const start = el("button", { type: "submit" }, "Start");
  const inputs = new Map<string, HTMLInputElement | HTMLSelectElement>();

  const buildForm = () => {
    const def = catalogue.items.find((s) => s.id === scenario.value)!;
    description.textContent = def.description;
    clear(fields);
    inputs.clear();
    for (const p of def.params) {
      const id = "param-" + p.name;
      let input: HTMLInputElement | HTMLSelectElement;
      if (p.type === "boolean") {
        input = el("input", { id, type: "checkbox" });
        (input as HTMLInputElement).checked = p.default === true;
      } else if (p.type === "choice") {
        input = el("select", { id }, ...(p.choices ?? []).map((c) => el("option", { value: c }, c)));
        if (typeof p.default === "string") input.value = p.default;
      } else if (p.type === "number" || p.type === "integer") {
        input = el("input", { id, type: "number", step: p.type === "integer" ? "1" : "any" });
        if (p.min !== undefined) input.setAttribute("min", String(p.min));
        if (p.max !== undefined) input.setAttribute("max", String(p.max));
        if (p.default !== undefined) input.value = String(p.default);
      } else {
        input = el("input", { id, type: "text" });
        if (p.default !== undefined) input.value = String(p.default);
      }
      inputs.set(p.name, input);
      const bounds = p.min !== undefined ? ` ${p.min} – ${p.max}` : "";
      fields.append(el("label", { for: id, title: p.description },
        `${p.name}${p.unit ? ` (${p.unit})` : ""}`), input,
        el("span", { class: "note" }, p.description + bounds));
    }
  };
  scenario.addEventListener("change", buildForm);
  buildForm();

  const form = el("form", { class: "card", "aria-label": "New run" },
    el("h2", {}, "New run"),
    el("div", { class: "controls" }, scenario, mode,
       el("label", { for: "duration" }, "Duration (s)"), duration,
       el("label", { for: "speed" }, "Speed (×)"), speed),
    description, fields, start, error);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const def = catalogue.items.find((s) => s.id === scenario.value)!;
    const params: Record<string, unknown> = {};
    for (const p of def.params) {
      const input = inputs.get(p.name)!;
      if (p.type === "boolean") params[p.name] = (input as HTMLInputElement).checked;
      else if (p.type === "number" || p.type === "integer") {
        if (input.value !== "") params[p.name] = Number(input.value);
      } else if (input.value !== "") params[p.name] = input.value;
    }
    const body: Record<string, unknown> = { scenario: def.id, mode: mode.value, params };
    if (duration.value !== "") body.duration_s = Number(duration.value);
    if (mode.value === "accelerated") body.speed = Number(speed.value);
    try {
      await request("POST", "/api/simulator/runs", body);
      await refresh();
    } catch (e) {
      error.textContent = errorText(e);
    }
  });

  const action = (label: string, fn: () => Promise<unknown>) => {
    const b = el("button", { type: "button" }, label);
    b.addEventListener("click", async () => {
      error.textContent = "";
      try {
        await fn();
        await refresh();
      } catch (e) {
        error.textContent = errorText(e);
      }
    });
    return b;
  };
  const refresh = async () => {
    const runs = await request<{ items: Run[] }>("GET", "/api/simulator/runs");
    runsBody.replaceChildren(...runs.items.map((r) => el("tr", { "data-run": r.id },
      el("td", {}, r.id), el("td", {}, r.scenario), el("td", {}, r.mode),
      el("td", { class: "run-status" }, r.status + (r.error ? `: ${r.error}` : "")),
      el("td", {}, fmt(r.progress * 100, 0, "%")), el("td", {}, String(r.samples)),
      el("td", {}, r.created_by), el("td", {}, localTime(r.created_at)),
      el("td", {}, r.pinned ? "active source" : ""),
      el("td", {}, ...(mayRun ? [
        r.status === "running" ? action("Stop", () => request("POST", `/api/simulator/runs/${r.id}/stop`)) : null,
        r.pinned ? null : action("Pin", () => request("POST", `/api/simulator/runs/${r.id}/pin`)),
        action("Delete", () => request("DELETE", `/api/simulator/runs/${r.id}`)),
      ] : [])))));
  };
  root.append(
    el("h1", {}, "Simulator"),
    mayRun ? form : el("p", { class: "source" }, "Viewers see the runs; analysts, operators and admins start them."),
    el("h2", {}, "Runs"),
    el("table", {}, el("thead", {}, el("tr", {},
      ...["Run", "Scenario", "Mode", "Status", "Progress", "Samples", "By", "Created", "", ""]
        .map((h) => el("th", { scope: "col" }, h)))), runsBody));
  await refresh();
  const timer = window.setInterval(() => void refresh().catch(() => {}), 2000);
  return () => window.clearInterval(timer);
}
