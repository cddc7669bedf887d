import { Canvas, createCanvas } from '@napi-rs/canvas';
import { Chart, ChartConfiguration, ChartItem, Plugin, registerables } from 'chart.js';

/*
 * Charts as PNG bytes, drawn by Chart.js on a Skia canvas in this process (no browser): panels
 * with a linear axis each (one workload per panel), the targets drawn as dashed lines, and every
 * missed target marked in red on the bars it concerns. Panels are laid out on one image.
 */

export interface TargetLine {
  value: number;
  label: string;
  /** Category indexes the target applies to (bar panels); all when absent. */
  categories?: number[];
  /** The y axis it is drawn on (line panels with two axes). */
  axis?: 'y' | 'y2';
}

export interface Verdict {
  /** Category index (bar panels). */
  category: number;
  /** The datasets (bars) of the category the target concerns; all when absent. */
  datasets?: number[];
  ok: boolean;
  text: string;
}

export interface BarPanel {
  kind: 'bar';
  title: string;
  yLabel: string;
  categories: string[];
  datasets: Array<{ label: string; color: string; values: Array<number | null> }>;
  /** One bar per category made of the datasets stacked (CPU by process). */
  stacked?: boolean;
  targets?: TargetLine[];
  verdicts?: Verdict[];
  /** Printed under the title (a unit, what was measured). */
  note?: string;
}

export interface LinePanel {
  kind: 'line';
  title: string;
  xLabel: string;
  yLabel: string;
  y2Label?: string;
  series: Array<{ label: string; color: string; points: Array<{ x: number; y: number | null }>; axis?: 'y' | 'y2'; dashed?: boolean }>;
  targets?: TargetLine[];
  note?: string;
}

export type Panel = BarPanel | LinePanel;

const MISSED = '#c62828';
const MET = '#2e7d32';

const whiteBackground: Plugin = {
  id: 'white-background',
  beforeDraw: (c) => {
    c.ctx.save();
    c.ctx.fillStyle = '#ffffff';
    c.ctx.fillRect(0, 0, c.width, c.height);
    c.ctx.restore();
  },
};

/** Target lines and verdict marks, drawn over the datasets. */
function marks(panel: Panel): Plugin {
  return {
    id: 'targets-and-verdicts',
    afterDatasetsDraw: (chart) => {
      const { ctx, chartArea } = chart;
      const x = chart.scales.x;
      ctx.save();
      for (const t of panel.targets ?? []) {
        const y = chart.scales[t.axis ?? 'y'];
        if (!y) continue;
        const py = y.getPixelForValue(t.value);
        let left = chartArea.left;
        let right = chartArea.right;
        if (t.categories && panel.kind === 'bar') {
          const band = (chartArea.right - chartArea.left) / panel.categories.length;
          left = Math.min(...t.categories.map((i) => x.getPixelForValue(i) - band / 2)) + 4;
          right = Math.max(...t.categories.map((i) => x.getPixelForValue(i) + band / 2)) - 4;
        }
        ctx.strokeStyle = '#111111';
        ctx.lineWidth = 2;
        ctx.setLineDash([7, 5]);
        ctx.beginPath();
        ctx.moveTo(left, py);
        ctx.lineTo(right, py);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.font = 'bold 12px sans-serif';
        const w = ctx.measureText(t.label).width;
        ctx.fillStyle = 'rgba(255, 255, 255, 0.85)';
        ctx.fillRect(right - w - 6, py - 18, w + 6, 15);
        ctx.fillStyle = '#111111';
        ctx.textAlign = 'right';
        ctx.textBaseline = 'bottom';
        ctx.fillText(t.label, right - 3, py - 4);
      }
      if (panel.kind === 'bar') {
        for (const v of panel.verdicts ?? []) {
          // The box around every bar of the category.
          let top = Infinity;
          let bottom = -Infinity;
          let left = Infinity;
          let right = -Infinity;
          chart.data.datasets.forEach((_, d) => {
            if (v.datasets && !v.datasets.includes(d)) return;
            const bar = chart.getDatasetMeta(d).data[v.category] as unknown as { x: number; y: number; base: number; width: number } | undefined;
            if (!bar || !Number.isFinite(bar.y)) return;
            top = Math.min(top, bar.y, bar.base);
            bottom = Math.max(bottom, bar.y, bar.base);
            left = Math.min(left, bar.x - bar.width / 2);
            right = Math.max(right, bar.x + bar.width / 2);
          });
          if (!Number.isFinite(top)) continue;
          ctx.strokeStyle = v.ok ? MET : MISSED;
          ctx.lineWidth = v.ok ? 2 : 4;
          ctx.strokeRect(left - 3, top - 3, right - left + 6, bottom - top + 6);
          ctx.fillStyle = v.ok ? MET : MISSED;
          ctx.font = 'bold 13px sans-serif';
          ctx.textAlign = 'center';
          ctx.textBaseline = 'bottom';
          ctx.fillText(`${v.ok ? '✓' : '✗ MISSED'} ${v.text}`, (left + right) / 2, Math.max(chartArea.top + 14, top - 6));
        }
      }
      ctx.restore();
    },
  };
}

