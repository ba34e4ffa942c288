// One-question survey after a call; the call's token (in the fragment) proves who answers.
import { ApiError } from "./api.js";
import { setupLanguageSwitch, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.hash.slice(1));
const booking = params.get("booking");
const token = params.get("token");
const form = $("survey-form");

setupLanguageSwitch();
if (!booking || !token) {
  form.hidden = true;
  $("alert").textContent = t("manage.notoken");
} else {
  form.querySelector("button[type=submit]").disabled = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const chosen = form.querySelector("input[name=score]:checked");
  $("score-error").textContent = "";
  if (!chosen) {
    $("score-error").textContent = t("survey.need");
    form.querySelector("input[name=score]").focus();
    return;
  }
  const body = { score: Number(chosen.value) };
  const comment = $("comment").value.trim();
  if (comment) body.comment = comment;
  try {
    const response = await fetch(`/api/bookings/${encodeURIComponent(booking)}/survey`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new ApiError(response.status, null);
    form.hidden = true;
    $("thanks").textContent = t("survey.thanks");
    $("title").focus();
  } catch {
    $("alert").textContent = t("common.error");
  }
});
