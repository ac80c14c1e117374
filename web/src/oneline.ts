// The one-line diagram of a network model in SVG, shared by the network view (coloured by the
// devices' measurements) and the grid studies (coloured by a power flow's results). Buses go
// where the network file puts them when it gives every bus coordinates; otherwise the diagram is
// laid out as a tree from the reference bus (breadth-first depth → column, subtrees kept together
// → rows), which is exact for radial feeders and a layered drawing for meshed networks (the
// edges off the tree are drawn too). The wheel (or + and −) zooms, a drag pans. One tab stop: the
// the arrow keys select buses, and a bus's details offer its branches.

export interface Bus { id: number; name?: string; type: string; pd_mw: number; qd_mvar: number; base_kv: number; x?: number; y?: number }
export interface Branch { from: number; to: number; r_pu: number; x_pu: number; rate_a_mva: number; in_service: boolean; ratio: number }
export interface Model { name: string; buses: Bus[]; branches: Branch[] }

/// What was selected: a bus (by its index in model.buses) or a branch (by its index).
export type Selection = { bus: number } | { branch: number };

export interface Colours {
  bus: (k: number) => string;     // "good" | "warn" | "bad" | "unknown"
  branch: (k: number) => string;
}

export interface Diagram {
  element: SVGSVGElement;
  /// Whether the buses are where the network file put them (else laid out automatically).
  fromFile: boolean;
  /// Re-colours every element (cheap: class names only).
  paint(): void;
  select(s: Selection): void;
}

/// Row and column of every bus: a tidy tree of the breadth-first spanning tree.
export function layout(model: Model): Map<number, { x: number; y: number }> {
  const adj = new Map<number, number[]>();
  for (const b of model.buses) adj.set(b.id, []);
  for (const br of model.branches) {
    adj.get(br.from)?.push(br.to);
    adj.get(br.to)?.push(br.from);
  }
  const children = new Map<number, number[]>();
  const depth = new Map<number, number>();
  const roots: number[] = [];
  const order = [...model.buses].sort((a, b) => Number(b.type === "ref") - Number(a.type === "ref"));
  for (const start of order) {
    if (depth.has(start.id)) continue;
    roots.push(start.id);
    depth.set(start.id, 0);
    const queue = [start.id];
    for (let q = 0; q < queue.length; ++q) {
      const u = queue[q];
      for (const w of adj.get(u) ?? []) {
        if (depth.has(w)) continue;
        depth.set(w, depth.get(u)! + 1);
        (children.get(u) ?? children.set(u, []).get(u)!).push(w);
        queue.push(w);
      }
    }
  }
  const pos = new Map<number, { x: number; y: number }>();
  let nextRow = 0;
  // Iterative post-order: leaves take the next rows, parents the middle of their children.
  for (const root of roots) {
    const stack: [number, boolean][] = [[root, false]];
    while (stack.length) {
      const [u, done] = stack.pop()!;
      const kids = children.get(u) ?? [];
      if (!done && kids.length) {
        stack.push([u, true]);
        for (let k = kids.length - 1; k >= 0; --k) stack.push([kids[k], false]);
        continue;
      }
      const y = kids.length ? (pos.get(kids[0])!.y + pos.get(kids[kids.length - 1])!.y) / 2 : nextRow++;
      pos.set(u, { x: depth.get(u)!, y });
    }
    nextRow += 1;  // a gap between islands
  }
  return pos;
}

interface Placement { at: Map<number, [number, number]>; width: number; height: number; radius: number; fromFile: boolean }

/// Drawing positions: the file's coordinates (y upwards, scaled to fit), else the tree layout.
function place(model: Model): Placement {
  const at = new Map<number, [number, number]>();
  if (model.buses.length && model.buses.every((b) => Number.isFinite(b.x) && Number.isFinite(b.y))) {
    const xs = model.buses.map((b) => b.x!), ys = model.buses.map((b) => b.y!);
    const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    const span = Math.max(x1 - x0, y1 - y0) || 1;
    const s = 1000 / span;
    const radius = Math.min(20, Math.max(2, 0.08 * Math.sqrt((1000 * 1000) / model.buses.length)));
    const margin = 3 * radius;
    for (const b of model.buses) at.set(b.id, [margin + (b.x! - x0) * s, margin + (y1 - b.y!) * s]);
    return { at, width: (x1 - x0) * s + 2 * margin, height: (y1 - y0) * s + 2 * margin, radius, fromFile: true };
  }
  const pos = layout(model);
  let maxX = 0, maxY = 0;
  for (const p of pos.values()) { maxX = Math.max(maxX, p.x); maxY = Math.max(maxY, p.y); }
  // Columns spread so a deep, wide model keeps a landscape shape; marks sized to the drawing so
  // a model of thousands of buses still shows when all of it is in view (zoom for detail).
  const dy = 24;
  const dx = Math.max(60, (maxY * dy * 1.6) / Math.max(1, maxX));
  const radius = Math.max(6, (maxY * dy) / 400), margin = 3 * radius;
  for (const [id, p] of pos) at.set(id, [margin + p.x * dx, margin + p.y * dy]);
  return { at, width: maxX * dx + 2 * margin, height: maxY * dy + 2 * margin, radius, fromFile: false };
}

const SVG = "http://www.w3.org/2000/svg";
const svg = <K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>) => {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
};

