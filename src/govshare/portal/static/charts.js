// Draws each [data-chart] element's monthly series with the vendored ECharts: a line per
// series over the months. The data is a JSON attribute, so the pages need no inline script
// (the Content-Security-Policy allows scripts from the site's own files only).
(function () {
  "use strict";
  function draw(element) {
    var data = JSON.parse(element.getAttribute("data-chart"));
    var chart = window.echarts.init(element, null, { renderer: "svg" });
    chart.setOption({
      color: ["#1a5fb4", "#26a269", "#c64600"],
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 40, right: 16, top: 36, bottom: 28 },
      xAxis: { type: "category", data: data.months, axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", minInterval: 1 },
      series: data.series.map(function (s) {
        return { name: s.name, type: "line", smooth: true, data: s.data };
      }),
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.echarts) return;
    document.querySelectorAll("[data-chart]").forEach(draw);
  });
})();