function maxOf(panel: Panel): number {
  const values: number[] = [];
  if (panel.kind === 'bar') {
    if (panel.stacked) panel.categories.forEach((_, i) => values.push(panel.datasets.reduce((a, d) => a + (d.values[i] ?? 0), 0)));
    else for (const d of panel.datasets) for (const v of d.values) if (v !== null) values.push(v);
  } else for (const s of panel.series) if ((s.axis ?? 'y') === 'y') for (const p of s.points) if (p.y !== null) values.push(p.y);
  for (const t of panel.targets ?? []) if ((t.axis ?? 'y') === 'y') values.push(t.value);
  return Math.max(0, ...values.filter(Number.isFinite));
}

/** Draws the panel and hands its canvas to `use` (Chart.js clears the canvas when destroyed). */
function withPanelCanvas(panel: Panel, width: number, height: number, use: (canvas: Canvas) => void): void {
  Chart.register(...registerables);
  const canvas = createCanvas(width, height);
  const title = { display: true, text: panel.note ? [panel.title, panel.note] : panel.title, font: { size: 15 } };
  // Room above the tallest bar or target for the labels.
  const suggestedMax = maxOf(panel) * 1.18 || 1;
  let config: ChartConfiguration;
  // A picture of fixed size and the same title and legend in every panel.
  const fixedSize = { responsive: false, animation: false as const, devicePixelRatio: 1, plugins: { title, legend: { position: 'bottom' as const, labels: { boxWidth: 14 } } } };
  if (panel.kind === 'bar') {
    config = {
      type: 'bar',
      data: {
        labels: panel.categories,
        datasets: panel.datasets.map((d) => ({ label: d.label, data: d.values, backgroundColor: d.color, borderColor: d.color, borderWidth: 1 })),
      },
      options: {
        ...fixedSize,
        scales: {
          x: { stacked: !!panel.stacked },
          y: { stacked: !!panel.stacked, beginAtZero: true, suggestedMax, title: { display: true, text: panel.yLabel } },
        },
      },
      plugins: [whiteBackground, marks(panel)],
    };
  } else {
    const y2Max = Math.max(0, ...panel.series.filter((s) => s.axis === 'y2').flatMap((s) => s.points.map((p) => p.y ?? 0)), ...(panel.targets ?? []).filter((t) => t.axis === 'y2').map((t) => t.value));
    config = {
      type: 'line',
      data: {
        datasets: panel.series.map((s) => ({
          label: s.label,
          data: s.points.map((p) => ({ x: p.x, y: p.y })),
          borderColor: s.color,
          backgroundColor: s.color,
          borderDash: s.dashed ? [8, 5] : [],
          borderWidth: 2,
          pointRadius: 2,
          yAxisID: s.axis ?? 'y',
          spanGaps: true,
        })),
      },
      options: {
        ...fixedSize,
        scales: {
          x: { type: 'linear', beginAtZero: true, title: { display: true, text: panel.xLabel } },
          y: { beginAtZero: true, suggestedMax, title: { display: true, text: panel.yLabel } },
          ...(panel.y2Label ? { y2: { position: 'right' as const, beginAtZero: true, suggestedMax: y2Max * 1.18 || 1, grid: { drawOnChartArea: false }, title: { display: true, text: panel.y2Label } } } : {}),
        },
      },
      plugins: [whiteBackground, marks(panel)],
    };
  }
  const chart = new Chart(canvas.getContext('2d') as unknown as ChartItem, config);
  try {
    use(canvas);
  } finally {
    chart.destroy();
  }
}

/** Panels in a grid under a heading, as one PNG. */
export function dashboardPng(heading: string, subheading: string, panels: Panel[], columns = 2, panelWidth = 760, panelHeight = 440): Buffer {
  const rows = Math.ceil(panels.length / columns);
  const top = 70;
  const canvas = createCanvas(columns * panelWidth, top + rows * panelHeight);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = '#111111';
  ctx.font = 'bold 22px sans-serif';
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  ctx.fillText(heading, 16, 10);
  ctx.font = '14px sans-serif';
  ctx.fillStyle = '#444444';
  ctx.fillText(subheading, 16, 42);
  panels.forEach((panel, i) => {
    withPanelCanvas(panel, panelWidth - 10, panelHeight - 10, (c) => ctx.drawImage(c, (i % columns) * panelWidth + 5, top + Math.floor(i / columns) * panelHeight + 5));
    ctx.strokeStyle = '#dddddd';
    ctx.lineWidth = 1;
    ctx.strokeRect((i % columns) * panelWidth + 4, top + Math.floor(i / columns) * panelHeight + 4, panelWidth - 8, panelHeight - 8);
  });
  return canvas.toBuffer('image/png');
}
