// Admin: accounts, device keys (a new key's secret shown once), the audit log with filters and
// paging, and the effective settings (read-only, secrets redacted by the server).
import { errorText, request } from "../api";
import { el, localTime } from "../dom";

interface User { id: number; username: string; email: string; role: string; disabled: boolean; last_login_at: string | null }
interface DeviceKey { id: string; name: string; device: string | null; site: string | null; created_by: string; revoked_at: string | null }
interface AuditRow { id: number; ts: string; kind: string; event: string; actor: string; method: string; route: string; status: number; ip: string; detail: string }


function users(): HTMLElement {
  const body = el("tbody", {});
  const error = el("p", { class: "error", role: "alert" });
  const refresh = async () => {
    const list = await request<{ items: User[] }>("GET", "/api/users");
    body.replaceChildren(...list.items.map((u) => {
      const role = el("select", { "aria-label": `Role of ${u.username}` },
        ...["viewer", "analyst", "operator", "admin"].map((r) => el("option", { value: r }, r)));
      role.value = u.role;
      role.addEventListener("change", () => void request("PATCH", `/api/users/${u.id}`, { role: role.value })
        .then(refresh, (e) => (error.textContent = errorText(e))));
      const toggle = el("button", { type: "button" }, u.disabled ? "Enable" : "Disable");
      toggle.addEventListener("click", () => void request("PATCH", `/api/users/${u.id}`, { disabled: !u.disabled })
        .then(refresh, (e) => (error.textContent = errorText(e))));
      return el("tr", {}, el("td", {}, u.username), el("td", {}, u.email), el("td", {}, role),
        el("td", {}, u.disabled ? "disabled" : "active"), el("td", {}, localTime(u.last_login_at)),
        el("td", {}, toggle));
    }));
  };
  const name = el("input", { id: "new-username", required: "" });
  const password = el("input", { id: "new-password", type: "password", required: "", autocomplete: "new-password" });
  const role = el("select", { id: "new-role" }, ...["viewer", "analyst", "operator", "admin"].map((r) => el("option", { value: r }, r)));
  const form = el("form", { class: "controls", "aria-label": "New user" },
    el("label", { for: "new-username" }, "User name"), name,
    el("label", { for: "new-password" }, "Password"), password,
    el("label", { for: "new-role" }, "Role"), role,
    el("button", { type: "submit" }, "Create user"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    error.textContent = "";
    void request("POST", "/api/users", { username: name.value, password: password.value, role: role.value })
      .then(() => { form.reset(); return refresh(); }, (e) => (error.textContent = errorText(e)));
  });
  void refresh().catch((e) => (error.textContent = errorText(e)));
  return el("section", { "aria-label": "Users" }, el("h2", {}, "Users"), form, error,
    el("table", {}, el("thead", {}, el("tr", {}, ...["User", "Email", "Role", "State", "Last sign-in", ""]
      .map((h) => el("th", { scope: "col" }, h)))), body));
}

function deviceKeys(): HTMLElement {
  const body = el("tbody", {});
  const error = el("p", { class: "error", role: "alert" });
  const shown = el("p", { class: "card secret", role: "status", hidden: "" });
  const refresh = async () => {
    const list = await request<{ items: DeviceKey[] }>("GET", "/api/device-keys");
    body.replaceChildren(...list.items.map((k) => {
      const revoke = el("button", { type: "button" }, "Revoke");
      revoke.addEventListener("click", () => void request("DELETE", `/api/device-keys/${k.id}`)
        .then(refresh, (e) => (error.textContent = errorText(e))));
      return el("tr", {}, el("td", {}, k.id), el("td", {}, k.name), el("td", {}, k.device ?? "any"),
        el("td", {}, k.site ?? "any"), el("td", {}, k.created_by),
        el("td", {}, k.revoked_at ? `revoked ${localTime(k.revoked_at)}` : "active"),
        el("td", {}, k.revoked_at ? null : revoke));
    }));
  };
  const name = el("input", { id: "key-name", required: "" });
  const site = el("input", { id: "key-site" });
  const form = el("form", { class: "controls", "aria-label": "New device key" },
    el("label", { for: "key-name" }, "Name"), name, el("label", { for: "key-site" }, "Site (optional)"), site,
    el("button", { type: "submit" }, "Create key"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const fields: Record<string, string> = { name: name.value };
    if (site.value) fields.site = site.value;
    void request<{ key: string }>("POST", "/api/device-keys", fields).then((k) => {
      shown.replaceChildren("New key — copy it now, it is not shown again: ", el("code", {}, k.key));
      shown.hidden = false;
      form.reset();
      return refresh();
    }, (e) => (error.textContent = errorText(e)));
  });
  void refresh().catch((e) => (error.textContent = errorText(e)));
  return el("section", { "aria-label": "Device keys" }, el("h2", {}, "Device keys"), form, shown, error,
    el("table", {}, el("thead", {}, el("tr", {}, ...["Id", "Name", "Device", "Site", "By", "State", ""]
      .map((h) => el("th", { scope: "col" }, h)))), body));
}

