import { createCanvas } from '@napi-rs/canvas';
import { Chart, ChartItem, registerables } from 'chart.js';

export interface Series {
  label: string;
  color: string;
  dashed?: boolean;
  /** y by x (concurrency). */
  points: Array<{ x: number; y: number | null }>;
}

/**
 * A line chart as PNG bytes, drawn by Chart.js on a Skia canvas in this process (no browser).
 * The y axis is logarithmic: 20-entry and 2 MiB batches differ by two orders of magnitude.
 */
export function lineChartPng(title: string, xLabel: string, yLabel: string, series: Series[], width = 1000, height = 560): Buffer {
  Chart.register(...registerables);
  const canvas = createCanvas(width, height);
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) => a - b);
  const chart = new Chart(canvas.getContext('2d') as unknown as ChartItem, {
    type: 'line',
    data: {
      labels: xs.map(String),
      datasets: series.map((s) => ({
        label: s.label,
        data: xs.map((x) => s.points.find((p) => p.x === x)?.y ?? null),
        borderColor: s.color,
        backgroundColor: s.color,
        borderDash: s.dashed ? [8, 5] : [],
        borderWidth: 3,
        pointRadius: 4,
        spanGaps: true,
      })),
    },
    options: {
      responsive: false,
      animation: false,
      devicePixelRatio: 1,
      plugins: { title: { display: true, text: title, font: { size: 18 } }, legend: { position: 'bottom' } },
      scales: {
        x: { title: { display: true, text: xLabel } },
        y: { type: 'logarithmic', title: { display: true, text: yLabel } },
      },
    },
    plugins: [
      {
        id: 'white-background',
        beforeDraw: (c) => {
          const ctx = c.ctx;
          ctx.save();
          ctx.fillStyle = '#ffffff';
          ctx.fillRect(0, 0, c.width, c.height);
          ctx.restore();
        },
      },
    ],
  });
  const png = canvas.toBuffer('image/png');
  chart.destroy();
  return png;
}
