// The signalling WebSocket (/ws, docs/protocol.md): JSON frames, request ids, keep-alive.
export class Signaling extends EventTarget {
  constructor(url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`) {
    super();
    this.url = url;
    this.nextId = 1;
    this.socket = null;
    this.pingTimer = null;
  }

  open() {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this.url);
      this.socket = socket;
      socket.addEventListener("open", () => {
        this.pingTimer = setInterval(() => this.send({ type: "ping" }), 20000);
        resolve();
      }, { once: true });
      socket.addEventListener("error", () => reject(new Error("websocket error")), { once: true });
      socket.addEventListener("message", (event) => {
        let frame;
        try { frame = JSON.parse(event.data); } catch { return; }
        if (frame && typeof frame.type === "string") this.dispatchEvent(new CustomEvent("frame", { detail: frame }));
      });
      socket.addEventListener("close", (event) => {
        clearInterval(this.pingTimer);
        this.dispatchEvent(new CustomEvent("close", { detail: { code: event.code } }));
      });
    });
  }

  isOpen() {
    return Boolean(this.socket && this.socket.readyState === WebSocket.OPEN);
  }

  /** Send a frame; returns the id it was given, which the server echoes as `ref`. */
  send(frame) {
    const id = String(this.nextId++);
    if (this.isOpen()) this.socket.send(JSON.stringify({ ...frame, id }));
    return id;
  }

  close() {
    clearInterval(this.pingTimer);
    if (this.socket) this.socket.close(1000);
  }
}

/** Resolve once ICE gathering is complete (the SFU expects non-trickle SDP), or after a bound. */
export function gatheringComplete(pc, timeoutMs = 5000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    function done() {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    }
    function check() { if (pc.iceGatheringState === "complete") done(); }
    pc.addEventListener("icegatheringstatechange", check);
  });
}