function audit(): HTMLElement {
  const body = el("tbody", {});
  const error = el("p", { class: "error", role: "alert" });
  const user = el("input", { id: "audit-user", placeholder: "user id or name" });
  const kind = el("select", { id: "audit-kind" }, el("option", { value: "" }, "all"),
    el("option", { value: "request" }, "requests"), el("option", { value: "security" }, "security events"));
  const event = el("input", { id: "audit-event", placeholder: "e.g. login_failed" });
  const older = el("button", { type: "button" }, "Older");
  let cursor: string | null = null;
  const load = async (append: boolean) => {
    const q = new URLSearchParams({ limit: "50" });
    if (user.value) q.set("user", user.value);
    if (kind.value) q.set("kind", kind.value);
    if (event.value) q.set("event", event.value);
    if (append && cursor) q.set("cursor", cursor);
    const page = await request<{ items: AuditRow[]; next: string | null }>("GET", "/api/audit?" + q.toString());
    const rows = page.items.map((r) => el("tr", {}, el("td", {}, localTime(r.ts)), el("td", {}, r.kind),
      el("td", {}, r.event), el("td", {}, r.actor), el("td", {}, r.method ? `${r.method} ${r.route}` : ""),
      el("td", {}, r.status ? String(r.status) : ""), el("td", {}, r.ip), el("td", {}, r.detail)));
    if (append) body.append(...rows); else body.replaceChildren(...rows);
    cursor = page.next;
    older.hidden = cursor === null;
  };
  const form = el("form", { class: "controls", "aria-label": "Audit filters" },
    el("label", { for: "audit-user" }, "User"), user, el("label", { for: "audit-kind" }, "Kind"), kind,
    el("label", { for: "audit-event" }, "Event"), event, el("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void load(false).catch((e) => (error.textContent = errorText(e)));
  });
  older.addEventListener("click", () => void load(true).catch((e) => (error.textContent = errorText(e))));
  void load(false).catch((e) => (error.textContent = errorText(e)));
  return el("section", { "aria-label": "Audit log" }, el("h2", {}, "Audit log"), form, error,
    el("table", { class: "audit" }, el("thead", {}, el("tr", {}, ...["Time", "Kind", "Event", "Who", "Call", "Status", "Address", "Detail"]
      .map((h) => el("th", { scope: "col" }, h)))), body), older);
}

function settings(): HTMLElement {
  const body = el("tbody", {});
  void request<{ settings: Record<string, unknown> }>("GET", "/api/settings").then((s) => {
    body.replaceChildren(...Object.entries(s.settings).map(([k, v]) =>
      el("tr", {}, el("td", {}, k), el("td", {}, typeof v === "string" ? v : JSON.stringify(v)))));
  });
  return el("section", { "aria-label": "Settings" }, el("h2", {}, "Settings"),
    el("p", { class: "note" }, "The running server's effective configuration (read-only; secrets are not shown)."),
    el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Setting"), el("th", { scope: "col" }, "Value"))), body));
}

export async function adminPage(root: HTMLElement) {
  root.append(el("h1", {}, "Admin"), users(), deviceKeys(), audit(), settings());
  return () => {};
}
