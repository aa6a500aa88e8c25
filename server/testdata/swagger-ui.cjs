// Drives Swagger UI (/docs) in headless Chromium the way a person would, with the examples the
// page prefills: Authorize, create an album, create a webhook with two events, PATCH it with
// add_event, create a facility webhook. Each answer must be 2xx, each request what the page
// shows. Run by TestSwaggerUIInBrowser with WEBHOOKD_URL and WEBHOOKD_TOKEN; prints a JSON
// report of the steps.
"use strict";
const { chromium } = require("playwright-core");

const base = process.env.WEBHOOKD_URL;
const token = process.env.WEBHOOKD_TOKEN;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

async function main() {
  const t0 = Date.now();
  const browser = await chromium.launch({
    executablePath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const steps = [];
  const problems = [];
  try {
    const page = await browser.newPage();
    // Generous: the machine running CI is shared and small (Swagger UI renders the contract in
    // a few seconds when idle, several times that under load).
    page.setDefaultTimeout(45000);
    page.on("console", (m) => { if (m.type() === "error") problems.push("console: " + m.text()); });
    page.on("pageerror", (e) => problems.push("page error: " + e.message));
    page.on("request", (r) => {
      if (!r.url().startsWith(base)) problems.push("request outside the server: " + r.url());
    });

    steps.push({ step: "launch", ms: Date.now() - t0 });
    await page.goto(base + "/docs/", { waitUntil: "domcontentloaded", timeout: 90000 });
    await page.waitForSelector(".swagger-ui .information-container .title", { timeout: 90000 });

    // Authorize with the bearer token.
    await page.click(".auth-wrapper .btn.authorize");
    await page.fill(".modal-ux input[type=text], .modal-ux input:not([type])", token);
    await page.click(".modal-ux .auth-btn-wrapper .btn.authorize");
    await page.click(".modal-ux .auth-btn-wrapper .btn-done");
    steps.push({ step: "authorize", ms: Date.now() - t0 });

    // Opens an operation, fills path parameters, clicks Execute and returns the exchange.
    async function execute(opId, pathParams, method, pathSuffix) {
      const t0 = Date.now();
      const op = page.locator(`[id$="-${opId}"].opblock`);
      await op.locator(".opblock-summary").first().click();
      for (const [name, value] of Object.entries(pathParams)) {
        await op.locator(`tr[data-param-name="${name}"] input`).fill(value);
      }
      const [res] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === method && new URL(r.url()).pathname.endsWith(pathSuffix)),
        op.locator("button.execute").click(),
      ]);
      const body = await res.text();
      const shown = await op.locator(".live-responses-table tbody .response-col_status").first().innerText();
      const step = { step: opId, status: res.status(), shownStatus: shown.trim(), request: res.request().postData() || "", response: body, ms: Date.now() - t0 };
      steps.push(step);
      // Closes the operation, so the next one's selectors are unambiguous.
      await op.locator(".opblock-summary").first().click();
      return step;
    }

    const album = await execute("createAlbum", {}, "POST", "/albums");
    const albumID = JSON.parse(album.response).album_id;
    const hook = await execute("createWebhook", { album_id: albumID }, "POST", `/albums/${albumID}/webhooks`);
    const hookID = JSON.parse(hook.response).id;
    await execute("updateWebhook", { album_id: albumID, webhook_id: hookID }, "PATCH", `/webhooks/${hookID}`);
    await execute("createFacilityWebhook", {}, "POST", "/api/v2/public/webhooks/facility");
  } catch (e) {
    problems.push("failed: " + (e && e.stack ? e.stack : String(e)));
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify({ steps, problems }));
}

main();
