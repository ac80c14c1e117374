// Grid studies on the active model: power flow (Newton–Raphson or fast-decoupled) with what-if
// changes — its results drawn on the one-line diagram and tabulated —, N-1 contingency analysis
// with its violations, and the model's versions with uploads (MATPOWER or the JSON format;
// errors name the line or the JSON path).
import { errorText, request, session } from "../api";
import { el, fmt, localTime, table } from "../dom";
import { branchButtons, oneLine, type Model, type Selection } from "../oneline";
import { rememberStudy, studyColours, studyDetails, violationText, type PowerFlow, type Violation } from "../study";

interface Outage { branch: number; from: number; to: number; converged: boolean; islanded: boolean; violations: Violation[]; message?: string }
interface Contingency { base: { converged: boolean; violations?: Violation[] }; outages: Outage[]; complete: boolean; time_ms: number; stopped?: string }
interface Version { id: number; name: string; uploaded_at: string; uploaded_by: string; active: boolean }


function model(onChange: () => void): HTMLElement {
  const versions = el("div", {});
  const error = el("p", { class: "error", role: "alert" });
  const refresh = async () => {
    const list = await request<{ items: Version[] }>("GET", "/api/grid/networks");
    versions.replaceChildren(table(["Version", "Name", "Uploaded", "By", ""], list.items.map((v) =>
      el("tr", {}, el("td", {}, String(v.id)), el("td", {}, v.name), el("td", {}, localTime(v.uploaded_at)),
         el("td", {}, v.uploaded_by), el("td", {}, v.active ? "active" : "")))));
  };
  const file = el("input", { id: "model-file", type: "file", accept: ".m,.json" });
  const upload = el("button", { type: "button" }, "Upload");
  upload.addEventListener("click", async () => {
    error.textContent = "";
    const f = file.files?.[0];
    if (!f) { error.textContent = "Choose a MATPOWER (.m) or JSON network file."; return; }
    const format = f.name.endsWith(".json") ? "json" : "matpower";
    const res = await fetch(`/api/grid/networks?format=${format}&name=${encodeURIComponent(f.name.replace(/\.[^.]*$/, ""))}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${session().token}`, "Content-Type": "text/plain" },
      body: await f.text(),
    });
    if (!res.ok) {
      const body = await res.json().catch(() => ({ message: res.statusText }));
      error.textContent = body.message;
      return;
    }
    await refresh();
    onChange();
  });
  void refresh().catch((e) => (error.textContent = errorText(e)));
  const mayWrite = ["operator", "admin"].includes(session().user?.role ?? "");
  return el("section", { "aria-label": "Model" }, el("h2", {}, "Model"),
    mayWrite ? el("div", { class: "controls" }, el("label", { for: "model-file" }, "Network file"), file, upload) : null,
    error, versions);
}

function powerFlow(): HTMLElement {
  const method = el("select", { id: "pf-method" }, el("option", { value: "nr" }, "Newton–Raphson"),
                    el("option", { value: "fdxb" }, "fast-decoupled (XB)"));
  const scale = el("input", { id: "pf-scale", type: "number", step: "0.05", min: "0", max: "100", value: "1" });
  const outage = el("input", { id: "pf-outage", type: "number", min: "0", placeholder: "branch index" });
  const run = el("button", { type: "button" }, "Run power flow");
  const out = el("div", { "aria-live": "polite" });
  run.addEventListener("click", async () => {
    out.replaceChildren(el("p", { class: "note" }, "Solving…"));
    const changes: unknown[] = [];
    const what: string[] = [];
    if (Number(scale.value) !== 1) {
      changes.push({ type: "scale_load", factor: Number(scale.value) });
      what.push(`loads ×${Number(scale.value)}`);
    }
    if (outage.value !== "") {
      changes.push({ type: "outage", branch: Number(outage.value) });
      what.push(`branch ${outage.value} out`);
    }
    try {
      const [r, model] = await Promise.all([
        request<PowerFlow>("POST", "/api/grid/powerflow", { method: method.value, changes }),
        request<Model>("GET", "/api/grid/network")]);
      if (r.converged) rememberStudy({ result: r, what: what.join(", ") || "as modelled", at: new Date() });
      const worst = [...r.buses].sort((a, b) => a.vm_pu - b.vm_pu).slice(0, 10);
      const loaded = r.branches.filter((b) => b.loading !== null).sort((a, b) => (b.loading ?? 0) - (a.loading ?? 0)).slice(0, 10);
      out.replaceChildren(
        el("p", { class: "result" }, r.converged
          ? `Converged in ${r.iterations} iterations (${fmt(r.time_ms, 1, "ms")}); losses ${fmt(r.losses_mw, 3, "MW")}.`
          : `Did not converge: ${r.message ?? ""}`),
        ...(r.converged ? [drawn(model, r)] : []),
        el("h3", {}, `Violations (${r.violations?.length ?? 0})`),
        el("ul", {}, ...(r.violations ?? []).map((v) => el("li", {}, violationText(v)))),
        el("h3", {}, "Lowest voltages"),
        table(["Bus", "|V| (p.u.)", "Angle (°)"], worst.map((b) =>
          el("tr", {}, el("td", {}, String(b.id)), el("td", {}, fmt(b.vm_pu, 4)), el("td", {}, fmt(b.va_deg, 2))))),
        el("h3", {}, "Most loaded branches"),
        table(["Branch", "From–to", "P (MW)", "Q (Mvar)", "Loading"], loaded.map((b) =>
          el("tr", {}, el("td", {}, String(b.index)), el("td", {}, `${b.from}–${b.to}`), el("td", {}, fmt(b.p_from_mw, 3)),
             el("td", {}, fmt(b.q_from_mvar, 3)), el("td", {}, fmt((b.loading ?? 0) * 100, 1, "%"))))));
    } catch (e) {
      out.replaceChildren(el("p", { class: "error", role: "alert" }, errorText(e)));
    }
  });
  return el("section", { "aria-label": "Power flow" }, el("h2", {}, "Power flow"),
    el("div", { class: "controls" }, el("label", { for: "pf-method" }, "Method"), method,
       el("label", { for: "pf-scale" }, "Scale every load ×"), scale,
       el("label", { for: "pf-outage" }, "Take out branch"), outage, run), out);
}

