// A time-series chart of one quantity (uPlot): its title with the unit, the unit on the y axis,
// times on the x axis in the browser's zone, one coloured line per phase. Used by the monitoring
// page, and by the dashboard benchmark (web/bench/chart) that pans one of 100,000 points.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

const kColours = ["#c0392b", "#d4a017", "#2b7bb9"];

/// A y range uPlot can always divide into ticks: a series without data, or a flat one, gets a
/// sensible span instead of an empty or vanishing one.
const safeRange: uPlot.Range.Function = (_u, min, max) => {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  const span = max - min;
  const pad = Math.max(span * 0.05, Math.abs(max) * 1e-3, 1e-3);
  return [min - pad, max + pad];
};

/// Axes drawn in the page's text colour (light or dark scheme): a canvas cannot read CSS
/// variables, so the colour is taken when the chart is made.
export function axis(label: string): uPlot.Axis {
  const ink = getComputedStyle(document.body).color || "rgb(29, 35, 48)";
  const rgb = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(ink);
  const grid = rgb ? `rgba(${rgb[1]}, ${rgb[2]}, ${rgb[3]}, 0.15)` : "rgba(128, 128, 128, 0.2)";
  return { label, stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
}

export interface ChartSpec {
  title: string;
  unit: string;      // "" for a ratio
  labels: string[];  // one per line
  width: number;
  height?: number;
  plugins?: uPlot.Plugin[];
}

export function timeChart(spec: ChartSpec, data: uPlot.AlignedData, parent: HTMLElement): uPlot {
  return new uPlot({
    title: spec.unit ? `${spec.title} (${spec.unit})` : spec.title,
    width: spec.width,
    height: spec.height ?? 180,
    scales: { y: { range: safeRange } },
    series: [{}, ...spec.labels.map((label, k) => ({ label, stroke: kColours[k % kColours.length], spanGaps: true }))],
    axes: [axis(""), axis(spec.unit || spec.title)],
    plugins: spec.plugins ?? [],
  }, data, parent);
}
