// Verifies recorded webhookd deliveries with the npm standardwebhooks library, exactly as the
// README tells a receiver to: `new Webhook(secret)` for a whsec_<base64> secret, the secret's
// bytes as a raw key for any other. Reads a JSON file of deliveries
// ([{headers, body, secrets}]) and prints counts as JSON. Run by TestStandardWebhooksInterop.
"use strict";
const fs = require("node:fs");
const { Webhook } = require("standardwebhooks");

function receiver(secret) {
  // The README's lines, word for word.
  return secret.startsWith("whsec_")
    ? new Webhook(secret)
    : new Webhook(new TextEncoder().encode(secret), { format: "raw" });
}

function verifies(wh, body, headers) {
  try {
    wh.verify(body, headers);
    return true;
  } catch {
    return false;
  }
}

const deliveries = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const out = { deliveries: deliveries.length, verified: 0, checks: 0, passed: 0, tamperedRejected: 0, oldKeyingRejected: 0, oldKeyingChecks: 0, failures: [] };
for (const d of deliveries) {
  let all = true;
  for (const secret of d.secrets) {
    out.checks++;
    const wh = receiver(secret);
    if (verifies(wh, d.body, d.headers)) {
      out.passed++;
    } else {
      all = false;
      out.failures.push({ id: d.headers["webhook-id"], secret });
    }
    if (!verifies(wh, d.body + " ", d.headers)) out.tamperedRejected++;
    if (secret.startsWith("whsec_")) {
      // Keyed with the secret's own bytes (webhookd before Standard Webhooks interop): refused.
      out.oldKeyingChecks++;
      if (!verifies(new Webhook(new TextEncoder().encode(secret), { format: "raw" }), d.body, d.headers)) out.oldKeyingRejected++;
    }
  }
  if (all) out.verified++;
}
console.log(JSON.stringify(out));
