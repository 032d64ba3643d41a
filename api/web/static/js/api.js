// The only way the page reaches data: the service's JSON API with the user's bearer token.
const KEY = "matching.token";

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

// A file from the API (e.g. the meeting workbook), saved under the server's file name.
export async function download(path, fallbackName) {
  const r = await fetch(path, { headers: { Authorization: `Bearer ${token.get() || ""}` } });
  if (!r.ok) {
    if (r.status === 401) onUnauthorized();
    const data = r.headers.get("content-type")?.includes("json") ? await r.json() : { detail: await r.text() };
    throw new ApiError(r.status, data.detail);
  }
  const cd = r.headers.get("content-disposition") || "";
  const m = cd.match(/filename\*=UTF-8''([^;]+)/);
  const url = URL.createObjectURL(await r.blob());
  const a = Object.assign(document.createElement("a"), { href: url, download: m ? decodeURIComponent(m[1]) : fallbackName });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${token.get() || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) {
    if (r.status === 401) onUnauthorized();
    throw new ApiError(r.status, data?.detail ?? data);
  }
  return data;
}
