// The console's page: polls the read-only JSON once a second and draws it. Every text from the server goes in
// through textContent, never as markup, so a guest's console or a zone's reason cannot add elements to the page.
"use strict";

let selected = decodeURIComponent((location.hash.match(/^#zone=(.*)$/) || [])[1] || "");

async function get(path) {
  const r = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  if (r.status === 401) {
    location.assign("/login");
    throw new Error("logged out");
  }
  if (!r.ok) {
    throw new Error(path + ": HTTP " + r.status);
  }
  return r.json();
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function bytes(n) {
  if (n < 0) return "-";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return n.toFixed(i ? 1 : 0) + " " + units[i];
}

function showZones(data) {
  const body = document.querySelector("#zones tbody");
  const rows = [];
  for (const z of data.zones) {
    const tr = document.createElement("tr");
    tr.dataset.zone = z.name;
    if (z.name === selected) tr.className = "selected";
    const a = document.createElement("a");
    a.href = "#zone=" + encodeURIComponent(z.name);
    a.textContent = z.name;
    cell(tr, "").appendChild(a);
    cell(tr, z.state, "state").title = z.reason;
    cell(tr, z.driver, "driver");
    cell(tr, z.cpuPercent < 0 ? "-" : z.cpuPercent.toFixed(1), "num cpu");
    cell(tr, bytes(z.memoryBytes), "num memory");
    cell(tr, z.since, "since");
    rows.push(tr);
  }
  body.replaceChildren(...rows);
  document.getElementById("updated").textContent = "updated " + data.time;
}

function polyline(points, index, max) {
  const t0 = Date.now() - 300000;
  return points.filter(p => p[index] >= 0)
    .map(p => (Math.max(0, (p[0] - t0) / 300000) * 600).toFixed(1) + "," + (156 - (p[index] / max) * 150).toFixed(1))
    .join(" ");
}

function showGraph(data) {
  const pts = data.points;
  const cpuMax = Math.max(100, ...pts.map(p => p[1]));
  const memMax = Math.max(1, ...pts.map(p => p[2]));
  document.getElementById("graph-cpu").setAttribute("points", polyline(pts, 1, cpuMax));
  document.getElementById("graph-mem").setAttribute("points", polyline(pts, 2, memMax));
  document.getElementById("graph-scale").textContent = "top: " + cpuMax.toFixed(0) + " % CPU, " + bytes(memMax);
}

function showConsole(data) {
  const pre = document.getElementById("console");
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  if (pre.textContent !== data.text) {
    pre.textContent = data.text;
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }
}

function showDrivers(data) {
  const d = data.drivers.map(x => {
    const tr = document.createElement("tr");
    cell(tr, x.type); cell(tr, x.bundle); cell(tr, x.version, "version");
    return tr;
  });
  document.querySelector("#drivers tbody").replaceChildren(...d);
  const u = data.upgrades.slice().reverse().map(x => {
    const tr = document.createElement("tr");
    cell(tr, x.time); cell(tr, x.kind); cell(tr, x.driver); cell(tr, x.reason);
    return tr;
  });
  document.querySelector("#upgrades tbody").replaceChildren(...u);
}

async function tick() {
  try {
    showZones(await get("/api/zones"));
    const section = document.getElementById("zone");
    section.hidden = !selected;
    if (selected) {
      const q = "?zone=" + encodeURIComponent(selected);
      document.getElementById("zone-title").textContent = "Zone " + selected;
      document.getElementById("logs-link").href = "/logs" + q;
      showGraph(await get("/api/history" + q));
      showConsole(await get("/api/console" + q));
    }
  } catch (e) {
    document.getElementById("updated").textContent = "not updated: " + e.message;
  }
}

let drivers = 0;
async function loop() {
  await tick();
  if (drivers++ % 10 === 0) {
    try { showDrivers(await get("/api/drivers")); } catch (e) { /* shown again in ten seconds */ }
  }
  setTimeout(loop, 1000);
}

window.addEventListener("hashchange", () => {
  selected = decodeURIComponent((location.hash.match(/^#zone=(.*)$/) || [])[1] || "");
  tick();
});
loop();
