// Draws a comparison's history ([data-comparison-chart]) with the vendored ECharts: per run,
// the mismatches by kind as stacked bars and the cases left open as a line. The data is a
// JSON attribute, so the page needs no inline script (the Content-Security-Policy allows
// scripts from the site's own files only); the table beside it reads without scripts.
(function () {
  "use strict";
  function draw(element) {
    var data = JSON.parse(element.getAttribute("data-comparison-chart"));
    var chart = window.echarts.init(element, null, { renderer: "svg" });
    chart.setOption({
      color: ["#c64600", "#1a5fb4", "#613583", "#986a44", "#26a269"],
      tooltip: { trigger: "axis" },
      legend: { top: 0, type: "scroll" },
      grid: { left: 40, right: 16, top: 40, bottom: 28 },
      xAxis: { type: "category", data: data.runs, axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", minInterval: 1 },
      series: data.series.map(function (s) {
        var series = { name: s.name, type: s.type, data: s.data };
        if (s.type === "bar") { series.stack = "mismatches"; series.barMaxWidth = 36; }
        return series;
      }),
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.echarts) return;
    document.querySelectorAll("[data-comparison-chart]").forEach(draw);
  });
})();
