// Building the page without HTML strings: text goes in as text, so device names, user names and
// audit details can never become markup.
type Child = Node | string | null | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return node;
}

export function clear(node: Element): void {
  while (node.firstChild) node.removeChild(node.firstChild);
}

/// A number with a fixed count of decimals, or "—" when unknown (never an invented value).
export function fmt(v: number | null | undefined, decimals: number, unit = ""): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  return v.toFixed(decimals) + (unit ? " " + unit : "");
}

/// A timestamp in the browser's time zone.
export function localTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "—" : d.toLocaleString();
}

/// A table with a header row (column headers scoped for assistive technology).
export function table(headers: string[], rows: HTMLElement[]): HTMLTableElement {
  return el("table", {}, el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)))),
            el("tbody", {}, ...rows));
}

/// A key-figure card: a title, its value, and a note on what it is.
export function kpiCard(title: string, value: string, note = ""): HTMLElement {
  return el("div", { class: "card kpi" }, el("h2", {}, title), el("p", { class: "value" }, value),
            note ? el("p", { class: "note" }, note) : null);
}
