// The chart-library choice of the web console (issue 18: "uPlot or ECharts — measure and choose"):
// 100,000 points (10 series × 10,000) drawn by each in headless Chromium, three times.
//   cd bench/chart_libraries && npm install --no-save echarts@6.1.0 uplot@1.6.32 &&
//   NODE_PATH=../../build/node/node_modules node run.cjs
const puppeteer = require("puppeteer-core");
(async () => {
  const browser = await puppeteer.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 900 });
  await page.goto(`file://${__dirname}/page.html`);
  const result = await page.evaluate(() => {
    const n = 10000, series = 10, t0 = 1700000000;
    const times = Array.from({ length: n }, (_, i) => t0 + i);
    const ys = Array.from({ length: series }, (_, s) => Array.from({ length: n }, (_, i) => (i * 7 + s * 13) % 100));
    const out = { uplot: [], echarts: [], echarts_sampled: [] };
    for (let r = 0; r < 3; r++) {
      document.getElementById("u").innerHTML = "";
      let t = performance.now();
      const u = new uPlot({ width: 1000, height: 320, series: [{}, ...ys.map((_, s) => ({ label: "s" + s, stroke: "#36c" }))], scales: { x: { time: true } } }, [times, ...ys], document.getElementById("u"));
      out.uplot.push(performance.now() - t);
      u.destroy();
      for (const [key, sampling] of [["echarts", undefined], ["echarts_sampled", "lttb"]]) {
        const el = document.getElementById("e");
        const chart = echarts.init(el, null, { renderer: "canvas" });
        t = performance.now();
        chart.setOption({ animation: false, xAxis: { type: "time" }, yAxis: { type: "value" }, legend: {},
          series: ys.map((y, s) => ({ name: "s" + s, type: "line", showSymbol: false, sampling, data: y.map((v, i) => [times[i] * 1000, v]) })) });
        out[key].push(performance.now() - t);
        chart.dispose();
      }
    }
    return out;
  });
  console.log(JSON.stringify(result));
  await browser.close();
})();
