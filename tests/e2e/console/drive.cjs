// Drives the web console in Debian's headless Chromium (npm puppeteer-core) through one scenario
// and prints what the page showed, as JSON, for tests/e2e/test_console.py to check.
//
//   node drive.cjs '{"scenario": "query"|"engine"|"login", "url": ..., "db": ..., ...}'
const puppeteer = require("puppeteer-core");

async function typeInto(page, selector, text) {
  await page.focus(selector);
  await page.keyboard.down("Control");
  await page.keyboard.press("KeyA");
  await page.keyboard.up("Control");
  await page.keyboard.press("Backspace");
  await page.type(selector, text);
}

async function runQuery(page, language, text) {
  await page.select("#language", language);
  await typeInto(page, "#query", text);
  const before = await page.$eval("#summary", (e) => e.textContent).catch(() => "");
  await page.keyboard.down("Control");
  await page.keyboard.press("Enter");
  await page.keyboard.up("Control");
  await page.waitForFunction((old) => {
    const s = document.querySelector("#summary");
    return (s && s.textContent !== old) || document.querySelector(".error");
  }, { timeout: 20000 }, before);
  // The chart is drawn in a later frame than the summary: sample it once it says it is drawn
  // (or when the result has no chart). A fresh-clone run read its canvas before, blank.
  await page.waitForFunction(() => document.querySelector("#chart-time") ||
                                   !document.querySelector(".chart") || document.querySelector(".error"),
                             { timeout: 5000 }).catch(() => {});
  return page.evaluate(() => {
    const canvas = document.querySelector(".chart canvas");
    let inked = 0;
    if (canvas) {  // pixels the chart drew (anything not transparent)
      const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) inked += 1;
    }
    return {
      summary: document.querySelector("#summary")?.textContent.trim() || "",
      error: document.querySelector(".error")?.textContent || "",
      table_rows: document.querySelectorAll("table.rows tbody tr").length,
      headers: [...document.querySelectorAll("table.rows thead th")].map((th) => th.textContent),
      legend: [...document.querySelectorAll(".u-legend .u-series .u-label")].map((e) => e.textContent),
      inked,
      chart_time: document.querySelector("#chart-time")?.textContent || "",
    };
  });
}

