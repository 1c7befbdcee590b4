// The KPI page's charts (registry_api/console/templates/kpis.html): drawn over the tables
// that already show the same figures, so the page works without them. Chart.js is imported
// piece by piece, so the bundle carries only the chart types the page draws.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Tooltip,
} from "chart.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

function readJson(root, id) {
  const element = root.querySelector(`#${id}`);
  if (!element) {
    return null;
  }
  try {
    return JSON.parse(element.textContent);
  } catch (_error) {
    return null;
  }
}

function stacked(labels, datasets) {
  return {
    type: "bar",
    data: { labels, datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } },
    },
  };
}

const charts = {
  transitions(data, labels) {
    const series = data.transitions.series.map((s) => ({ label: labels[s.key] || s.key, data: s.data }));
    return stacked(data.transitions.labels, series);
  },
  status(data, labels) {
    return {
      type: "bar",
      data: {
        labels: data.status.labels,
        datasets: [{ label: labels.certificates, data: data.status.data }],
      },
      options: { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } },
    };
  },
  border(data) {
    return stacked(data.border.labels, data.border.series);
  },
};

export function drawCharts(root) {
  const data = readJson(root, "kpi-chart-data");
  const labels = readJson(root, "kpi-chart-labels") || {};
  if (!data) {
    return;
  }
  for (const canvas of root.querySelectorAll("canvas[data-chart]")) {
    const make = charts[canvas.dataset.chart];
    if (make && !Chart.getChart(canvas)) {
      new Chart(canvas, make(data, labels));
    }
  }
}
