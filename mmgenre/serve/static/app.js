// The web page: send the chosen or dropped posters to /v1/predict and show each one's genre bars, OCR text and time.
"use strict";

const state = { thresholds: {}, maxFiles: 32, maxBytes: 20 * 2 ** 20 };
const $ = (selector) => document.querySelector(selector);

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function loadModel() {
  try {
    const model = await (await fetch("/v1/model")).json();
    state.thresholds = model.thresholds || {};
    state.maxFiles = model.limits.max_files;
    state.maxBytes = model.limits.max_upload_bytes;
    const recipe = (model.recipe && model.recipe.name) || "model";
    $("#model").textContent = `${recipe}: ${model.labels.length} genres, on ${model.device}`;
    $("#limits").textContent =
      `up to ${state.maxFiles} posters at a time, ${(state.maxBytes / 2 ** 20).toFixed(0)} MB each`;
  } catch (error) {
    $("#model").textContent = `cannot read /v1/model: ${error}`;
  }
}

function newCard(file) {
  const card = element("article", "card");
  card.dataset.file = file.name;
  const image = element("img");
  image.alt = file.name;
  image.src = URL.createObjectURL(file);
  const body = element("div", "body");
  body.append(element("h2", "", file.name), element("p", "status", "reading…"));
  card.append(image, body, element("div", "ocr"));
  $("#results").prepend(card);
  return card;
}

function showPrediction(card, prediction, seconds) {
  card.classList.add("done");
  const body = card.querySelector(".body");
  body.querySelector(".status").remove();
  body.append(element("p", "genres", prediction.genres.join(", ")));
  const bars = element("ol", "bars");
  for (const [genre, score] of Object.entries(prediction.scores)) {
    const bar = element("li", prediction.genres.includes(genre) ? "bar chosen" : "bar");
    const track = element("span", "track");
    const fill = element("span", "fill");
    fill.style.width = `${(score * 100).toFixed(1)}%`;
    track.append(fill);
    if (genre in state.thresholds) {
      const tick = element("span", "tick");
      tick.style.left = `${(state.thresholds[genre] * 100).toFixed(1)}%`;
      tick.title = `threshold ${state.thresholds[genre].toFixed(2)}`;
      track.append(tick);
    }
    bar.append(element("span", "genre", genre), track, element("span", "score", score.toFixed(2)));
    bars.append(bar);
  }
  const own = Object.values(prediction.seconds).reduce((a, b) => a + b, 0);
  body.append(bars, element("p", "time", `${own.toFixed(2)} s for this poster, ${seconds.total.toFixed(2)} s for the request`));
  const ocr = card.querySelector(".ocr");
  ocr.append(element("h3", "", "OCR text"), element("pre", "", prediction.ocr_text || "(no text found)"));
}

function showError(card, message) {
  card.classList.add("failed");
  card.querySelector(".status").textContent = message;
}

async function predict(files) {
  const cards = files.map(newCard);
  const form = new FormData();
  files.forEach((file) => form.append("files", file, file.name));
  let answer;
  let ok = false;
  try {
    const response = await fetch("/v1/predict", { method: "POST", body: form });
    ok = response.ok;
    answer = await response.json();
  } catch (error) {
    cards.forEach((card) => showError(card, `request failed: ${error}`));
    return;
  }
  for (const error of answer.errors || []) showError(cards[error.index], `${error.category} ${error.detail}`.trim());
  for (const prediction of answer.predictions || []) showPrediction(cards[prediction.index], prediction, answer.seconds);
  const unanswered = cards.filter((card) => !card.classList.contains("done") && !card.classList.contains("failed"));
  unanswered.forEach((card) => showError(card, (!ok && answer.error) || "no answer for this poster"));
}

function send(fileList) {
  const files = Array.from(fileList);
  for (let start = 0; start < files.length; start += state.maxFiles) {
    predict(files.slice(start, start + state.maxFiles));
  }
}

function wireDropZone() {
  const zone = $("#drop");
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    send(event.dataTransfer.files);
  });
  $("#files").addEventListener("change", (event) => { send(event.target.files); event.target.value = ""; });
}

wireDropZone();
loadModel();
