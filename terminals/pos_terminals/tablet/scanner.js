// Reading a QR code from the camera: the browser's BarcodeDetector where it reads QR codes,
// else the vendored jsQR decoder on downscaled frames. The decoder used is exposed on
// `Scanner.decoder` ("native" or "jsqr") so tests and support can see which path ran.

const FRAME_MS = 120;
const MAX_WIDTH = 800;  // jsQR is fast enough on frames this size on a modest tablet

function loadScript(src) {
  return new Promise((resolve, reject) => {
    if (window.jsQR) return resolve();
    const script = document.createElement("script");
    script.src = src;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

async function nativeDetector() {
  if (!("BarcodeDetector" in window)) return null;
  try {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    if (!formats.includes("qr_code")) return null;
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    return async (video) => (await detector.detect(video))[0]?.rawValue ?? null;
  } catch {
    return null;
  }
}

async function jsqrDetector() {
  await loadScript("vendor/jsqr/jsQR.js");
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  return async (video) => {
    const scale = Math.min(1, MAX_WIDTH / video.videoWidth);
    const w = Math.round(video.videoWidth * scale);
    const h = Math.round(video.videoHeight * scale);
    if (!w || !h) return null;
    canvas.width = w;
    canvas.height = h;
    ctx.drawImage(video, 0, 0, w, h);
    const found = window.jsQR(ctx.getImageData(0, 0, w, h).data, w, h,
      { inversionAttempts: "attemptBoth" });
    return found?.data || null;
  };
}

export class Scanner {
  constructor(video) {
    this.video = video;
    this.stream = null;
    this.timer = null;
    this.decoder = null;
  }

  /**
   * Start the camera, call `onShowing()` once its picture is on screen and `onText(text)`
   * once for the first code read.
   */
  async start(onText, onShowing = () => {}) {
    this.stop();
    if (!navigator.mediaDevices?.getUserMedia) throw new Error("no camera API");
    this.stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 } }, audio: false,
    });
    this.video.srcObject = this.stream;
    await this.video.play();
    onShowing();
    let detect = await nativeDetector();
    this.decoder = "native";
    if (!detect) {
      detect = await jsqrDetector();
      this.decoder = "jsqr";
    }
    this.video.dataset.decoder = this.decoder;
    const tick = async () => {
      if (!this.stream) return;
      let text = null;
      try {
        text = await detect(this.video);
      } catch {
        text = null;  // a frame that could not be read; the next one may
      }
      if (text && this.stream) {
        this.stop();
        onText(text);
        return;
      }
      this.timer = setTimeout(tick, FRAME_MS);
    };
    tick();
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.stream) {
      for (const track of this.stream.getTracks()) track.stop();
    }
    this.stream = null;
    this.video.srcObject = null;
  }
}
