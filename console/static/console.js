// The covertype console: reads the console's JSON endpoints and draws each panel.
// Charts use the vendored Chart.js (window.Chart); nothing is fetched from elsewhere.
"use strict";

const API = "/console/api";
const PALETTE = ["#2f6f4f", "#2b59c3", "#c26d00", "#8e44ad", "#b3261e", "#00838f", "#6d4c41", "#546e7a"];
const charts = {};
let overview = null;
let selectedVersion = null;

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function showMessage(id, text, kind = "error") {
  const box = document.getElementById(id);
  box.textContent = text || "";
  box.className = kind === "info" ? "message info" : "message";
}

async function getJson(path) {
  const answer = await fetch(API + path, { headers: { Accept: "application/json" } });
  const body = await answer.json();
  if (!answer.ok) throw new Error(body.message || `${path}: HTTP ${answer.status}`);
  return body;
}

function number(value, digits = 4) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

function colour(index) {
  return PALETTE[index % PALETTE.length];
}

function drawChart(id, config) {
  if (charts[id]) {
    charts[id].data = config.data;
    charts[id].options = config.options;
    charts[id].update("none");
    return;
  }
  charts[id] = new window.Chart(document.getElementById(id), config);
}

// ---- versions and model cards ----

async function refreshVersions() {
  let body;
  try {
    body = await getJson("/versions");
  } catch (error) {
    showMessage("versions-message", error.message);
    return;
  }
  showMessage("versions-message", body.registry ? "" : "No registry given to the console: model cards are not shown.", "info");
  const rows = document.querySelector("#versions tbody");
  rows.replaceChildren();
  const versionSelect = document.getElementById("field-version");
  const chosen = versionSelect.value;
  versionSelect.replaceChildren(element("option", { value: "", text: "latest" }));
  let answering = null;
  for (const row of body.versions) {
    if (row.answers_by_default) answering = row.version;
    const card = row.card || {};
    const state = element("td", {}, element("span", { class: `state ${row.state}`, text: row.state }));
    if (row.answers_by_default) state.append(" ", element("span", { class: "answering", text: "answers by default" }));
    if (row.error) state.append(element("div", { class: "error-text", text: row.error }));
    const registryState = row.registry_state
      ? element("span", { class: `state ${row.registry_state}`, text: row.registry_state })
      : "not in registry";
    const labels = element("td");
    for (const label of row.labels || []) labels.append(element("span", { class: "label", text: label }));
    const button = element("button", { type: "button", text: "card" });
    button.addEventListener("click", () => selectVersion(row.version));
    if (!row.card) button.disabled = true;
    const tr = element(
      "tr",
      { "data-version": String(row.version), class: row.version === selectedVersion ? "selected" : "" },
      element("td", { text: String(row.version) }),
      state,
      element("td", {}, registryState),
      labels,
      element("td", { text: card.created || row.published || "–" }),
      element("td", { class: "number", text: number(card.accuracy) }),
      element("td", { class: "number", text: number(card.macro_f1) }),
      element("td", { text: card.data_fingerprint ? String(card.data_fingerprint).slice(0, 16) : "–", title: card.data_fingerprint || "" }),
      element("td", {}, button),
    );
    rows.append(tr);
    if (row.state === "AVAILABLE") versionSelect.append(element("option", { value: String(row.version), text: String(row.version) }));
  }
  versionSelect.value = [...versionSelect.options].some((o) => o.value === chosen) ? chosen : "";
  document.getElementById("summary").textContent =
    `model ${body.model_name} · answering version ${answering ?? "none"} · gateway ${overview.gateway}` +
    (overview.registry ? ` · registry ${overview.registry}` : "");
  if (selectedVersion === null && answering !== null && body.registry) selectVersion(answering);
}

