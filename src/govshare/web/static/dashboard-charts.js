// Draws the home page's overview charts ([data-dashboard-chart]) with the vendored ECharts.
// Each chart's data is a JSON attribute (categories, series, whether its bars lie
// horizontally, a unit), so the page needs no inline script (the Content-Security-Policy
// allows scripts from the site's own files only); the table beside each reads without scripts.
(function () {
  "use strict";
  var COLORS = ["#1a5fb4", "#c64600", "#26a269", "#613583", "#986a44", "#e5a50a"];
  var NAMED = { "逾期": "#c01c28", "逾期未整改": "#c01c28", "按期": "#26a269", "整改期限内": "#e5a50a", "待审核": "#1a5fb4" };

  function draw(element) {
    var data = JSON.parse(element.getAttribute("data-dashboard-chart"));
    var narrow = element.clientWidth < 480;
    if (data.horizontal) {
      // A bar per category: the chart grows with them, so no label is squeezed out.
      element.style.height = Math.max(160, data.categories.length * 30 + 70) + "px";
    }
    var unit = data.unit || "";
    var stacked = data.series.some(function (s) { return s.stack; });
    var categoryAxis = {
      type: "category",
      data: data.categories,
      inverse: data.horizontal,
      axisTick: { show: false },
      axisLabel: data.horizontal
        ? { width: narrow ? 100 : 140, overflow: "truncate" }
        : { hideOverlap: true },
    };
    var valueAxis = {
      type: "value",
      minInterval: unit ? 0 : 1,
      max: unit === "%" ? 100 : null,
      axisLabel: { formatter: "{value}" + unit },
    };
    var chart = window.echarts.init(element, null, { renderer: "svg" });
    chart.setOption({
      color: COLORS,
      tooltip: {
        trigger: "axis",
        axisPointer: { type: "shadow" },
        valueFormatter: function (v) { return v + unit; },
      },
      legend: data.series.length > 1 ? { top: 0, type: "scroll" } : { show: false },
      grid: {
        left: 8, right: data.horizontal ? (unit ? 48 : 32) : 12, top: data.series.length > 1 ? 34 : 10,
        bottom: 4, containLabel: true,
      },
      xAxis: data.horizontal ? valueAxis : categoryAxis,
      yAxis: data.horizontal ? categoryAxis : valueAxis,
      series: data.series.map(function (s, i) {
        var series = {
          name: s.name, type: s.type, data: s.data,
          barMaxWidth: data.horizontal ? 18 : 28,
          itemStyle: { color: NAMED[s.name] || COLORS[i % COLORS.length] },
        };
        if (s.stack) series.stack = s.stack;
        // The value at the bar's end, where a bar stands alone or ends its stack.
        if (data.horizontal && (!stacked || i === data.series.length - 1)) {
          series.label = {
            show: true, position: "right", color: "#1d2430",
            formatter: stacked
              ? function (p) {
                  var total = data.series.reduce(function (sum, t) { return sum + t.data[p.dataIndex]; }, 0);
                  return total ? total + unit : "";
                }
              : function (p) { return p.value + unit; },
          };
        }
        return series;
      }),
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.echarts) return;
    document.querySelectorAll("[data-dashboard-chart]").forEach(draw);
  });
})();
