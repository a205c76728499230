/* Plots of /stats/ and the run waterfall, drawn by the vendored Chart.js.
 * Data arrive in <script type="application/json"> blocks (Django's json_script), so the
 * pages need no inline script and hostile strings are only ever drawn as canvas text. */
(function () {
  "use strict";

  var COLORS = ["#2f6fed", "#15803d", "#d97706", "#7c3aed", "#b91c1c", "#0891b2", "#db2777", "#4b5563"];
  var KIND_COLORS = {
    run: "#9ca3af", model: "#2f6fed", tool: "#15803d", approval: "#7c3aed",
    retry: "#d97706", fallback: "#b91c1c", error: "#b91c1c"
  };

  function readJson(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function color(i) { return COLORS[i % COLORS.length]; }

  function datasets(byName, options) {
    return Object.keys(byName).map(function (name, i) {
      return Object.assign({
        label: name, data: byName[name], borderColor: color(i), backgroundColor: color(i)
      }, options || {});
    });
  }

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas || !window.Chart) { return null; }
    // Axis text and grid follow the page's colour scheme (dark mode included).
    var style = getComputedStyle(document.body);
    window.Chart.defaults.color = style.color;
    window.Chart.defaults.borderColor = style.getPropertyValue("--line").trim() || window.Chart.defaults.borderColor;
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    return new window.Chart(canvas, config);
  }

  function statsPage(data) {
    draw("plot-latency", {
      type: "bar",
      data: { labels: data.histogram.labels, datasets: datasets(data.histogram.counts) },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: "model calls" }, ticks: { precision: 0 } } } }
    });
    draw("plot-cost", {
      type: "line",
      data: { labels: data.series.labels, datasets: datasets(data.series.cost, { tension: 0.2, pointRadius: 2 }) },
      options: {
        scales: { y: { beginAtZero: true, title: { display: true, text: "$" } } },
        plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": $" + c.parsed.y.toFixed(6); } } } }
      }
    });
    var fallback = {};
    Object.keys(data.series.fallback).forEach(function (name) {
      fallback[name] = data.series.fallback[name].map(function (v) { return v === null ? null : v * 100; });
    });
    draw("plot-fallback", {
      type: "line",
      data: { labels: data.series.labels, datasets: datasets(fallback, { spanGaps: true, pointRadius: 3 }) },
      options: { scales: { y: { min: 0, max: 100, title: { display: true, text: "% of runs that attempted it" } } } }
    });
  }

  function waterfall(data) {
    var box = document.getElementById("waterfall-box");
    if (box) { box.style.height = Math.max(160, data.labels.length * 26 + 70) + "px"; }
    draw("plot-waterfall", {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [{
          label: "span",
          data: data.spans,
          backgroundColor: data.kinds.map(function (k) { return KIND_COLORS[k] || "#6b7280"; }),
          borderColor: data.failed.map(function (f) { return f ? "#7f1d1d" : "rgba(0,0,0,0)"; }),
          borderWidth: 1,
          borderSkipped: false,
          minBarLength: 3,
          barPercentage: 0.8,
          categoryPercentage: 0.9
        }]
      },
      options: {
        indexAxis: "y",
        scales: { x: { type: "linear", min: 0, title: { display: true, text: "ms since the run started" } } },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: function (c) {
            var span = data.spans[c.dataIndex];
            return span[0].toFixed(1) + " → " + span[1].toFixed(1) + " ms (" + (span[1] - span[0]).toFixed(1) + " ms)";
          } } }
        }
      }
    });
  }

  function start() {
    var stats = readJson("stats-data");
    if (stats) { statsPage(stats); }
    var timeline = readJson("timeline-data");
    if (timeline) { waterfall(timeline); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
