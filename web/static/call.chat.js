// Chat and documents: messages through signalling; files through the booking's file
// store (the call token proves who sends), then offered to the room as a link.
import { t } from "./i18n.js";
import { $, call, clearNote, note, token } from "./call.state.js";

const FILE_TYPES = ["application/pdf", "image/png", "image/jpeg"];
const FILE_MAX_BYTES = 10 * 1024 * 1024;

export function addMessage(name, text) {
  const li = document.createElement("li");
  const from = document.createElement("span");
  from.className = "from";
  from.textContent = `${name} : `;
  const body = document.createElement("span");
  body.textContent = text;
  li.append(from, body);
  $("messages").append(li);
  li.scrollIntoView({ block: "nearest" });
  if ($("chat").hidden) {
    $("chat-toggle").textContent = `${t("call.chat")} •`;
    note(t("call.chat.new", { name }));
  }
}

/** Upload to the booking's file store (the call token proves who sends), then offer it. */
async function sendFile(file) {
  $("file-error").textContent = "";
  if (!FILE_TYPES.includes(file.type)) { $("file-error").textContent = t("call.file.type"); return; }
  if (file.size > FILE_MAX_BYTES) { $("file-error").textContent = t("call.file.size"); return; }
  const form = new FormData();
  form.append("file", file, file.name);
  try {
    const response = await fetch(`/api/bookings/${encodeURIComponent(call.room)}/files`, {
      method: "POST", headers: { Authorization: `Bearer ${token}` }, body: form,
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      $("file-error").textContent = Object.values(body.fields || {}).join(" ") || body.message || t("common.error");
      return;
    }
    call.signaling.send({
      type: "file", url: `/api/bookings/${encodeURIComponent(call.room)}/files/${encodeURIComponent(body.id)}`,
      name: body.name, size: body.size, mime: body.content_type,
    });
    $("file-input").value = "";
  } catch {
    $("file-error").textContent = t("common.error");
  }
}

async function download(frame) {
  try {
    const response = await fetch(frame.url, { headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) throw new Error(String(response.status));
    const url = URL.createObjectURL(await response.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = frame.name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch {
    $("file-error").textContent = t("common.error");
  }
}

export function addFile(frame) {
  if (!frame.url.startsWith("/api/") || frame.url.includes("//") || frame.url.includes("..")) return;
  const li = document.createElement("li");
  const from = document.createElement("span");
  from.className = "from";
  from.textContent = `${frame.from === call.me ? t("call.you") : call.participants.get(frame.from)?.name || ""} : `;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary";
  button.textContent = t("call.file.get", { name: frame.name });
  button.addEventListener("click", () => download(frame));
  li.append(from, button);
  $("messages").append(li);
  note(t("call.file.sent", { name: frame.name }));
  if ($("chat").hidden) $("chat-toggle").textContent = `${t("call.chat")} •`;
}

/** The chat panel's toggle, its form and the file picker. */
export function setupChat() {
  $("chat-toggle").addEventListener("click", () => {
    const open = $("chat").hidden;
    $("chat").hidden = !open;
    $("chat-toggle").setAttribute("aria-expanded", String(open));
    $("chat-toggle").textContent = t("call.chat");
    if (open) { clearNote(); $("chat-text").focus(); }
  });
  $("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("chat-text").value.trim();
    if (!text || !call.signaling) return;
    call.signaling.send({ type: "chat", text: text.slice(0, 2000) });
    $("chat-text").value = "";
  });
  $("file-input").addEventListener("change", () => { const [file] = $("file-input").files; if (file) sendFile(file); });
}
