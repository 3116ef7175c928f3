// What the tablet keeps in IndexedDB for selling offline: its own key pair (made at
// pairing; the private half never leaves the browser) and every offline sale, each with
// its idempotency key and signature, until the service has answered it. Sales are kept
// after forwarding too, for the one-sale-per-voucher-per-day rule and the till's total.

const DB_NAME = "pos-till";
const VERSION = 1;

let opened = null;

function open() {
  if (opened) return opened;
  opened = new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore("device");
      const sales = db.createObjectStore("sales", { keyPath: "seq", autoIncrement: true });
      sales.createIndex("key", "key", { unique: true });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opened;
}

async function run(storeName, mode, work) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(storeName, mode);
    const result = work(tx.objectStore(storeName));
    tx.oncomplete = () => resolve(result?.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export const deviceKey = {
  get: () => run("device", "readonly", (s) => s.get("key")),
  put: (value) => run("device", "readwrite", (s) => s.put(value, "key")),
};

export const sales = {
  add: (sale) => run("sales", "readwrite", (s) => s.add(sale)),
  put: (sale) => run("sales", "readwrite", (s) => s.put(sale)),
  /** Every kept sale, oldest first. */
  all: () => run("sales", "readonly", (s) => s.getAll()),
};