async function selectVersion(version) {
  selectedVersion = version;
  for (const tr of document.querySelectorAll("#versions tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.version === String(version));
  }
  document.getElementById("card").hidden = false;
  document.getElementById("card-title").textContent = `Model card of version ${version}`;
  let card;
  try {
    card = await getJson(`/versions/${version}/card`);
  } catch (error) {
    showMessage("card-message", error.message);
    return;
  }
  showMessage("card-message", "");
  drawConfusion(card);
  drawTrainingCurve(card);
}

function drawConfusion(card) {
  const table = document.getElementById("confusion");
  table.replaceChildren();
  const matrix = card.confusion_matrix || [];
  const names = card.class_names || overview.class_names;
  const header = element("tr", {}, element("th", { text: "true \\ predicted" }));
  matrix.forEach((_, j) => header.append(element("th", { text: String(j + 1), title: names[String(j + 1)] || "" })));
  table.append(header);
  const largest = Math.max(1, ...matrix.flat());
  matrix.forEach((counts, i) => {
    const tr = element("tr", {}, element("th", { text: `${i + 1} ${names[String(i + 1)] || ""}` }));
    counts.forEach((count, j) => {
      const cell = element("td", { text: String(count) });
      const strength = count / largest;
      const hue = i === j ? "47, 111, 79" : "179, 38, 30";
      cell.style.background = `rgba(${hue}, ${(0.08 + 0.72 * strength).toFixed(3)})`;
      if (strength > 0.55) cell.style.color = "#fff";
      tr.append(cell);
    });
    table.append(tr);
  });
}

function drawTrainingCurve(card) {
  const history = card.training_history;
  if (!history || !history.loss) {
    showMessage("card-message", "This card has no per-epoch history (trained before cards recorded it); see training_curve.png in the version folder.", "info");
    if (charts["training-curve"]) { charts["training-curve"].destroy(); delete charts["training-curve"]; }
    return;
  }
  const epochs = history.loss.map((_, i) => i + 1);
  const series = [
    ["loss", "train loss", 0, "y"], ["val_loss", "validation loss", 1, "y"],
    ["accuracy", "train accuracy", 2, "accuracy"], ["val_accuracy", "validation accuracy", 3, "accuracy"],
  ].filter(([key]) => history[key]);
  drawChart("training-curve", {
    type: "line",
    data: {
      labels: epochs,
      datasets: series.map(([key, label, index, axis]) => ({
        label, data: history[key], yAxisID: axis, borderColor: colour(index), borderWidth: 1.5,
        pointRadius: epochs.length < 10 ? 3 : 0, // a short run's points would be invisible
      })),
    },
    options: {
      animation: false, maintainAspectRatio: false,
      scales: {
        x: { title: { display: true, text: card.best_epoch ? `epoch (best ${card.best_epoch})` : "epoch" } },
        y: { position: "left", title: { display: true, text: "loss" } },
        accuracy: { position: "right", min: 0, max: 1, grid: { drawOnChartArea: false }, title: { display: true, text: "accuracy" } },
      },
    },
  });
}

// ---- live traffic ----

async function refreshTraffic() {
  let body;
  try {
    body = await getJson("/traffic");
  } catch (error) {
    showMessage("traffic-message", error.message);
    return;
  }
  document.getElementById("traffic-window").textContent = `(last ${Math.round(body.window_seconds / 60)} minutes)`;
  const points = body.points;
  showMessage("traffic-message", points.length ? "" : "Collecting: rates appear after the second reading of the gateway's metrics.", "info");
  const versions = [...new Set(points.flatMap((p) => Object.keys(p.versions)))].sort();
  const labels = points.map((p) => new Date(p.time * 1000).toLocaleTimeString());
  const line = (version, index, key, dashed) => ({
    label: dashed === undefined ? `version ${version}` : `version ${version} ${key.replace("_ms", "")}`,
    data: points.map((p) => (p.versions[version] ? p.versions[version][key] : null)),
    borderColor: colour(index), borderDash: dashed ? [4, 3] : [], pointRadius: 0, borderWidth: 1.5, spanGaps: false,
  });
  const options = { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } };
  drawChart("traffic-rate", {
    type: "line",
    data: { labels, datasets: versions.map((v, i) => line(v, i, "requests_per_second")) },
    options,
  });
  drawChart("traffic-latency", {
    type: "line",
    data: { labels, datasets: versions.flatMap((v, i) => [line(v, i, "p50_ms", false), line(v, i, "p99_ms", true)]) },
    options,
  });
  const latest = points.length ? points[points.length - 1].versions : {};
  const rows = document.querySelector("#traffic-now tbody");
  rows.replaceChildren();
  for (const [version, figures] of Object.entries(latest)) {
    rows.append(element("tr", {},
      element("td", { text: version }),
      element("td", { class: "number", text: number(figures.requests_per_second, 1) }),
      element("td", { class: "number", text: number(figures.p50_ms, 2) }),
      element("td", { class: "number", text: number(figures.p99_ms, 2) }),
      element("td", { class: "number", text: `${(100 * figures.server_error_share).toFixed(1)}%` }),
      element("td", { class: "number", text: `${(100 * figures.client_error_share).toFixed(1)}%` }),
    ));
  }
  if (!rows.children.length) rows.append(element("tr", {}, element("td", { colspan: "6", class: "muted", text: "no prediction requests in the last interval" })));
}

