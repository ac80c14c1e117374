// Devices: the registry with each device's newest sample time and status in the current source;
// operators and admins register and edit devices and import samples from CSV (through the ingest
// API, whose per-line errors are shown).
import { errorText, request, session } from "../api";
import { activeSource, devices, latest, reporting, type Device } from "../data";
import { el, localTime } from "../dom";


function editor(onSaved: () => void) {
  const id = el("input", { id: "dev-id", required: "", pattern: "[A-Za-z0-9_.\\-]{1,64}" });
  const name = el("input", { id: "dev-name" });
  const kind = el("select", { id: "dev-kind" },
    ...["meter", "pmu", "transformer_monitor", "inverter"].map((k) => el("option", { value: k }, k)));
  const nominal = el("input", { id: "dev-nominal", type: "number", step: "any", min: "1", value: "230" });
  const rated = el("input", { id: "dev-rated", type: "number", step: "any", min: "0.001", value: "100" });
  const accuracy = el("input", { id: "dev-accuracy", type: "number", step: "any", min: "0.01", max: "10", value: "1" });
  const site = el("input", { id: "dev-site" });
  const element = el("input", { id: "dev-element", placeholder: "bus:12 or branch:3-4:from" });
  const save = el("button", { type: "submit" }, "Save device");
  const error = el("p", { class: "error", role: "alert" });
  let editing: string | null = null;
  const form = el("form", { class: "card", "aria-label": "Device" }, el("h2", {}, "Register or edit a device"),
    el("div", { class: "params" },
      el("label", { for: "dev-id" }, "Id"), id, el("span", {}),
      el("label", { for: "dev-name" }, "Name"), name, el("span", {}),
      el("label", { for: "dev-kind" }, "Kind"), kind, el("span", {}),
      el("label", { for: "dev-nominal" }, "Nominal voltage (V, phase)"), nominal, el("span", {}),
      el("label", { for: "dev-rated" }, "Rated current (A)"), rated, el("span", {}),
      el("label", { for: "dev-accuracy" }, "Accuracy class (%)"), accuracy,
      el("span", { class: "note" }, "of reading (IEC 62053 / 61557)"),
      el("label", { for: "dev-site" }, "Site"), site, el("span", {}),
      el("label", { for: "dev-element" }, "Placement"), element,
      el("span", { class: "note" }, "where it measures on the network model")),
    save, error);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const body = { id: id.value, name: name.value || id.value, kind: kind.value,
                   nominal_voltage: Number(nominal.value), rated_current: Number(rated.value),
                   accuracy_class: Number(accuracy.value),
                   site: site.value, element: element.value };
    try {
      if (editing) await request("PUT", `/api/grid/devices/${encodeURIComponent(editing)}`, body);
      else await request("POST", "/api/grid/devices", body);
      editing = null;
      id.disabled = false;
      form.reset();
      onSaved();
    } catch (e) {
      error.textContent = errorText(e);
    }
  });
  const edit = (d: Device) => {
    editing = d.id;
    id.value = d.id;
    id.disabled = true;
    name.value = d.name;
    kind.value = d.kind;
    nominal.value = String(d.nominal_voltage);
    rated.value = String(d.rated_current);
    accuracy.value = String(d.accuracy_class);
    site.value = d.site;
    element.value = d.element;
    name.focus();
  };
  return { form, edit };
}

function csvImport(onDone: () => void): HTMLElement {
  const file = el("input", { id: "csv-file", type: "file", accept: ".csv,text/csv" });
  const go = el("button", { type: "button" }, "Import samples");
  const result = el("div", { "aria-live": "polite" });
  go.addEventListener("click", async () => {
    const f = file.files?.[0];
    if (!f) { result.replaceChildren(el("p", { class: "error" }, "Choose a CSV file.")); return; }
    const res = await fetch("/api/grid/ingest", {
      method: "POST",
      headers: { Authorization: `Bearer ${session().token}`, "Content-Type": "text/csv" },
      body: await f.text(),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok && res.status !== 422) {
      result.replaceChildren(el("p", { class: "error", role: "alert" }, body.message ?? res.statusText));
      return;
    }
    const rejected: { line?: number; field: string; message: string }[] = body.rejected ?? [];
    result.replaceChildren(
      el("p", { class: "result" }, `${body.accepted ?? 0} accepted, ${body.duplicates ?? 0} duplicates, ${rejected.length} rejected.`),
      el("ul", {}, ...rejected.slice(0, 50).map((r) =>
        el("li", { class: "error" }, `line ${r.line ?? "?"}: ${r.field}: ${r.message}`))));
    onDone();
  });
  return el("section", { class: "card", "aria-label": "Import samples" }, el("h2", {}, "Import samples (CSV)"),
    el("p", { class: "note" }, "Header: device,ts,va,vb,vc,ia,ib,ic,pa,pb,pc,qa,qb,qc,f (docs/api.md)."),
    el("div", { class: "controls" }, el("label", { for: "csv-file" }, "File"), file, go), result);
}

export async function devicesPage(root: HTMLElement) {
  const source = await activeSource();
  const mayWrite = ["operator", "admin"].includes(session().user?.role ?? "");
  const body = el("tbody", {});
  const refresh = async () => {
    const [registry, newest] = await Promise.all([devices(), latest(source.origin)]);
    body.replaceChildren(...[...registry.values()]
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((d) => {
        const s = newest.get(d.id);
        const status = s === undefined ? "no data" : reporting(s) ? "reporting" : "silent";
        const edit = el("button", { type: "button" }, "Edit");
        edit.addEventListener("click", () => ed.edit(d));
        return el("tr", {},
          el("td", {}, d.id), el("td", {}, d.name), el("td", {}, d.kind), el("td", {}, d.site),
          el("td", {}, d.element), el("td", {}, localTime(s?.ts)),
          el("td", { class: "status " + status.replace(" ", "-") }, status),
          el("td", {}, mayWrite ? edit : null));
      }));
  };
  const ed = editor(() => void refresh());
  await refresh();
  root.append(
    el("h1", {}, "Devices"),
    el("p", { class: "source" }, "Data source: ", el("strong", {}, source.label)),
    el("table", {},
      el("thead", {}, el("tr", {}, ...["Id", "Name", "Kind", "Site", "Placement", "Last sample", "Status", ""]
        .map((h) => el("th", { scope: "col" }, h)))),
      body),
  );
  if (mayWrite) root.append(ed.form, csvImport(() => void refresh()));
  return () => {};
}