export function voltageClass(pu: number | null): string {
  if (pu === null) return "unknown";
  if (pu < 0.9 || pu > 1.1) return "bad";
  if (pu < 0.95 || pu > 1.05) return "warn";
  return "good";
}
export function loadingClass(loading: number | null): string {
  if (loading === null) return "unknown";
  return loading > 1 ? "bad" : loading > 0.8 ? "warn" : "good";
}

export function oneLine(model: Model, colours: Colours, onSelect: (s: Selection) => void): Diagram {
  const { at, width, height, radius, fromFile } = place(model);
  const drawing = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "group", tabindex: 0,
                               "aria-label": `One-line diagram of ${model.name}: the arrow keys select buses` });
  drawing.classList.add("oneline");
  const lines = model.branches.map((br, k) => {
    const [x1, y1] = at.get(br.from)!, [x2, y2] = at.get(br.to)!;
    const line = svg("line", { x1, y1, x2, y2, "data-branch": k });
    drawing.append(line);
    return line;
  });
  const circles = model.buses.map((b) => {
    const [cx, cy] = at.get(b.id)!;
    const c = svg("circle", { cx, cy, r: radius, "data-bus": b.id });
    const title = svg("title", {});
    title.textContent = `bus ${b.id}${b.name ? " " + b.name : ""}`;
    c.append(title);
    drawing.append(c);
    return c;
  });
  const busIndex = new Map(model.buses.map((b, k) => [b.id, k]));
  const paint = () => {
    model.branches.forEach((br, k) => lines[k].setAttribute("class",
      "branch " + colours.branch(k) + (br.in_service ? "" : " out")));
    model.buses.forEach((b, k) => circles[k].setAttribute("class",
      "bus " + colours.bus(k) + (b.type === "ref" ? " ref" : "") + (circles[k] === selected ? " selected" : "")));
  };

  // The selected element; the arrow keys select the next or previous bus.
  let selected: Element | null = null;
  let cursor = -1;
  const select = (s: Selection) => {
    selected?.classList.remove("selected");
    selected = "bus" in s ? circles[s.bus] : lines[s.branch];
    selected.classList.add("selected");
    if ("bus" in s) {
      cursor = s.bus;
      // Keep it in view: pan when it is outside the visible box.
      const [cx, cy] = at.get(model.buses[s.bus].id)!;
      if (cx < view.x || cx > view.x + view.w || cy < view.y || cy > view.y + view.h) {
        view = { ...view, x: cx - view.w / 2, y: cy - view.h / 2 };
        apply();
      }
    }
    onSelect(s);
  };
  drawing.addEventListener("click", (ev) => {
    const node = ev.target as Element;
    const bus = node.getAttribute("data-bus"), branch = node.getAttribute("data-branch");
    if (bus !== null) select({ bus: busIndex.get(Number(bus))! });
    else if (branch !== null) select({ branch: Number(branch) });
  });

  // Wheel and + / − zoom (around the pointer, or the middle), drag pans.
  let view = { x: 0, y: 0, w: width, h: height };
  const apply = () => drawing.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
  const zoom = (k: number, fx: number, fy: number) => {
    const w = view.w * k, h = view.h * k;
    view = { x: view.x + (view.w - w) * fx, y: view.y + (view.h - h) * fy, w, h };
    apply();
  };
  drawing.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const r = drawing.getBoundingClientRect();
    zoom(ev.deltaY > 0 ? 1.2 : 1 / 1.2, (ev.clientX - r.left) / r.width, (ev.clientY - r.top) / r.height);
  }, { passive: false });
  drawing.addEventListener("keydown", (ev) => {
    const n = model.buses.length;
    if (!n) return;
    const moves: Record<string, () => number> = {
      ArrowRight: () => (cursor + 1) % n, ArrowDown: () => (cursor + 1) % n,
      ArrowLeft: () => (cursor - 1 + n) % n, ArrowUp: () => (cursor - 1 + n) % n,
      Home: () => 0, End: () => n - 1,
    };
    if (ev.key in moves) {
      select({ bus: cursor < 0 ? 0 : moves[ev.key]() });
    } else if (ev.key === "+" || ev.key === "=") {
      zoom(1 / 1.2, 0.5, 0.5);
    } else if (ev.key === "-") {
      zoom(1.2, 0.5, 0.5);
    } else {
      return;
    }
    ev.preventDefault();
  });
  let drag: { x: number; y: number } | null = null;
  drawing.addEventListener("pointerdown", (ev) => { drag = { x: ev.clientX, y: ev.clientY }; });
  drawing.addEventListener("pointerup", () => { drag = null; });
  drawing.addEventListener("pointerleave", () => { drag = null; });
  drawing.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    const r = drawing.getBoundingClientRect();
    view.x -= ((ev.clientX - drag.x) / r.width) * view.w;
    view.y -= ((ev.clientY - drag.y) / r.height) * view.h;
    drag = { x: ev.clientX, y: ev.clientY };
    apply();
  });
  paint();
  return { element: drawing, fromFile, paint, select };
}

/// Buttons opening the branches at a bus (how the keyboard reaches branches).
export function branchButtons(model: Model, busId: number, diagram: Diagram): HTMLElement[] {
  const out: HTMLElement[] = [];
  model.branches.forEach((br, k) => {
    if (br.from !== busId && br.to !== busId) return;
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = `Branch ${br.from} – ${br.to}`;
    b.addEventListener("click", () => diagram.select({ branch: k }));
    out.push(b);
  });
  return out;
}