// ---- drift ----

async function refreshDrift() {
  let body;
  try {
    body = await getJson("/drift");
  } catch (error) {
    showMessage("drift-message", error.message);
    return;
  }
  const target = document.getElementById("drift");
  target.replaceChildren();
  if (body.configured === false) {
    showMessage("drift-message", body.reason, "info");
    return;
  }
  showMessage("drift-message", body.versions.length ? "" : `No predictions logged yet in ${body.log}.`, "info");
  for (const version of body.versions) {
    target.append(element("h4", { text: `version ${version.version}: ${version.predictions} predictions in ${version.requests} requests` }));
    if (!version.outside_training_range) {
      target.append(element("p", { class: "muted", text: "unknown: no model card with training ranges for this version" }));
      continue;
    }
    const table = element("table", {}, element("tr", {}, element("th", { text: "feature" }), element("th", { text: "outside training range" }), element("th", { text: "" })));
    const shares = Object.entries(version.outside_training_range).sort((a, b) => b[1] - a[1]);
    const shown = shares.filter(([name, share]) => share > 0 || overview.form.numeric.some((f) => f.name === name));
    for (const [name, share] of shown) {
      const bar = element("div", { class: share > 0.05 ? "bar high" : "bar" });
      bar.style.width = `${Math.max(1, Math.round(100 * share))}%`;
      table.append(element("tr", {}, element("td", { text: name }), element("td", { class: "number", text: `${(100 * share).toFixed(1)}%` }), element("td", { style: "width:40%" }, bar)));
    }
    target.append(table);
  }
}

// ---- release history ----

async function refreshHistory() {
  let body;
  try {
    body = await getJson("/history");
  } catch (error) {
    showMessage("history-message", error.message);
    return;
  }
  const rows = document.querySelector("#history tbody");
  rows.replaceChildren();
  if (body.configured === false) {
    showMessage("history-message", body.reason, "info");
    return;
  }
  showMessage("history-message", body.events.length ? "" : "No release events recorded yet.", "info");
  for (const event of [...body.events].reverse()) {
    rows.append(element("tr", {},
      element("td", { text: event.time.replace("T", " ").slice(0, 19) }),
      element("td", { text: event.source }),
      element("td", { text: event.event }),
      element("td", { text: event.version ?? "–" }),
      element("td", { text: event.label || event.candidate || "–" }),
      element("td", { text: event.reason || "" }),
    ));
  }
}

// ---- prediction form ----

function buildForm() {
  const container = document.getElementById("numeric-fields");
  const example = overview.form.example;
  for (const feature of overview.form.numeric) {
    const input = element("input", {
      name: feature.name, id: `field-${feature.name}`, type: "text", inputmode: "decimal",
      value: String(example[feature.name]), title: `${feature.description}; ${feature.minimum} to ${feature.maximum}`,
    });
    container.append(element("label", { class: "field" }, feature.name, input, element("span", { class: "field-error", "data-field": feature.name })));
  }
  const fill = (id, count, chosen) => {
    const select = document.getElementById(id);
    for (let i = 1; i <= count; i += 1) select.append(element("option", { value: String(i), text: String(i) }));
    select.value = String(chosen);
  };
  fill("field-wilderness_area", overview.form.wilderness_areas, example.wilderness_area);
  fill("field-soil_type", overview.form.soil_types, example.soil_type);
  document.getElementById("predict-form").addEventListener("submit", submitPrediction);
}

