// The only way the page reaches data: the service's JSON API with the user's bearer token.
const KEY = "matching.token";

export class ApiError extends Error {
  constructor(status, detail) {
    super(japaneseError(status, detail));
    this.status = status;
    this.detail = detail;
  }
}

const STATE_JA = {
  proposed: "提案中", contacted: "連絡済み", accepted: "承諾", contracted: "契約済み", declined: "辞退",
  superseded: "再実行で置き換え済み", queued: "待機中", running: "実行中", done: "完了", failed: "失敗", cancelled: "取消",
};
const st = (s) => STATE_JA[s] ?? s;
// The API's English messages (those without a Japanese part), by pattern → the page's Japanese.
const PATTERNS = [
  [/^missing bearer token/, () => "サインインしてください（トークンがありません）。"],
  [/^cannot move a proposal from (\w+) to (\w+)/, (m) => `「${st(m[1])}」の提案は「${st(m[2])}」にできません（画面を更新してください）。`],
  [/^cannot undo a proposal in state (\w+)/, (m) => `「${st(m[1])}」の提案は取り消せません。`],
  [/^the proposal was changed by someone else/, () => "この提案は他の人が変更しました。画面を更新してからやり直してください。"],
  [/^no such (facility|institution|municipality|partnership|proposal|run)/, (m) => `${{ facility: "施設", institution: "医療機関", municipality: "市区町村", partnership: "協定", proposal: "提案", run: "実行" }[m[1]]}が見つかりません（削除されたか、担当区域外です）。`],
  [/^a (run|workbook) of another (area|prefecture)/, (m) => `担当区域外の${m[1] === "run" ? "実行" : "会議資料"}です。`],
  [/^administrators only/, () => "管理者だけが行える操作です。"],
  [/^imports are for prefecture staff/, () => "データの取り込みは都道府県の担当者と管理者が行います。"],
  [/^municipal coordinators read institutions/, () => "市区町村の担当者は医療機関を閲覧できますが、変更はできません（都道府県に依頼してください）。"],
  [/^municipal coordinators run matching/, () => "市区町村の担当者は自分の市区町村だけを対象に実行できます。"],
  [/^facilities or institutions still lie/, () => "この市区町村にはまだ施設または医療機関があるため削除できません。"],
  [/^(facility|institution) (\S+) already exists/, (m) => `${m[1] === "facility" ? "施設" : "医療機関"} ${m[2]} は登録済みです。`],
  [/^institution (\S+) has no spare capacity/, (m) => `医療機関 ${m[1]} の受入枠に空きがありません。`],
  [/^institution (\S+) is a clinic and cannot admit/, (m) => `医療機関 ${m[1]} は診療所のため③入院受入れは担えません（③は病院に限る）。`],
  [/^municipality_code in the body differs/, () => "市区町村コードが一致しません。"],
  [/^unknown facility_id or institution_id/, () => "施設IDまたは医療機関IDが見つかりません。"],
  [/^unknown facility_ids: (.*)/, (m) => `見つからない施設IDがあります：${m[1]}`],
  [/^unknown municipality_code (\S+)/, (m) => `市区町村コード ${m[1]} は登録されていません。`],
  [/^unknown state/, () => "提案の状態の指定が正しくありません。"],
  [/^conflicts with existing data/, () => "同じデータが既に登録されています（他の人が同時に登録した可能性があります）。画面を更新してください。"],
  [/^(\S+) cannot be null/, (m) => `${m[1]} は空にできません。`],
];
const BY_STATUS = {
  400: "要求の形式が正しくありません。", 401: "サインインし直してください（トークンが無効です）。",
  403: "この操作を行う権限がありません（担当区域外です）。", 404: "見つかりません。", 405: "この操作はできません。",
  409: "他の操作と競合したため変更できませんでした。画面を更新してください。", 413: "送信するデータが大きすぎます。",
  415: "送信するデータの形式が正しくありません。", 422: "入力内容に誤りがあります。", 429: "操作が多すぎます。しばらく待ってからやり直してください。",
  500: "サーバーでエラーが発生しました。管理者に連絡してください。", 502: "サーバーに接続できません。", 503: "サーバーが一時的に利用できません。",
};
const JA = /[\u3040-\u30ff\u3400-\u9fff]/;
const FIELD_JA = { person: "相手（氏名・部署）", contact_date: "連絡日", note: "内容", reason: "理由", state: "状態",
  capacity_facilities: "受入枠（施設）", roles: "役割", facility_id: "施設ID", institution_id: "医療機関ID" };

/** The API's error (status, detail) as a Japanese sentence: the Japanese part of the message when it
 * has one, else by pattern, else by status.  Pydantic's validation list names the fields. */
export function japaneseError(status, detail) {
  if (Array.isArray(detail)) {
    const where = (d) => (d.loc ? d.loc.filter((x) => x !== "body" && x !== "query" && x !== "path").join(".")
      : [d.file, d.row != null ? `${d.row}行目` : null, d.column].filter(Boolean).join(" "));
    const fields = [...new Set(detail.map(where).filter(Boolean))].slice(0, 10);
    const msgs = [...new Set(detail.map((d) => d.msg ?? d.message).filter((m) => JA.test(m || "")))].slice(0, 10);
    return `入力内容に誤りがあります${fields.length ? `（${fields.map((f) => FIELD_JA[f] ?? f).join("、")}）` : ""}。${msgs.join(" ")}`.trim();
  }
  if (detail && typeof detail === "object") return japaneseError(status, detail.message ?? detail.detail ?? "");
  const text = String(detail ?? "").trim();
  for (const [re, fn] of PATTERNS) { const m = text.match(re); if (m) return fn(m); }
  if (JA.test(text)) {
    // "english (日本語)" → 日本語; a message that starts in Japanese is kept whole.
    const paren = text.match(/[（(]([^()（）]*[\u3040-\u30ff\u3400-\u9fff][^()（）]*)[)）]\s*$/);
    if (paren && !JA.test(text.slice(0, text.indexOf(paren[0])))) return paren[1];
    return text.replace(/^[\w.]+:\s*(?=[^\x00-\x7f])/, "");  // "parameters.x.y: 日本語" → 日本語
  }
  return BY_STATUS[status] ?? (status >= 500 ? BY_STATUS[500] : `エラーが発生しました（${status}）。`);
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
  if (r.status === 204) return null;  // No Content (a deletion): no body to read
  const data = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) {
    if (r.status === 401) onUnauthorized();
    throw new ApiError(r.status, data?.detail ?? data);
  }
  return data;
}