async function main() {
  const job = JSON.parse(process.argv[2]);
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const out = { errors: [] };
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    page.on("pageerror", (e) => out.errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") out.errors.push(m.text()); });
    if (job.maxRows)
      await page.evaluateOnNewDocument((n) => sessionStorage.setItem("riffle.maxRows", String(n)), job.maxRows);
    const started = Date.now();
    const hash = { engine: "engine", data: "data", server: "server", dryrun: "engine", edit: "engine" }[job.scenario] ||
      "query";
    await page.goto(`${job.url}/#${hash}`, { waitUntil: "load" });
    if (job.scenario === "login") {
      await page.waitForSelector("#token", { timeout: 10000 });
      await page.type("#token", "wrong");
      await page.click("form.login button");
      await page.waitForSelector("form.login .error", { timeout: 10000 });
      out.rejected = await page.$eval("form.login .error", (e) => e.textContent);
      await typeInto(page, "#token", job.token);
      await page.click("form.login button");
    }
    await page.waitForFunction((db) => [...document.querySelectorAll("#db option")].some((o) => o.value === db),
                               { timeout: 15000 }, job.db);
    out.first_render_ms = Date.now() - started;
    out.loading_left = await page.evaluate(() => document.body.textContent.includes("Loading the Riffle console"));
    await page.select("#db", job.db);
    if (job.scenario === "login") {
      out.stored = await page.evaluate(() => ({ session: sessionStorage.getItem("riffle.token"),
                                                local: localStorage.getItem("riffle.token") }));
      out.sql = await runQuery(page, "sql", job.sql);
    } else if (job.scenario === "query") {
      out.sql = await runQuery(page, "sql", job.sql);
      out.influxql = await runQuery(page, "influxql", job.influxql);
    } else if (job.scenario === "server") {
      // Two samples make the first rates; the write in between must show as lines written.
      await page.waitForFunction(() => /\d/.test(document.querySelector("#panel-rss strong")?.textContent || ""),
                                 { timeout: 15000 });
      await fetch(`${job.url}/api/v3/write_lp?db=${job.db}`, { method: "POST", body: job.lines });
      await page.waitForFunction(() => Number(document.querySelector("#panel-lines strong")?.textContent) > 0,
                                 { timeout: 15000 });
      out.panels = await page.$$eval(".panel", (ps) => ps.map((p) => ({
        id: p.id, value: p.querySelector("strong").textContent, canvas: !!p.querySelector("canvas") })));
    } else if (job.scenario === "dryrun") {
      await page.select("#dry-kind", "wal");
      await typeInto(page, "#dry-file", job.plugin);
      await typeInto(page, "#dry-input", job.input);
      await page.click("#dry-run");
      await page.waitForSelector("#dry-result", { timeout: 15000 });
      out.result = JSON.parse(await page.$eval("#dry-result", (e) => e.textContent));
    } else if (job.scenario === "edit") {
      await page.waitForFunction((name) => [...document.querySelectorAll("main .toolbar span")]
        .some((e) => e.textContent === name), { timeout: 15000 }, job.trigger);
      out.clicked = await page.evaluate((name) => {
        for (const bar of document.querySelectorAll("main .toolbar")) {
          if (bar.querySelector("span")?.textContent !== name) continue;
          const button = [...bar.querySelectorAll("button")].find((b) => b.textContent === "code");
          if (button) button.click();
          return !!button;
        }
        return false;
      }, job.trigger);
      await page.waitForSelector("#plugin-code", { timeout: 10000 });
      out.before = await page.$eval("#plugin-code", (e) => e.value);
      await typeInto(page, "#plugin-code", job.code);
      await page.click("#save-code");
      await page.waitForFunction(() => document.querySelector("#saved")?.textContent.startsWith("saved"),
                                 { timeout: 10000 });
      out.saved = true;
    } else if (job.scenario === "range") {
      await page.select("#range", job.range);
      out.sql = await runQuery(page, "sql", job.sql);
    } else if (job.scenario === "data") {
      await page.waitForSelector(`#data[data-loaded="${job.db}"]`, { timeout: 15000 });
      out.tables = await page.$$eval(".table-card summary strong", (es) => es.map((e) => e.textContent));
      await page.evaluate(() => [...document.querySelectorAll(".table-card summary button")]
        .find((b) => b.textContent === "count rows").click());
      await page.waitForFunction(() => /series/.test(document.querySelector(".table-card summary").textContent),
                                 { timeout: 10000 });
      out.first_card = await page.$eval(".table-card summary", (e) => e.textContent.replace(/\s+/g, " ").trim());
      if (job.create_table) {  // create one from the page's form; it shows with its columns
        await typeInto(page, "#new-table", job.create_table.name);
        await typeInto(page, "#new-table-tags", job.create_table.tags);
        await typeInto(page, "#new-table-fields", job.create_table.fields);
        await page.click("#create-table");
        await page.waitForFunction((name) => [...document.querySelectorAll(".table-card")]
          .some((c) => c.querySelector("summary strong").textContent === name && c.querySelector("tbody tr")),
                                   { timeout: 10000 }, job.create_table.name);
        out.created = await page.evaluate((name) => {
          const card = [...document.querySelectorAll(".table-card")]
            .find((c) => c.querySelector("summary strong").textContent === name);
          return [...card.querySelectorAll("tbody tr")].map((tr) => [...tr.children].map((td) => td.textContent));
        }, job.create_table.name);
      }
    } else if (job.scenario === "engine") {
      if (job.create) {  // create the trigger from the page's form, then call it
        await typeInto(page, "#trigger-name", job.trigger);
        await typeInto(page, "#trigger-plugin", job.create.plugin);
        await typeInto(page, "#trigger-spec", job.create.spec);
        await page.click("form.toolbar button[type=submit]:not([disabled])");
        await page.waitForFunction((name) => document.querySelector("main").textContent.includes(name),
                                   { timeout: 10000 }, job.trigger);
        const answer = await fetch(`${job.url}/api/v3/engine/${job.create.path}`);
        out.called = answer.status;
      }
      await page.waitForFunction((name, log) => document.querySelector("#runs")?.textContent.includes(name) &&
                                   document.querySelector("#logs")?.textContent.includes(log || ""),
                                 { timeout: 15000 }, job.trigger, job.log);
      out.page = await page.evaluate(() => ({
        text: document.querySelector("main").textContent,
        runs: document.querySelector("#runs").textContent,
        logs: document.querySelector("#logs").textContent,
      }));
      // Disable the trigger from the page; the server must say it is disabled.
      const buttons = await page.$$("main .toolbar button");
      for (const b of buttons) {
        if ((await b.evaluate((e) => e.textContent)) === "disable") {
          await b.click();
          break;
        }
      }
      await page.waitForFunction(() => document.querySelector("main").textContent.includes("disabled"),
                                 { timeout: 10000 });
      out.disabled = true;
    }
    if (job.screenshot) await page.screenshot({ path: job.screenshot });
  } catch (e) {
    out.failure = String(e);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
}

main();