function observationFromForm(form) {
  const observation = {};
  for (const feature of overview.form.numeric) {
    const raw = form.elements[feature.name].value.trim();
    if (raw === "") continue; // absent: the API names the missing feature
    const parsed = Number(raw);
    observation[feature.name] = Number.isFinite(parsed) ? parsed : raw; // the API names a non-number
  }
  observation.wilderness_area = Number(form.elements.wilderness_area.value);
  observation.soil_type = Number(form.elements.soil_type.value);
  return observation;
}

function clearFieldErrors() {
  for (const span of document.querySelectorAll(".field-error")) span.textContent = "";
  for (const input of document.querySelectorAll("#predict-form .invalid")) input.classList.remove("invalid");
}

async function submitPrediction(event) {
  event.preventDefault();
  const form = event.target;
  clearFieldErrors();
  showMessage("predict-message", "");
  const version = form.elements.version.value;
  const query = version ? `?version=${encodeURIComponent(version)}` : "";
  let answer;
  let body;
  try {
    answer = await fetch(`${API}/predict${query}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(observationFromForm(form)),
    });
    body = await answer.json();
  } catch (error) {
    showMessage("predict-message", `no answer: ${error.message}`);
    return;
  }
  if (!answer.ok) {
    showApiError(body);
    return;
  }
  showPrediction(body);
}

function showApiError(body) {
  const unplaced = [];
  for (const problem of body.problems || []) {
    const span = document.querySelector(`.field-error[data-field="${CSS.escape(problem.field)}"]`);
    if (span) {
      span.textContent = `${problem.kind}: ${problem.rule}`;
      const input = document.getElementById(`field-${problem.field}`);
      if (input) input.classList.add("invalid");
    } else {
      unplaced.push(`${problem.field}: ${problem.rule}`);
    }
  }
  const summary = `${body.error}: ${body.message}` + (unplaced.length ? ` (${unplaced.join("; ")})` : "");
  showMessage("predict-message", `${summary} [request ${body.request_id}]`);
}

function showPrediction(body) {
  const prediction = body.predictions[0];
  const target = document.getElementById("prediction");
  target.className = "";
  target.replaceChildren(
    element("div", { class: "cover-type", id: "predicted-cover-type", text: `${prediction.cover_type} ${prediction.cover_type_name}` }),
    element("div", { class: "muted", id: "answered-by", text: `answered by ${body.model_name} version ${body.model_version}` }),
  );
  const names = Object.keys(prediction.probabilities);
  drawChart("probabilities", {
    type: "bar",
    data: {
      labels: names,
      datasets: [{
        label: "probability",
        data: names.map((name) => prediction.probabilities[name]),
        backgroundColor: names.map((name) => (name === prediction.cover_type_name ? "#2f6f4f" : "#9fb8aa")),
      }],
    },
    options: { animation: false, maintainAspectRatio: false, indexAxis: "y", scales: { x: { min: 0, max: 1 } }, plugins: { legend: { display: false } } },
  });
}

// ---- start ----

async function refreshLive() {
  await Promise.all([refreshVersions(), refreshTraffic()]);
}

async function start() {
  try {
    overview = await getJson("/overview");
  } catch (error) {
    document.getElementById("summary").textContent = `cannot read the console's overview: ${error.message}`;
    return;
  }
  buildForm();
  await Promise.all([refreshLive(), refreshDrift(), refreshHistory()]);
  document.body.dataset.loaded = "true";
  const every = overview.refresh_seconds * 1000;
  setInterval(refreshLive, every);
  setInterval(refreshDrift, Math.max(every, 10000));
  setInterval(refreshHistory, Math.max(every, 10000));
}

document.addEventListener("DOMContentLoaded", start);