// The result on the one-line diagram (a model changed by an upload meanwhile is not drawn).
function drawn(model: Model, r: PowerFlow): HTMLElement {
  if (model.branches.length !== r.branches.length || model.buses.length !== r.buses.length) {
    return el("p", { class: "note" }, "The model changed meanwhile: run the power flow again to see it drawn.");
  }
  const details = el("aside", { class: "card details", "aria-live": "polite" },
    el("p", { class: "note" }, "Select a bus or a branch for its results."));
  const show = (sel: Selection) => {
    const parts = studyDetails(model, r, sel);
    if ("bus" in sel) parts.push(el("div", { class: "branch-links" }, ...branchButtons(model, model.buses[sel.bus].id, diagram)));
    details.replaceChildren(...parts);
  };
  const diagram = oneLine(model, studyColours(model, r), show);
  diagram.element.setAttribute("aria-label", `Power flow results on ${model.name}`);
  return el("div", { class: "network study" }, el("div", { class: "card drawing" }, diagram.element), details);
}

function contingency(): HTMLElement {
  const run = el("button", { type: "button" }, "Run N-1");
  const out = el("div", { "aria-live": "polite" });
  run.addEventListener("click", async () => {
    out.replaceChildren(el("p", { class: "note" }, "Studying every outage…"));
    try {
      const r = await request<Contingency>("POST", "/api/grid/contingency", {});
      const bad = r.outages.filter((o) => !o.converged || o.islanded || o.violations.length);
      out.replaceChildren(
        el("p", { class: "result" }, `${r.outages.length} outages studied in ${fmt(r.time_ms, 0, "ms")}` +
          `${r.complete ? "" : ` (stopped: ${r.stopped})`}; ${bad.length} with a problem.`),
        table(["Branch", "From–to", "Result", "Violations"], bad.slice(0, 200).map((o) =>
          el("tr", {}, el("td", {}, String(o.branch)), el("td", {}, `${o.from}–${o.to}`),
             el("td", {}, o.islanded ? "islands buses" : o.converged ? "converged" : `no solution${o.message ? ": " + o.message : ""}`),
             el("td", {}, o.violations.map(violationText).join("; "))))));
    } catch (e) {
      out.replaceChildren(el("p", { class: "error", role: "alert" }, errorText(e)));
    }
  });
  return el("section", { "aria-label": "N-1" }, el("h2", {}, "N-1 contingency analysis"), run, out);
}

export async function studiesPage(root: HTMLElement) {
  const mayRun = session().user?.role !== "viewer";
  const studies = el("div", {});
  const fill = () => studies.replaceChildren(...(mayRun ? [powerFlow(), contingency()]
    : [el("p", { class: "note" }, "Analysts, operators and admins run studies.")]));
  fill();
  root.append(el("h1", {}, "Grid studies"), model(fill), studies);
  return () => {};
}
