// Devices: the registry with each device's newest sample time and status in the current source.
import { activeSource, devices, latest, reporting } from "../data";
import { el, localTime } from "../dom";

export async function devicesPage(root: HTMLElement) {
  const source = await activeSource();
  const [registry, newest] = await Promise.all([devices(), latest(source.origin)]);
  const rows = [...registry.values()]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((d) => {
      const s = newest.get(d.id);
      const status = s === undefined ? "no data" : reporting(s) ? "reporting" : "silent";
      return el("tr", {},
        el("td", {}, d.id), el("td", {}, d.name), el("td", {}, d.kind), el("td", {}, d.site),
        el("td", {}, d.element), el("td", {}, localTime(s?.ts)),
        el("td", { class: "status " + status.replace(" ", "-") }, status));
    });
  root.append(
    el("h1", {}, "Devices"),
    el("p", { class: "source" }, "Data source: ", el("strong", {}, source.label)),
    el("table", {},
      el("thead", {}, el("tr", {}, ...["Id", "Name", "Kind", "Site", "Placement", "Last sample", "Status"]
        .map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...rows)),
  );
  return () => {};
}
